#pragma once
// The storage interface. Two back ends implement it (SQLite now, PostgreSQL later) over one
// schema; callers never learn which one they talk to.
//
// Work happens inside Store::Read / Store::Write, whose function receives a transaction of a
// type that says what it may do. Write() commits atomically and durably before it returns
// success, and may re-run `fn` when the database reports a transient conflict (SQLite busy,
// PostgreSQL serialization failure): `fn` must therefore have no effects outside the
// transaction (no HTTP calls, no notifications; collect those and act after commit).
//
// Thread-safety: a Store is shared by all request threads; transactions are not.
// Errors: kUnavailable (database unreachable or busy past the retry budget), kConflict (a
// version that already exists: a concurrent writer won), kInternal (anything else).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace medalliance::store {

// One stored version of a resource, or a delete marker.
struct StoredResource {
  std::string type;
  std::string id;
  int64_t version = 0;                 // meta.versionId, 1-based, per resource
  core::EpochMillis last_updated = 0;  // meta.lastUpdated
  bool deleted = false;                // a delete marker: json is empty
  std::string method;    // "POST", "PUT", "PATCH" or "DELETE": the history entry's request
  std::string json;      // the exact bytes served on read (id and meta included)
  int64_t sequence = 0;  // global write order, assigned by the store; history sorts by it
};

// A search-index row of the current version of a resource. Which columns are used depends on
// `kind`; search/ decides what goes in, the store only keeps and queries the rows.
enum class IndexKind : uint8_t {
  kToken,      // system, code (value)
  kString,     // value: normalised (folded) text; raw: original
  kReference,  // value: "Type/id" or an absolute URL
  kDate,       // low, high: epoch millis [low, high)
  kNumber,     // number (double) ; raw keeps the text
  kQuantity,   // number, system, code (unit code), raw: unit text
  kUri,        // value
};

struct IndexEntry {
  std::string param;  // search parameter code, e.g. "identifier"
  IndexKind kind = IndexKind::kToken;
  std::string system;
  std::string value;
  std::string raw;
  int64_t low = 0;
  int64_t high = 0;
  double number = 0;
};

// History listing: newest first (sequence descending).
struct HistoryQuery {
  std::optional<std::string> type;         // absent: whole system
  std::optional<std::string> id;           // instance history; requires type
  std::optional<core::EpochMillis> since;  // versions with last_updated >= since
  std::optional<core::EpochMillis> at;     // only the version of each resource current at `at`
  std::optional<int64_t> before_sequence;  // paging cursor: only sequence < this
  int count = 50;
};

// One link of the audit hash chain (migration 0003, table audit_chain): the AuditEvent
// version stored at `sequence` and hash = SHA-256(previous link's hash || its exact JSON
// bytes), hex. Positions start at 1 and have no gaps. audit/ computes and checks the hashes.
struct AuditLink {
  int64_t position = 0;
  std::string resource_id;  // AuditEvent id
  int64_t sequence = 0;     // resources.sequence of the chained version
  std::string hash;         // 64 hex digits
};

// A value bound to a statement parameter.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// A query written against the shared schema (store/sql/schema.md) by search/ with the
// dialect's help. It must select the columns of `resources` listed in kResourceColumns.
struct SqlQuery {
  std::string sql;
  std::vector<SqlValue> params;
};

// One row of a plain query (QueryRows): the selected columns in order; NULL is monostate.
using SqlRow = std::vector<SqlValue>;

// Small differences between SQL back ends that query writers need.
class Dialect {
 public:
  virtual ~Dialect() = default;
  // Placeholder for the n-th (1-based) parameter: "?1" / "$1".
  virtual std::string Placeholder(int n) const = 0;
  virtual std::string_view Name() const = 0;
};

class ReadTx {
 public:
  virtual ~ReadTx() = default;
  // The current version (a delete marker when the resource was deleted), or nullopt when the
  // resource never existed.
  virtual core::Result<std::optional<StoredResource>> ReadCurrent(std::string_view type,
                                                                  std::string_view id) = 0;
  virtual core::Result<std::optional<StoredResource>> ReadVersion(std::string_view type,
                                                                  std::string_view id,
                                                                  int64_t version) = 0;
  virtual core::Result<std::vector<StoredResource>> History(const HistoryQuery& query) = 0;
  virtual core::Result<int64_t> CountHistory(const HistoryQuery& query) = 0;
  // Runs a resource query (see SqlQuery); returns current, non-deleted resources.
  virtual core::Result<std::vector<StoredResource>> QueryResources(const SqlQuery& query) = 0;
  // Runs a query returning one integer (COUNT(*)).
  virtual core::Result<int64_t> QueryCount(const SqlQuery& query) = 0;
  // Runs a query over the non-resource tables of a module (e.g. auth_clients, see
  // store/sql/schema.md) and returns its rows.
  virtual core::Result<std::vector<SqlRow>> QueryRows(const SqlQuery& query) = 0;
  virtual const Dialect& GetDialect() const = 0;
  // A key for caching what was read through this transaction about resources of `type` (a
  // hook's rules, read once per transaction instead of once per write): two calls on one
  // transaction return the same value only when no resource of `type` was written through it
  // in between. A value is never handed out twice in a process, so a key taken in another
  // transaction (or before a rollback) never matches. nullopt when the back end does not
  // track writes: the caller reads again. Thread-safety: as the transaction's.
  virtual std::optional<uint64_t> CacheStamp(std::string_view /*type*/) const {
    return std::nullopt;
  }
  // Whether a resource of `type` was written through this transaction. What it read of that
  // type is then not committed and may be rolled back (and a rolled-back version's
  // resources.sequence is given to the next write), so caches kept across transactions must
  // not keep it. True when the back end does not track writes.
  virtual bool WroteType(std::string_view /*type*/) const { return true; }
  // For caches of stored data kept across transactions (e.g. access/'s owner of a patient's
  // record): remember what this transaction read under `stamp`; an entry remembered under a
  // stamp equal to `current` still holds what the store holds for this transaction (no commit,
  // by this process or another, since it was read). nullopt when the back end cannot tell
  // (callers then re-read).
  struct ChangeMarks {
    int64_t stamp = 0;
    int64_t current = 0;
  };
  virtual core::Result<std::optional<ChangeMarks>> Changes() {
    return std::optional<ChangeMarks>();
  }
  // The audit chain, in position order: the last link (nullopt when empty), and up to
  // `limit` links after `after_position`. kNotImplemented by back ends without the table.
  virtual core::Result<std::optional<AuditLink>> LastAuditLink() {
    return core::Error::NotImplemented("no audit chain in this store");
  }
  virtual core::Result<std::vector<AuditLink>> AuditLinks(int64_t /*after_position*/,
                                                          int /*limit*/) {
    return core::Error::NotImplemented("no audit chain in this store");
  }
};

class WriteTx : public ReadTx {
 public:
  // Appends a version. `resource.version` must be one more than the current version (1 for a
  // new resource), else kConflict. The version becomes current; `index` replaces the index
  // rows of the resource (ignored for a delete marker, whose rows are removed).
  // Sets resource.sequence.
  virtual core::Status PutVersion(StoredResource& resource,
                                  const std::vector<IndexEntry>& index) = 0;
  // Replaces the index rows of the current version of (type, id) without a new version: for
  // reindexing after the search parameters or their extraction changed.
  virtual core::Status ReplaceIndex(std::string_view type, std::string_view id,
                                    const std::vector<IndexEntry>& index) = 0;
  // Appends a link to the audit chain; kConflict when the position is taken.
  virtual core::Status AppendAuditLink(const AuditLink& /*link*/) {
    return core::Error::NotImplemented("no audit chain in this store");
  }
  // Runs one INSERT/UPDATE/DELETE over a module's own tables (never the resource or index
  // tables, which only PutVersion/ReplaceIndex change); returns the number of rows changed.
  virtual core::Result<int64_t> Execute(const SqlQuery& statement) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual core::Status Read(const std::function<core::Status(ReadTx&)>& fn) = 0;
  virtual core::Status Write(const std::function<core::Status(WriteTx&)>& fn) = 0;
  // Runs each fn in order, each as Write() would: one that fails is rolled back alone and
  // gets its error; the others are unaffected. A store may commit them together (SQLite: one
  // transaction with a savepoint per fn, one fsync), so each status is final, and each
  // success durable, only when this returns. For bulk loads.
  virtual std::vector<core::Status> WriteEach(
      std::span<const std::function<core::Status(WriteTx&)>> fns) {
    std::vector<core::Status> statuses;
    statuses.reserve(fns.size());
    for (const auto& fn : fns) statuses.push_back(Write(fn));
    return statuses;
  }
  // Schema version after migrations, for /healthz and logs.
  virtual int SchemaVersion() const = 0;
};

}  // namespace medalliance::store
