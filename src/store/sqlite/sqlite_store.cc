#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "store/sql/migrations.h"
#include "store/sql/schema.h"
#include "store/sqlite/connection.h"

namespace medalliance::store {

using internal::SqliteConnection;
using internal::SqliteStatement;

namespace {

constexpr std::string_view kMemoryPath = ":memory:";

// "?n". Built by appending: GCC 12 gives a false -Wrestrict on "?" + std::to_string (PR105651).
template <typename Int>
std::string Question(Int n) {
  std::string text = "?";
  text += std::to_string(n);
  return text;
}

class SqliteDialectImpl final : public Dialect {
 public:
  std::string Placeholder(int n) const override { return Question(n); }
  std::string_view Name() const override { return "sqlite"; }
};

// Columns of kResourceColumns, by position.
enum Column { kSequence, kType, kId, kVersion, kLastUpdated, kDeleted, kMethod, kJson };

StoredResource ReadResourceRow(const SqliteStatement& stmt) {
  StoredResource resource;
  resource.sequence = stmt.ColumnInt(kSequence);
  resource.type = stmt.ColumnText(kType);
  resource.id = stmt.ColumnText(kId);
  resource.version = stmt.ColumnInt(kVersion);
  resource.last_updated = stmt.ColumnInt(kLastUpdated);
  resource.deleted = stmt.ColumnInt(kDeleted) != 0;
  resource.method = stmt.ColumnText(kMethod);
  resource.json = stmt.ColumnText(kJson);
  return resource;
}

std::string ResourceSelect() {
  return "SELECT " + std::string(sql::kResourceColumns) + " FROM resources r";
}

// WHERE clause and parameters shared by History and CountHistory (paging excluded).
struct HistoryFilter {
  std::string where;
  std::vector<SqlValue> params;

  std::string Next(SqlValue value) {
    params.push_back(std::move(value));
    return Question(params.size());
  }
};

core::Result<HistoryFilter> BuildHistoryFilter(const HistoryQuery& query) {
  if (query.id && !query.type) {
    return core::Error::BadRequest("instance history needs a resource type");
  }
  HistoryFilter filter;
  filter.where = " WHERE 1 = 1";
  if (query.type) {
    filter.where += " AND r.type = " + filter.Next(*query.type);
  }
  if (query.id) {
    filter.where += " AND r.id = " + filter.Next(*query.id);
  }
  if (query.since) {
    filter.where += " AND r.last_updated >= " + filter.Next(int64_t{*query.since});
  }
  if (query.at) {
    // The version current at `at` is the last one written with last_updated <= at.
    const std::string at = filter.Next(int64_t{*query.at});
    filter.where += " AND r.deleted = 0 AND r.last_updated <= " + at +
                    " AND r.sequence = (SELECT MAX(h.sequence) FROM resources h"
                    " WHERE h.type = r.type AND h.id = r.id AND h.last_updated <= " +
                    at + ")";
  }
  return filter;
}

// Runs `fn` on a transaction until it succeeds, fails for a reason other than SQLITE_BUSY,
// or uses up `max_attempts`. `begin` opens the transaction.
const std::string kBeginRead = "BEGIN";
const std::string kBeginWrite = "BEGIN IMMEDIATE";

// Runs a statement that returns no rows through the connection's statement cache (BEGIN and
// COMMIT run on every request: parsing them each time showed up in read profiles).
core::Status RunCached(SqliteConnection& connection, const std::string& sql) {
  MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection.Prepare(sql));
  return stmt.Run();
}

// Runs `fn` on a transaction until it succeeds, fails for a reason other than SQLITE_BUSY,
// or uses up `max_attempts`. `begin` opens the transaction.
template <typename Tx, typename Fn>
core::Status RunTransaction(SqliteConnection& connection, const std::string& begin,
                            int max_attempts, const Fn& fn) {
  static const std::string kCommit = "COMMIT";
  core::Status last = core::Ok{};
  for (int attempt = 1;; ++attempt) {
    connection.ClearBusy();
    // Read before the transaction's snapshot exists: every commit the snapshot lacks moves
    // the generation past this (ReadTx::Changes).
    SqliteConnection::ChangeTracking& tracking = connection.Tracking();
    if (tracking.generation != nullptr)
      tracking.at_begin = tracking.generation->load(std::memory_order_acquire);
    last = RunCached(connection, begin);
    if (last.has_value()) {
      Tx tx(connection);
      last = fn(tx);
      if (last.has_value())
        last = tx.FlushBuffered();
      if (last.has_value()) {
        last = RunCached(connection, kCommit);
        if (last.has_value()) {
          return last;
        }
      }
    }
    connection.RollbackQuietly();
    if (!connection.BusySeen() || attempt >= max_attempts) {
      return last;
    }
    // Backoff: 2, 4, 8, ... ms (at most 256) plus jitter, so two processes do not collide
    // in lockstep. SQLite's busy timeout already waited inside the failed step. The jitter
    // source is seeded once per thread, and only when a retry happens.
    thread_local std::minstd_rand jitter(std::random_device{}());
    const int base = 1 << std::min(attempt, 8);
    std::this_thread::sleep_for(std::chrono::milliseconds(base + static_cast<int>(jitter() % 4)));
  }
}

// Read operations over one connection, shared by the read and write transactions.
// CacheStamp values: one per transaction object at its start and one per resource write.
std::atomic<uint64_t> g_cache_stamps{0};

template <typename Base>
class SqliteTxImpl : public Base {
 public:
  explicit SqliteTxImpl(SqliteConnection& connection)
      : connection_(connection), start_stamp_(++g_cache_stamps) {}

  // Through this object, or another write transaction object earlier in the same SQLite
  // transaction (a group commit's items, WriteEach): a rollback undoes those too.
  bool WroteType(std::string_view type) const override {
    return LastWrite(type) != nullptr || connection_.Written().Has(type);
  }

  std::optional<uint64_t> CacheStamp(std::string_view type) const override {
    const uint64_t* last = LastWrite(type);
    return last != nullptr ? *last : start_stamp_;
  }

  core::Result<std::optional<StoredResource>> ReadCurrent(std::string_view type,
                                                          std::string_view id) override {
    static const std::string kSql =
        "SELECT " + std::string(sql::kResourceColumns) +
        " FROM current_resources c JOIN resources r ON r.sequence = c.sequence"
        " WHERE c.type = ?1 AND c.id = ?2";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSql));
    stmt.BindText(1, type);
    stmt.BindText(2, id);
    return ReadOptional(stmt);
  }

  core::Result<std::optional<StoredResource>> ReadVersion(std::string_view type,
                                                          std::string_view id,
                                                          int64_t version) override {
    static const std::string kSql =
        ResourceSelect() + " WHERE r.type = ?1 AND r.id = ?2 AND r.version = ?3";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSql));
    stmt.BindText(1, type);
    stmt.BindText(2, id);
    stmt.BindInt(3, version);
    return ReadOptional(stmt);
  }

  core::Result<std::vector<StoredResource>> History(const HistoryQuery& query) override {
    MA_ASSIGN_OR_RETURN(HistoryFilter filter, BuildHistoryFilter(query));
    if (query.count <= 0) {
      return std::vector<StoredResource>{};
    }
    std::string text = ResourceSelect() + filter.where;
    if (query.before_sequence) {
      text += " AND r.sequence < " + filter.Next(int64_t{*query.before_sequence});
    }
    text += " ORDER BY r.sequence DESC LIMIT " + filter.Next(int64_t{query.count});
    return QueryResources(SqlQuery{std::move(text), std::move(filter.params)});
  }

  core::Result<int64_t> CountHistory(const HistoryQuery& query) override {
    MA_ASSIGN_OR_RETURN(HistoryFilter filter, BuildHistoryFilter(query));
    return QueryCount(
        SqlQuery{"SELECT COUNT(*) FROM resources r" + filter.where, std::move(filter.params)});
  }

  core::Result<std::vector<StoredResource>> QueryResources(const SqlQuery& query) override {
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, PrepareQuery(query));
    if (stmt.ColumnCount() != sql::kResourceColumnCount) {
      return core::Error::Internal("a resource query must select kResourceColumns: " + query.sql);
    }
    std::vector<StoredResource> resources;
    for (;;) {
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) {
        return resources;
      }
      resources.push_back(ReadResourceRow(stmt));
    }
  }

  core::Result<int64_t> QueryCount(const SqlQuery& query) override {
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, PrepareQuery(query));
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row || stmt.ColumnCount() < 1) {
      return core::Error::Internal("a count query returned no value: " + query.sql);
    }
    return stmt.ColumnInt(0);
  }

  core::Result<std::vector<SqlRow>> QueryRows(const SqlQuery& query) override {
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, PrepareQuery(query));
    std::vector<SqlRow> rows;
    for (;;) {
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) {
        return rows;
      }
      SqlRow& out = rows.emplace_back();
      const int columns = stmt.ColumnCount();
      out.reserve(static_cast<size_t>(columns));
      for (int i = 0; i < columns; ++i) out.push_back(stmt.ColumnValue(i));
    }
  }

  const Dialect& GetDialect() const override { return SqliteStore::SqliteDialect(); }

  // Writes what the transaction holds back (a write transaction's index rows); before every
  // SqlQuery and before COMMIT or RELEASE. Nothing for a read transaction.
  virtual core::Status FlushBuffered() { return core::Ok{}; }

  // The store's generation moves when a connection first sees the data version change (a
  // commit by another connection or process) and after every commit of this store's writer.
  // A transaction's stamp is the generation read before its snapshot began; its current value
  // is the generation once this connection's own view is accounted for.
  core::Result<std::optional<ReadTx::ChangeMarks>> Changes() override {
    SqliteConnection::ChangeTracking& tracking = connection_.Tracking();
    if (tracking.generation == nullptr)
      return std::optional<ReadTx::ChangeMarks>();
    MA_ASSIGN_OR_RETURN(const int64_t version, connection_.DataVersion());
    ReadTx::ChangeMarks marks{tracking.at_begin, tracking.at_begin};
    if (version != tracking.data_version) {
      tracking.data_version = version;
      marks.current = tracking.generation->fetch_add(1, std::memory_order_acq_rel) + 1;
    }
    return std::optional<ReadTx::ChangeMarks>(marks);
  }

  core::Result<std::optional<AuditLink>> LastAuditLink() override {
    static const std::string kSql =
        "SELECT position, resource_id, sequence, hash FROM audit_chain"
        " ORDER BY position DESC LIMIT 1";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSql));
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) {
      return std::optional<AuditLink>{};
    }
    return std::optional<AuditLink>(ReadLink(stmt));
  }

  core::Result<std::vector<AuditLink>> AuditLinks(int64_t after_position, int limit) override {
    static const std::string kSql =
        "SELECT position, resource_id, sequence, hash FROM audit_chain"
        " WHERE position > ?1 ORDER BY position LIMIT ?2";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSql));
    stmt.BindInt(1, after_position);
    stmt.BindInt(2, limit);
    std::vector<AuditLink> links;
    for (;;) {
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) {
        return links;
      }
      links.push_back(ReadLink(stmt));
    }
  }

 protected:
  static AuditLink ReadLink(const SqliteStatement& stmt) {
    AuditLink link;
    link.position = stmt.ColumnInt(0);
    link.resource_id = stmt.ColumnText(1);
    link.sequence = stmt.ColumnInt(2);
    link.hash = stmt.ColumnText(3);
    return link;
  }

  SqliteConnection& connection_;
  const uint64_t start_stamp_;
  // The types written through this transaction, with the stamp of the last write of each.
  std::vector<std::pair<std::string, uint64_t>> written_stamps_;

  // The stamp of the last write of `type` through this transaction; null when none.
  const uint64_t* LastWrite(std::string_view type) const {
    for (const auto& [written, stamp] : written_stamps_) {
      if (written == type)
        return &stamp;
    }
    return nullptr;
  }

  void NoteWrite(std::string_view type) {
    connection_.Written().Note(type);
    const uint64_t stamp = ++g_cache_stamps;
    for (auto& [written, last] : written_stamps_) {
      if (written == type) {
        last = stamp;
        return;
      }
    }
    written_stamps_.emplace_back(std::string(type), stamp);
  }

  core::Result<SqliteStatement> PrepareQuery(const SqlQuery& query) {
    MA_RETURN_IF_ERROR(FlushBuffered());  // the query may read or change index rows
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(query.sql));
    for (size_t i = 0; i < query.params.size(); ++i) {
      stmt.Bind(static_cast<int>(i + 1), query.params[i]);
    }
    return stmt;
  }

  core::Result<std::optional<StoredResource>> ReadOptional(SqliteStatement& stmt) {
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) {
      return std::optional<StoredResource>{};
    }
    return std::optional<StoredResource>(ReadResourceRow(stmt));
  }
};

using SqliteReadTx = SqliteTxImpl<ReadTx>;

class SqliteWriteTx final : public SqliteTxImpl<WriteTx> {
 public:
  using SqliteTxImpl<WriteTx>::SqliteTxImpl;

  core::Result<int64_t> Execute(const SqlQuery& statement) override {
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, PrepareQuery(statement));
    MA_RETURN_IF_ERROR(stmt.Run());
    return connection_.Changes();
  }

  core::Status ReplaceIndex(std::string_view type, std::string_view id,
                            const std::vector<IndexEntry>& index) override {
    NoteWrite(type);
    MA_RETURN_IF_ERROR(DeleteIndexRows(type, id));
    return InsertIndexRows(type, id, index);
  }

  core::Status AppendAuditLink(const AuditLink& link) override {
    static const std::string kSql =
        "INSERT INTO audit_chain (position, resource_id, sequence, hash) VALUES (?1, ?2, ?3, ?4)";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSql));
    stmt.BindInt(1, link.position);
    stmt.BindText(2, link.resource_id);
    stmt.BindInt(3, link.sequence);
    stmt.BindText(4, link.hash);
    core::Status status = stmt.Run();
    if (!status.has_value() && stmt.LastErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return core::Error::Conflict("audit chain position " + std::to_string(link.position) +
                                   " is taken");
    }
    return status;
  }

  core::Status PutVersion(StoredResource& resource, const std::vector<IndexEntry>& index) override {
    if (resource.type.empty() || resource.id.empty()) {
      return core::Error::Internal("PutVersion needs a type and an id");
    }
    NoteWrite(resource.type);
    // Version 1 needs no look-up of the current version: every resource that exists has a
    // version 1, which the UNIQUE (type, id, version) of `resources` refuses to store twice.
    int64_t current = 0;
    if (resource.version != 1) {
      MA_ASSIGN_OR_RETURN(current, CurrentVersion(resource.type, resource.id));
    }
    if (resource.version != current + 1) {
      return core::Error::Conflict(resource.type + "/" + resource.id + ": cannot store version " +
                                   std::to_string(resource.version) + ", the current version is " +
                                   std::to_string(current));
    }
    {
      static const std::string kInsert =
          "INSERT INTO resources (type, id, version, last_updated, deleted, method, json)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          connection_.PrepareSlot(kInsertResourceSlot, kInsert));
      stmt.BindText(1, resource.type);
      stmt.BindText(2, resource.id);
      stmt.BindInt(3, resource.version);
      stmt.BindInt(4, resource.last_updated);
      stmt.BindInt(5, resource.deleted ? 1 : 0);
      stmt.BindText(6, resource.method);
      stmt.BindText(7, resource.deleted ? std::string_view() : std::string_view(resource.json));
      core::Status status = stmt.Run();
      if (!status.has_value()) {
        if (stmt.LastErrorCode() == SQLITE_CONSTRAINT_UNIQUE) {
          return core::Error::Conflict(resource.type + "/" + resource.id + " version " +
                                       std::to_string(resource.version) + " already exists");
        }
        return status;
      }
    }
    const int64_t sequence = connection_.LastInsertRowid();
    {
      static const std::string kUpsert =
          "INSERT INTO current_resources (type, id, version, sequence, deleted)"
          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (type, id) DO UPDATE SET"
          " version = excluded.version, sequence = excluded.sequence,"
          " deleted = excluded.deleted";
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          connection_.PrepareSlot(kUpsertCurrentSlot, kUpsert));
      stmt.BindText(1, resource.type);
      stmt.BindText(2, resource.id);
      stmt.BindInt(3, resource.version);
      stmt.BindInt(4, sequence);
      stmt.BindInt(5, resource.deleted ? 1 : 0);
      MA_RETURN_IF_ERROR(stmt.Run());
    }
    if (resource.deleted) {
      MA_RETURN_IF_ERROR(DeleteIndexRows(resource.type, resource.id));
    } else if (current > 0) {
      MA_RETURN_IF_ERROR(UpdateIndexRows(resource.type, resource.id, index));
    } else {
      MA_RETURN_IF_ERROR(InsertIndexRows(resource.type, resource.id, index));
    }
    resource.sequence = sequence;
    return core::Ok{};
  }

 private:
  static constexpr std::array<std::string_view, 7> kIndexTables = {
      sql::kTokenIndexTable, sql::kStringIndexTable, sql::kReferenceIndexTable,
      sql::kDateIndexTable,  sql::kNumberIndexTable, sql::kQuantityIndexTable,
      sql::kUriIndexTable};

  // One statement per index table, `make(kind)` giving its text.
  template <typename Make>
  static std::array<std::string, kIndexTables.size()> PerTable(Make make) {
    std::array<std::string, kIndexTables.size()> statements;
    for (size_t kind = 0; kind < kIndexTables.size(); ++kind) statements[kind] = make(kind);
    return statements;
  }

  core::Result<int64_t> CurrentVersion(std::string_view type, std::string_view id) {
    static const std::string kSql =
        "SELECT version FROM current_resources WHERE type = ?1 AND id = ?2";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.PrepareSlot(kCurrentVersionSlot, kSql));
    stmt.BindText(1, type);
    stmt.BindText(2, id);
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : int64_t{0};
  }

  core::Status DeleteIndexRows(std::string_view type, std::string_view id) {
    static const auto kDeletes = PerTable([](size_t kind) {
      return "DELETE FROM " + std::string(kRowTables[kind]) + " WHERE t = ?1 AND id = ?2";
    });
    MA_RETURN_IF_ERROR(FlushBuffered());  // rows of this resource may be buffered
    MA_ASSIGN_OR_RETURN(SqliteConnection::TypeKeys * keys, TypeKeysOf(type, /*create=*/false));
    if (keys == nullptr)
      return core::Ok{};  // the type has no key, so no rows
    for (size_t i = 0; i < kDeletes.size(); ++i) {
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          connection_.PrepareSlot(kDeleteIndexSlot + i, kDeletes[i]));
      stmt.BindInt(1, keys->t);
      stmt.BindText(2, id);
      MA_RETURN_IF_ERROR(stmt.Run());
    }
    return core::Ok{};
  }

  // The keys of `type` (migration 0008's search_keys), from the connection's cache, else the
  // table; with `create`, a type without a key gets one. Null when it has none (no rows).
  core::Result<SqliteConnection::TypeKeys*> TypeKeysOf(std::string_view type, bool create) {
    SqliteConnection::SearchKeyCache& cache = connection_.SearchKeys();
    if (auto found = cache.find(type); found != cache.end())
      return &found->second;
    MA_ASSIGN_OR_RETURN(std::optional<int64_t> t, StoredKey(type, ""));
    if (!t.has_value()) {
      if (!create)
        return nullptr;
      static const std::string kInsertType =
          "INSERT INTO search_keys (p, t, type, param) SELECT n, n, ?1, '' FROM"
          " (SELECT COALESCE(MAX(p), 0) + 1 AS n FROM search_keys)";
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kInsertType));
      stmt.BindText(1, type);
      MA_RETURN_IF_ERROR(stmt.Run());
      t = connection_.LastInsertRowid();
    }
    SqliteConnection::TypeKeys& keys = cache[std::string(type)];
    keys.t = *t;
    return &keys;
  }

  // The p of (type, param), or nullopt when it has none and `create` is false.
  core::Result<std::optional<int64_t>> ParamKey(SqliteConnection::TypeKeys& keys,
                                                std::string_view type, std::string_view param,
                                                bool create) {
    if (auto found = keys.params.find(param); found != keys.params.end())
      return std::optional<int64_t>(found->second);
    MA_ASSIGN_OR_RETURN(std::optional<int64_t> p, StoredKey(type, param));
    if (!p.has_value()) {
      if (!create)
        return std::optional<int64_t>();
      static const std::string kInsertParam =
          "INSERT INTO search_keys (t, type, param) VALUES (?1, ?2, ?3)";
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kInsertParam));
      stmt.BindInt(1, keys.t);
      stmt.BindText(2, type);
      stmt.BindText(3, param);
      MA_RETURN_IF_ERROR(stmt.Run());
      p = connection_.LastInsertRowid();
    }
    keys.params.emplace(std::string(param), *p);
    return p;
  }

  core::Result<std::optional<int64_t>> StoredKey(std::string_view type, std::string_view param) {
    static const std::string kSelect = "SELECT p FROM search_keys WHERE type = ?1 AND param = ?2";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSelect));
    stmt.BindText(1, type);
    stmt.BindText(2, param);
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    return row ? std::optional<int64_t>(stmt.ColumnInt(0)) : std::optional<int64_t>();
  }

  // The tables the rows are stored in (migration 0008; kIndexTables are views over them).
  static constexpr std::array<std::string_view, 7> kRowTables = {
      "index_token_rows",  "index_string_rows",   "index_reference_rows", "index_date_rows",
      "index_number_rows", "index_quantity_rows", "index_uri_rows"};

  // The columns of each index table after its keys, by IndexKind (the primary key is
  // (id, t, p, <these>)).
  static constexpr std::array<std::string_view, 7> kIndexColumns = {
      "system, value", "value, raw",  "value",
      "low, high",     "number, raw", "number, system, code, raw",
      "value"};
  static constexpr std::array<int, 7> kIndexColumnCount = {5, 5, 4, 5, 5, 7, 4};
  // Buffered rows go in statements of 1, 2, 4, ... kMaxRowsPerInsert rows (kInsertSizes sizes).
  static constexpr size_t kMaxRowsPerInsert = 64;
  static constexpr size_t kInsertSizes = std::bit_width(kMaxRowsPerInsert);
  static_assert(std::has_single_bit(kMaxRowsPerInsert));

  // "INSERT OR IGNORE INTO index_x (...) VALUES (?,...),(?,...)" for `rows` rows of `kind`.
  static const std::string& InsertSql(size_t kind, size_t rows) {
    static const auto kSql = [] {
      std::array<std::array<std::string, kInsertSizes>, 7> sql;
      for (size_t k = 0; k < 7; ++k) {
        std::string row = "(?";
        for (int c = 1; c < kIndexColumnCount[k]; ++c) row += ", ?";
        row += ")";
        for (size_t p = 0; p < kInsertSizes; ++p) {
          std::string text = "INSERT OR IGNORE INTO " + std::string(kRowTables[k]) +
                             " (t, id, p, " + std::string(kIndexColumns[k]) + ") VALUES ";
          for (size_t r = 0; r < (size_t{1} << p); ++r) text += (r == 0 ? "" : ", ") + row;
          sql[k][p] = std::move(text);
        }
      }
      return sql;
    }();
    return kSql[kind][Power(rows)];
  }

  // The smallest p with 2^p >= rows.
  static size_t Power(size_t rows) {
    size_t power = 0;
    while ((size_t{1} << power) < rows) ++power;
    return power;
  }

  // SqliteConnection::PrepareSlot numbers of the statements each write runs.
  static constexpr size_t kInsertResourceSlot = 0;
  static constexpr size_t kUpsertCurrentSlot = 1;
  static constexpr size_t kCurrentVersionSlot = 2;
  static constexpr size_t kDeleteIndexSlot = 3;   // 7 tables
  static constexpr size_t kInsertIndexSlot = 10;  // 7 kinds x kInsertSizes sizes
  static_assert(kInsertIndexSlot + 7 * kInsertSizes <= SqliteConnection::kStatementSlots);

  // Binds the kind columns of a row of `kind` (an IndexEntry or a RowValues), whose
  // (t, id, p) are at `base` + 1..3.
  template <typename Values>
  static void BindIndexColumns(SqliteStatement& stmt, int base, IndexKind kind,
                               const Values& entry) {
    switch (kind) {
      case IndexKind::kToken:
        stmt.BindText(base + 4, entry.system);
        stmt.BindText(base + 5, entry.value);
        break;
      case IndexKind::kString:
        stmt.BindText(base + 4, entry.value);
        stmt.BindText(base + 5, entry.raw);
        break;
      case IndexKind::kReference:
      case IndexKind::kUri:
        stmt.BindText(base + 4, entry.value);
        break;
      case IndexKind::kDate:
        stmt.BindInt(base + 4, entry.low);
        stmt.BindInt(base + 5, entry.high);
        break;
      case IndexKind::kNumber:
        stmt.BindDouble(base + 4, entry.number);
        stmt.BindText(base + 5, entry.raw);
        break;
      case IndexKind::kQuantity:
        stmt.BindDouble(base + 4, entry.number);
        stmt.BindText(base + 5, entry.system);
        stmt.BindText(base + 6, entry.value);
        stmt.BindText(base + 7, entry.raw);
        break;
    }
  }

  // The stored columns of a row of `kind` after (t, id), as one comparable string: its
  // parameter's key `p` and the kind columns.
  static std::string RowKey(size_t kind, int64_t p, const IndexEntry& entry) {
    std::string key(reinterpret_cast<const char*>(&p), sizeof(p));
    auto text = [&key](std::string_view part) {
      key += '\x1f';
      key += part;
    };
    auto bits = [&key](const auto& value) {
      key += '\x1f';
      key.append(reinterpret_cast<const char*>(&value), sizeof(value));
    };
    switch (static_cast<IndexKind>(kind)) {
      case IndexKind::kToken:
        text(entry.system);
        text(entry.value);
        break;
      case IndexKind::kString:
        text(entry.value);
        text(entry.raw);
        break;
      case IndexKind::kReference:
      case IndexKind::kUri:
        text(entry.value);
        break;
      case IndexKind::kDate:
        bits(entry.low);
        bits(entry.high);
        break;
      case IndexKind::kNumber:
        bits(entry.number);
        text(entry.raw);
        break;
      case IndexKind::kQuantity:
        bits(entry.number);
        text(entry.system);
        text(entry.value);
        text(entry.raw);
        break;
    }
    return key;
  }

  // A stored row of `kind` read by "SELECT p, <kIndexColumns[kind]>" (its param left empty).
  static IndexEntry ReadRow(size_t kind, const SqliteStatement& stmt) {
    IndexEntry entry;
    entry.kind = static_cast<IndexKind>(kind);
    switch (entry.kind) {
      case IndexKind::kToken:
        entry.system = stmt.ColumnText(1);
        entry.value = stmt.ColumnText(2);
        break;
      case IndexKind::kString:
        entry.value = stmt.ColumnText(1);
        entry.raw = stmt.ColumnText(2);
        break;
      case IndexKind::kReference:
      case IndexKind::kUri:
        entry.value = stmt.ColumnText(1);
        break;
      case IndexKind::kDate:
        entry.low = stmt.ColumnInt(1);
        entry.high = stmt.ColumnInt(2);
        break;
      case IndexKind::kNumber:
        entry.number = stmt.ColumnDouble(1);
        entry.raw = stmt.ColumnText(2);
        break;
      case IndexKind::kQuantity:
        entry.number = stmt.ColumnDouble(1);
        entry.system = stmt.ColumnText(2);
        entry.value = stmt.ColumnText(3);
        entry.raw = stmt.ColumnText(4);
        break;
    }
    return entry;
  }

  // The rows of a resource that has rows become `index`: the rows in both stay, the others
  // are deleted or inserted. An update usually changes a few rows (a status, a date), so this
  // writes those instead of deleting and re-inserting every row, each in two B-trees
  // (SqliteStoreTest.AnUpdateRewritesOnlyTheIndexRowsThatChanged).
  core::Status UpdateIndexRows(std::string_view type, std::string_view id,
                               const std::vector<IndexEntry>& index) {
    static const auto kSelects = PerTable([](size_t kind) {
      return "SELECT p, " + std::string(kIndexColumns[kind]) + " FROM " +
             std::string(kRowTables[kind]) + " WHERE t = ?1 AND id = ?2";
    });
    // The row's primary key: (id, t, p) and every kind column.
    static const auto kDeletes = PerTable([](size_t kind) {
      std::string text =
          "DELETE FROM " + std::string(kRowTables[kind]) + " WHERE t = ?1 AND id = ?2 AND p = ?3";
      std::string_view columns = kIndexColumns[kind];
      for (int placeholder = 4; !columns.empty(); ++placeholder) {
        const size_t comma = columns.find(", ");
        text +=
            " AND " + std::string(columns.substr(0, comma)) + " = ?" + std::to_string(placeholder);
        columns = comma == std::string_view::npos ? std::string_view() : columns.substr(comma + 2);
      }
      return text;
    });
    MA_RETURN_IF_ERROR(FlushBuffered());  // the stored rows are read below
    // The wanted rows by kind and key; a stored row found here stays (and is taken out), the
    // others are deleted, and what is left here afterwards is inserted.
    MA_ASSIGN_OR_RETURN(SqliteConnection::TypeKeys * keys, TypeKeysOf(type, /*create=*/true));
    std::array<std::unordered_map<std::string, const IndexEntry*>, kIndexTables.size()> wanted;
    for (const IndexEntry& entry : index) {
      auto kind = static_cast<size_t>(entry.kind);
      if (kind >= wanted.size())
        return core::Error::Internal("unknown index kind");
      MA_ASSIGN_OR_RETURN(std::optional<int64_t> p,
                          ParamKey(*keys, type, entry.param, /*create=*/true));
      wanted[kind].emplace(RowKey(kind, *p, entry), &entry);
    }
    for (size_t kind = 0; kind < kIndexTables.size(); ++kind) {
      std::vector<std::pair<int64_t, IndexEntry>> removed;
      {
        MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kSelects[kind]));
        stmt.BindInt(1, keys->t);
        stmt.BindText(2, id);
        while (true) {
          MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
          if (!row)
            break;
          const int64_t p = stmt.ColumnInt(0);
          IndexEntry stored = ReadRow(kind, stmt);
          if (wanted[kind].erase(RowKey(kind, p, stored)) == 0)
            removed.emplace_back(p, std::move(stored));
        }
      }
      for (const auto& [p, entry] : removed) {
        MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection_.Prepare(kDeletes[kind]));
        stmt.BindInt(1, keys->t);
        stmt.BindText(2, id);
        stmt.BindInt(3, p);
        BindIndexColumns(stmt, 0, entry.kind, entry);
        MA_RETURN_IF_ERROR(stmt.Run());
      }
    }
    std::vector<IndexEntry> added;
    for (const auto& rows : wanted) {
      for (const auto& [key, entry] : rows) added.push_back(*entry);
    }
    return InsertIndexRows(type, id, added);
  }

  // ---- Buffered index rows ----------------------------------------------------------------
  //
  // A resource's rows are not inserted when it is written: the transaction keeps them (owned
  // copies, keys resolved) and writes them in FlushBuffered(), per kind, sorted in the order of
  // the table's primary key (id, t, p, <kind columns>), in statements of up to
  // kMaxRowsPerInsert rows: one statement per resource and kind (1-3 rows) paid statement
  // start-up, OpenWrite, a seek from the root and the halt for every few rows (about 18 % of
  // the rows' instructions on an import); in one statement, SQLite appends a row that sorts
  // after the last one without a seek. The rest is SQLite's B-tree work per row. Anything
  // that can read or change index rows on this connection flushes first (DeleteIndexRows,
  // UpdateIndexRows, every SqlQuery through PrepareQuery), and so do RunTransaction and
  // RunBatch before COMMIT or RELEASE. A failed flush fails every later one in this
  // transaction, so the write fn cannot commit with rows missing; the rows of a write fn that
  // fails are dropped with the transaction (this object), like its search keys.

  // Texts of the buffered rows: offset and size in text_.
  struct Span {
    size_t offset = 0;
    size_t size = 0;
  };
  struct BufferedRow {
    Span id;
    int64_t t = 0;
    int64_t p = 0;
    Span system;
    Span value;
    Span raw;
    int64_t low = 0;
    int64_t high = 0;
    double number = 0;
  };
  // A buffered row's kind columns, as BindIndexColumns takes them.
  struct RowValues {
    std::string_view system;
    std::string_view value;
    std::string_view raw;
    int64_t low = 0;
    int64_t high = 0;
    double number = 0;
  };
  // Rows buffered at most; then they are written (bounds the buffer of a long transaction).
  static constexpr size_t kMaxBufferedRows = 16384;

  Span AddText(std::string_view text) {
    if (text.empty())
      return Span{};
    Span span{text_.size(), text.size()};
    text_.append(text);
    return span;
  }
  size_t BufferedRowCount() const {
    size_t count = 0;
    for (const std::vector<BufferedRow>& rows : buffered_) count += rows.size();
    return count;
  }
  std::string_view Text(Span span) const {
    return std::string_view(text_.data() + span.offset, span.size);
  }

  // Buffers a resource's index rows; written by FlushBuffered().
  core::Status InsertIndexRows(std::string_view type, std::string_view id,
                               const std::vector<IndexEntry>& index) {
    if (index.empty())
      return core::Ok{};
    MA_RETURN_IF_ERROR(flush_status_);
    MA_ASSIGN_OR_RETURN(SqliteConnection::TypeKeys * keys, TypeKeysOf(type, /*create=*/true));
    const Span id_span = AddText(id);
    for (const IndexEntry& entry : index) {
      auto kind = static_cast<size_t>(entry.kind);
      if (kind >= kIndexTables.size())
        return core::Error::Internal("unknown index kind");
      MA_ASSIGN_OR_RETURN(std::optional<int64_t> p,
                          ParamKey(*keys, type, entry.param, /*create=*/true));
      BufferedRow row;
      row.id = id_span;
      row.t = keys->t;
      row.p = *p;
      switch (entry.kind) {
        case IndexKind::kToken:
          row.system = AddText(entry.system);
          row.value = AddText(entry.value);
          break;
        case IndexKind::kString:
          row.value = AddText(entry.value);
          row.raw = AddText(entry.raw);
          break;
        case IndexKind::kReference:
        case IndexKind::kUri:
          row.value = AddText(entry.value);
          break;
        case IndexKind::kDate:
          row.low = entry.low;
          row.high = entry.high;
          break;
        case IndexKind::kNumber:
          row.number = entry.number;
          row.raw = AddText(entry.raw);
          break;
        case IndexKind::kQuantity:
          row.number = entry.number;
          row.system = AddText(entry.system);
          row.value = AddText(entry.value);
          row.raw = AddText(entry.raw);
          break;
      }
      buffered_[kind].push_back(row);
    }
    if (BufferedRowCount() >= kMaxBufferedRows)
      return FlushBuffered();
    return core::Ok{};
  }

  static int CompareInt(int64_t a, int64_t b) { return (a > b) - (a < b); }
  // SQLite stores a NaN as NULL (refused by NOT NULL, so ignored); it sorts first here, which
  // keeps the order strict and weak.
  static int CompareReal(double a, double b) {
    const bool a_nan = std::isnan(a);
    const bool b_nan = std::isnan(b);
    if (a_nan || b_nan)
      return static_cast<int>(b_nan) - static_cast<int>(a_nan);
    return (a > b) - (a < b);
  }
  // BINARY collation: memcmp, then the shorter first, as std::string_view::compare.
  int CompareText(Span a, Span b) const {
    const int c = Text(a).compare(Text(b));
    return (c > 0) - (c < 0);
  }

  // Orders two rows of `kind` as the table's primary key: (id, t, p, <kind columns as in
  // migration 0008>).
  int CompareRows(IndexKind kind, const BufferedRow& a, const BufferedRow& b) const {
    // Rows of one resource share their id's text.
    if (a.id.offset != b.id.offset || a.id.size != b.id.size) {
      if (int c = CompareText(a.id, b.id); c != 0)
        return c;
    }
    if (int c = CompareInt(a.t, b.t); c != 0)
      return c;
    if (int c = CompareInt(a.p, b.p); c != 0)
      return c;
    int c = 0;
    switch (kind) {
      case IndexKind::kToken:  // (value, system)
        if (c = CompareText(a.value, b.value); c == 0)
          c = CompareText(a.system, b.system);
        break;
      case IndexKind::kString:  // (value, raw)
        if (c = CompareText(a.value, b.value); c == 0)
          c = CompareText(a.raw, b.raw);
        break;
      case IndexKind::kReference:
      case IndexKind::kUri:
        c = CompareText(a.value, b.value);
        break;
      case IndexKind::kDate:  // (low, high)
        if (c = CompareInt(a.low, b.low); c == 0)
          c = CompareInt(a.high, b.high);
        break;
      case IndexKind::kNumber:  // (number, raw)
        if (c = CompareReal(a.number, b.number); c == 0)
          c = CompareText(a.raw, b.raw);
        break;
      case IndexKind::kQuantity:  // (code, system, number, raw); code is the entry's value
        if (c = CompareText(a.value, b.value); c == 0) {
          if (c = CompareText(a.system, b.system); c == 0) {
            if (c = CompareReal(a.number, b.number); c == 0)
              c = CompareText(a.raw, b.raw);
          }
        }
        break;
    }
    return c;
  }

 public:
  // Writes the buffered rows (see above). Errors: the first failed statement's, and then the
  // same error from every later call in this transaction.
  core::Status FlushBuffered() override {
    MA_RETURN_IF_ERROR(flush_status_);
    if (BufferedRowCount() == 0)
      return core::Ok{};
    flush_status_ = WriteBufferedRows();
    for (std::vector<BufferedRow>& rows : buffered_) rows.clear();
    text_.clear();
    return flush_status_;
  }

 private:
  core::Status WriteBufferedRows() {
    for (size_t kind = 0; kind < kIndexTables.size(); ++kind) {
      std::vector<BufferedRow>& rows = buffered_[kind];
      if (rows.empty())
        continue;
      const auto index_kind = static_cast<IndexKind>(kind);
      auto less = [&](const BufferedRow& a, const BufferedRow& b) {
        return CompareRows(index_kind, a, b) < 0;
      };
      // Server ids increase, so the rows usually come sorted already.
      if (!std::is_sorted(rows.begin(), rows.end(), less))
        std::sort(rows.begin(), rows.end(), less);
      // Identical rows once (INSERT OR IGNORE would skip them too, at the cost of a seek).
      rows.erase(std::unique(rows.begin(), rows.end(),
                             [&](const BufferedRow& a, const BufferedRow& b) {
                               return CompareRows(index_kind, a, b) == 0;
                             }),
                 rows.end());
      const size_t total = rows.size();
      size_t done = 0;
      while (done < total) {
        size_t count = kMaxRowsPerInsert;
        while (count > total - done) count /= 2;
        MA_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            connection_.PrepareSlot(kInsertIndexSlot + kind * kInsertSizes + Power(count),
                                    InsertSql(kind, count)));
        for (size_t r = 0; r < count; ++r) {
          const BufferedRow& row = rows[done + r];
          const int base = static_cast<int>(r) * kIndexColumnCount[kind];
          stmt.BindInt(base + 1, row.t);
          stmt.BindText(base + 2, Text(row.id));
          stmt.BindInt(base + 3, row.p);
          BindIndexColumns(stmt, base, index_kind,
                           RowValues{Text(row.system), Text(row.value), Text(row.raw), row.low,
                                     row.high, row.number});
        }
        MA_RETURN_IF_ERROR(stmt.Run());
        done += count;
      }
    }
    return core::Ok{};
  }

  std::array<std::vector<BufferedRow>, kIndexTables.size()> buffered_;  // by IndexKind
  std::string text_;                                                    // the buffered rows' texts
  core::Status flush_status_ = core::Ok{};
};

core::Status EnsureParentDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) {
    return core::Ok{};
  }
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    return core::Error::Unavailable("cannot create directory " + parent.string() + ": " +
                                    error.message());
  }
  return core::Ok{};
}

// The schema version a database had when opened (0: new) and after its migrations.
struct SchemaVersions {
  int before = 0;
  int after = 0;
};

// Applies pending migrations in one transaction.
core::Result<SchemaVersions> Migrate(SqliteConnection& connection, const core::Clock& clock) {
  const std::span<const sql::Migration> migrations = sql::SqliteMigrations();
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  MA_RETURN_IF_ERROR(connection.Exec("BEGIN IMMEDIATE"));
  auto migrate = [&]() -> core::Result<SchemaVersions> {
    MA_RETURN_IF_ERROR(connection.Exec(sql::kSqliteSchemaVersionTable));
    int current = 0;
    {
      MA_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          connection.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      current = row ? static_cast<int>(stmt.ColumnInt(0)) : 0;
    }
    const int before = current;
    if (current > latest) {
      return core::Error::Internal("database schema version " + std::to_string(current) +
                                   " is newer than this binary's (" + std::to_string(latest) + ")");
    }
    for (const sql::Migration& migration : migrations) {
      if (migration.version <= current) {
        continue;
      }
      MA_RETURN_IF_ERROR(connection.Exec(migration.sql));
      MA_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          connection.Prepare(
              "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)"));
      stmt.BindInt(1, migration.version);
      stmt.BindText(2, migration.name);
      stmt.BindInt(3, clock.Now());
      MA_RETURN_IF_ERROR(stmt.Run());
      current = migration.version;
    }
    return SchemaVersions{before, current};
  };
  core::Result<SchemaVersions> versions = migrate();
  if (!versions.has_value()) {
    connection.RollbackQuietly();
    return versions;
  }
  MA_RETURN_IF_ERROR(connection.Exec("COMMIT"));
  return versions;
}

// The value indexes a bulk load may defer (DeferValueIndexes), from migration 0001.
constexpr std::array<std::string_view, 6> kDeferrableIndexes = {
    "index_token_value",  "index_string_value",   "index_date_value",
    "index_number_value", "index_quantity_value", "index_uri_value"};

// Runs `fn` in BEGIN IMMEDIATE ... COMMIT on `connection`, rolling back on error.
template <typename Fn>
auto InImmediateTransaction(SqliteConnection& connection, Fn fn) -> decltype(fn()) {
  MA_RETURN_IF_ERROR(connection.Exec("BEGIN IMMEDIATE"));
  auto result = fn();
  if (!result.has_value()) {
    connection.RollbackQuietly();
    return result;
  }
  if (core::Status committed = connection.Exec("COMMIT"); !committed.has_value()) {
    connection.RollbackQuietly();
    return committed.error();
  }
  return result;
}

// The value of `PRAGMA name` (an integer setting).
core::Result<int64_t> PragmaValue(SqliteConnection& connection, std::string_view name) {
  MA_ASSIGN_OR_RETURN(SqliteStatement stmt, connection.Prepare("PRAGMA " + std::string(name)));
  MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row)
    return core::Error::Internal("PRAGMA " + std::string(name) + " returned nothing");
  return stmt.ColumnInt(0);
}

core::Result<bool> DeferIndexes(SqliteConnection& connection, int64_t max_resources) {
  return InImmediateTransaction(connection, [&]() -> core::Result<bool> {
    {
      // The highest sequence is the number of versions ever written, read in O(log n).
      MA_ASSIGN_OR_RETURN(SqliteStatement stmt,
                          connection.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM resources"));
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (row && stmt.ColumnInt(0) > max_resources)
        return false;
    }
    bool dropped = false;
    for (std::string_view name : kDeferrableIndexes) {
      std::string sql;
      {
        MA_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            connection.Prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1"));
        stmt.BindText(1, name);
        MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
        if (!row)
          continue;  // already deferred
        sql = std::string(stmt.ColumnText(0));
      }
      {
        MA_ASSIGN_OR_RETURN(
            SqliteStatement stmt,
            connection.Prepare("INSERT INTO deferred_indexes (name, sql) VALUES (?1, ?2)"));
        stmt.BindText(1, name);
        stmt.BindText(2, sql);
        MA_RETURN_IF_ERROR(stmt.Run());
      }
      MA_RETURN_IF_ERROR(connection.Exec("DROP INDEX " + std::string(name)));
      dropped = true;
    }
    return dropped;
  });
}

core::Status RebuildIndexes(SqliteConnection& connection) {
  std::vector<std::pair<std::string, std::string>> pending;
  {
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        connection.Prepare("SELECT name, sql FROM deferred_indexes ORDER BY name"));
    while (true) {
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row)
        break;
      pending.emplace_back(stmt.ColumnText(0), stmt.ColumnText(1));
    }
  }
  if (pending.empty())
    return core::Ok{};
  // The sorter behind CREATE INDEX: with temp_store = MEMORY (the writer's, see Open) it never
  // spills, holding every row of a table in memory at once and allocating each separately;
  // and it sorts runs of up to cache_size bytes before merging them, so a bulk load's 256 MB
  // cache makes one run that sorts slower than runs of a few MB (the six CREATE INDEX of an
  // 87,937-resource import, sqlite3 CLI: 1.18-1.22 s at 256 MB, 0.94-1.06 s at 8 MB). Rebuild
  // with the default temp_store and an 8 MB cache, then restore both.
  MA_ASSIGN_OR_RETURN(const int64_t temp_store, PragmaValue(connection, "temp_store"));
  MA_ASSIGN_OR_RETURN(const int64_t cache_size, PragmaValue(connection, "cache_size"));
  MA_RETURN_IF_ERROR(connection.Exec("PRAGMA temp_store = DEFAULT; PRAGMA cache_size = -8192;"));
  core::Status rebuilt = InImmediateTransaction(connection, [&]() -> core::Status {
    for (const auto& [name, sql] : pending) {
      // Another process may have rebuilt it since the list was read.
      MA_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          connection.Prepare(
              "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1"));
      stmt.BindText(1, name);
      MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (row && stmt.ColumnInt(0) > 0)
        continue;
      MA_RETURN_IF_ERROR(connection.Exec(sql));
    }
    return connection.Exec("DELETE FROM deferred_indexes");
  });
  core::Status restored =
      connection.Exec("PRAGMA temp_store = " + std::to_string(temp_store) +
                      "; PRAGMA cache_size = " + std::to_string(cache_size) + ";");
  return rebuilt.has_value() ? restored : rebuilt;
}

}  // namespace

const Dialect& SqliteStore::SqliteDialect() {
  static const SqliteDialectImpl kDialect;
  return kDialect;
}

core::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  const bool memory = options.path == kMemoryPath;
  if (options.path.empty()) {
    return core::Error::Internal("SqliteOptions.path is empty");
  }
  if (!memory) {
    MA_RETURN_IF_ERROR(EnsureParentDirectory(options.path));
  }
  MA_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> writer,
                      SqliteConnection::Open(options.path, /*create=*/true, options.busy_timeout_ms,
                                             options.cache_size_kib));
  if (!memory) {
    // journal_mode returns the mode in effect; WAL is what makes readers and the writer
    // independent, so refuse to run without it.
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, writer->Prepare("PRAGMA journal_mode = WAL"));
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row || stmt.ColumnText(0) != "wal") {
      return core::Error::Unavailable("cannot switch " + options.path + " to WAL mode");
    }
  }
  const std::string synchronous = options.synchronous == SqliteSync::kFull ? "FULL" : "NORMAL";
  MA_RETURN_IF_ERROR(
      writer->Exec("PRAGMA synchronous = " + synchronous + "; PRAGMA foreign_keys = ON;"));
  if (options.writer_cache_size_kib > options.cache_size_kib) {
    MA_RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size = -" +
                                    std::to_string(options.writer_cache_size_kib) + ";"));
  }
  if (!memory && options.wal_autocheckpoint_pages != 1000) {
    MA_RETURN_IF_ERROR(writer->Exec(
        "PRAGMA wal_autocheckpoint = " + std::to_string(options.wal_autocheckpoint_pages) + ";"));
  }
  const core::Clock& clock = options.clock != nullptr ? *options.clock : core::SystemClock::Get();
  MA_ASSIGN_OR_RETURN(const SchemaVersions schema, Migrate(*writer, clock));
  MA_RETURN_IF_ERROR(RebuildIndexes(*writer));
  // A group commit's savepoints keep each item's undo pages in a sub-journal, which SQLite
  // spills to a temporary file past 64 KiB: one write() per page, as many as the WAL's. Set
  // after the migrations: their CREATE INDEX sorts would then be held in memory whole (see
  // RebuildIndexes).
  MA_RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store = MEMORY;"));
  if (!memory && schema.before > 0 && schema.after != schema.before) {
    // A migration that rewrote tables (0008 copies every index row: about 3 GB of WAL at 1M
    // resources) leaves a WAL as large as what it wrote; SQLite reuses a WAL file but never
    // shrinks it. Copy it back and truncate it now, once.
    MA_RETURN_IF_ERROR(writer->Exec("PRAGMA wal_checkpoint(TRUNCATE);"));
  }

  std::vector<std::unique_ptr<SqliteConnection>> readers;
  if (!memory) {
    const int pool_size = std::max(1, options.reader_pool_size);
    for (int i = 0; i < pool_size; ++i) {
      MA_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> reader,
                          SqliteConnection::Open(options.path, /*create=*/false,
                                                 options.busy_timeout_ms, options.cache_size_kib));
      MA_RETURN_IF_ERROR(reader->Exec("PRAGMA foreign_keys = ON; PRAGMA query_only = ON;"));
      readers.push_back(std::move(reader));
    }
  }
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(options, std::move(writer), std::move(readers), schema.after));
  if (!memory && options.background_checkpoint) {
    MA_ASSIGN_OR_RETURN(store->checkpointer_,
                        SqliteConnection::Open(options.path, /*create=*/false,
                                               options.busy_timeout_ms, options.cache_size_kib));
    MA_RETURN_IF_ERROR(store->checkpointer_->Exec("PRAGMA synchronous = " + synchronous + ";"));
    // Replaces SQLite's autocheckpoint (itself a wal hook) on the writer.
    sqlite3_wal_hook(store->writer_->Handle(), &SqliteStore::OnWalCommit, store.get());
    SqliteStore* self = store.get();
    store->checkpoint_thread_ = std::thread([self] { self->RunCheckpointer(); });
  }
  return store;
}

SqliteStore::SqliteStore(SqliteOptions options, std::unique_ptr<SqliteConnection> writer,
                         std::vector<std::unique_ptr<SqliteConnection>> readers, int schema_version)
    : options_(std::move(options)),
      schema_version_(schema_version),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {
  writer_->Tracking().generation = &generation_;
  for (const std::unique_ptr<SqliteConnection>& reader : readers_)
    reader->Tracking().generation = &generation_;
}

SqliteStore::~SqliteStore() {
  StopCheckpointer();
}

// ---- Background checkpoints -----------------------------------------------------------------
//
// With wal_autocheckpoint, the commit that takes the WAL past the threshold copies it back
// into the database and fsyncs it before it returns: that commit (and the batch queued behind
// it) waits tens of milliseconds. Here the writer's wal hook only wakes a thread, which runs
// a PASSIVE checkpoint on its own connection (it takes no lock a writer or reader needs, and
// copies only frames no reader still uses). SQLite restarts the WAL from its beginning at the
// first write after a checkpoint that copied every frame. Past 2x the threshold the writer
// checkpoints itself, as a bound on the WAL's size when the thread cannot keep up or its
// checkpoints keep finishing just after a new commit (then the WAL cannot restart).

int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char* /*schema*/, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  const int threshold = std::max(1, store->options_.wal_autocheckpoint_pages);
  if (pages >= 2 * threshold) {
    {
      // While the thread checkpoints, the writer's attempt would only meet its lock.
      std::lock_guard lock(store->checkpoint_mutex_);
      if (store->checkpoint_running_)
        return SQLITE_OK;
    }
    // Most frames are usually copied back already: this copies the rest, and the next write
    // restarts the WAL.
    const int rc =
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    std::lock_guard lock(store->checkpoint_mutex_);
    if (rc == SQLITE_OK)
      ++store->writer_checkpoints_;
    return SQLITE_OK;
  }
  if (pages >= threshold) {
    {
      std::lock_guard lock(store->checkpoint_mutex_);
      store->checkpoint_requested_ = true;
    }
    store->checkpoint_wanted_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::RunCheckpointer() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_wanted_.wait(lock,
                              [this] { return checkpoint_requested_ || checkpoint_stopping_; });
      if (checkpoint_stopping_)
        return;
      checkpoint_requested_ = false;
      checkpoint_running_ = true;
    }
    // A failure (an I/O error) leaves the WAL as it is; the next commit asks again.
    const bool done = checkpointer_->Exec("PRAGMA wal_checkpoint(PASSIVE);").has_value();
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_running_ = false;
    if (done)
      ++background_checkpoints_;
  }
}

void SqliteStore::StopCheckpointer() {
  if (!checkpoint_thread_.joinable())
    return;
  {
    std::lock_guard lock(writer_mutex_);
    sqlite3_wal_hook(writer_->Handle(), nullptr, nullptr);
  }
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stopping_ = true;
  }
  checkpoint_wanted_.notify_one();
  checkpoint_thread_.join();
  checkpointer_.reset();
}

SqliteStore::CheckpointStats SqliteStore::GetCheckpointStats() const {
  std::lock_guard lock(checkpoint_mutex_);
  return CheckpointStats{background_checkpoints_, writer_checkpoints_};
}

std::unique_ptr<SqliteConnection> SqliteStore::AcquireReader() {
  std::unique_lock lock(readers_mutex_);
  reader_released_.wait(lock, [this] { return !readers_.empty(); });
  std::unique_ptr<SqliteConnection> reader = std::move(readers_.back());
  readers_.pop_back();
  return reader;
}

void SqliteStore::ReleaseReader(std::unique_ptr<SqliteConnection> reader) {
  {
    std::lock_guard lock(readers_mutex_);
    readers_.push_back(std::move(reader));
  }
  reader_released_.notify_one();
}

core::Status SqliteStore::Read(const std::function<core::Status(ReadTx&)>& fn) {
  const int attempts = std::max(1, options_.max_attempts);
  if (options_.path == kMemoryPath) {
    std::lock_guard lock(writer_mutex_);
    return RunTransaction<SqliteReadTx>(*writer_, kBeginRead, attempts, fn);
  }
  // Returns the reader to the pool even if `fn` throws.
  struct ReaderLease {
    SqliteStore& store;
    std::unique_ptr<SqliteConnection> reader;
    ~ReaderLease() { store.ReleaseReader(std::move(reader)); }
  } lease{*this, AcquireReader()};
  return RunTransaction<SqliteReadTx>(*lease.reader, kBeginRead, attempts, fn);
}

// ---- Group commit ---------------------------------------------------------------------------
//
// Concurrent Write() calls queue; the first to find no leader becomes it, takes everything
// queued (at most kMaxBatch) and runs it as one batch while later calls queue for the next.
// A batch of one is an ordinary transaction (RunTransaction). A larger batch is one BEGIN
// IMMEDIATE ... COMMIT with each call's fn inside its own SAVEPOINT: an fn that fails is
// rolled back to its savepoint and gets its error, the others are unaffected; an fn that met
// SQLITE_BUSY is re-run alone afterwards; when BEGIN or COMMIT fails, or SQLite rolled the
// whole transaction back, every fn of the batch is re-run alone. Nobody is answered before
// the COMMIT that holds its changes has returned (and, with synchronous=FULL, fsynced), so
// durability is unchanged: one fsync acknowledges the whole batch.

struct SqliteStore::PendingWrite {
  const std::function<core::Status(WriteTx&)>* fn = nullptr;
  core::Status result = core::Ok{};
  bool done = false;
};

namespace {

constexpr size_t kMaxBatch = 64;

// Moves the store's generation when it goes out of scope: after a run of writer transactions
// (see RunBatch).
struct GenerationBump {
  std::atomic<int64_t>& generation;
  ~GenerationBump() { generation.fetch_add(1, std::memory_order_acq_rel); }
};

// Runs fn, turning an escaping exception into an error: a leader runs other callers' fns,
// and one that throws must not leave them waiting forever.
core::Status CallWriteFn(const std::function<core::Status(WriteTx&)>& fn, WriteTx& tx) {
  try {
    return fn(tx);
  } catch (const std::exception& error) {
    return core::Error::Internal(std::string("exception in a write transaction: ") + error.what());
  } catch (...) {
    return core::Error::Internal("exception in a write transaction");
  }
}

// CallWriteFn, then the index rows the fn buffered: before its RELEASE or the COMMIT, for a
// fn that shares its SQLite transaction with others (RunTransaction flushes its own).
core::Status RunSharedWriteFn(const std::function<core::Status(WriteTx&)>& fn, SqliteWriteTx& tx) {
  MA_RETURN_IF_ERROR(CallWriteFn(fn, tx));
  return tx.FlushBuffered();
}

}  // namespace

void SqliteStore::RunBatch(std::vector<PendingWrite*>& batch) {
  const int attempts = std::max(1, options_.max_attempts);
  std::lock_guard lock(writer_mutex_);
  // After the batch's commits, before another transaction on the writer (an in-memory
  // store's reads use it, and a connection does not see its own commits as a data version
  // change): caches stamped before the commits no longer match (ReadTx::Changes).
  const GenerationBump bump{generation_};
  if (batch.size() == 1) {
    batch[0]->result =
        RunTransaction<SqliteWriteTx>(*writer_, kBeginWrite, attempts,
                                      [&](WriteTx& tx) { return CallWriteFn(*batch[0]->fn, tx); });
    return;
  }
  static const std::string kSavepoint = "SAVEPOINT batch_item";
  static const std::string kRelease = "RELEASE batch_item";
  static const std::string kRollbackTo = "ROLLBACK TO batch_item";
  static const std::string kCommit = "COMMIT";
  std::vector<PendingWrite*> alone;  // to re-run in a transaction of their own
  writer_->ClearBusy();
  bool whole = RunCached(*writer_, kBeginWrite).has_value();
  for (size_t i = 0; whole && i < batch.size(); ++i) {
    PendingWrite& write = *batch[i];
    if (!RunCached(*writer_, kSavepoint).has_value()) {
      whole = false;
      break;
    }
    writer_->ClearBusy();
    SqliteWriteTx tx(*writer_);
    write.result = RunSharedWriteFn(*write.fn, tx);
    if (write.result.has_value()) {
      whole = RunCached(*writer_, kRelease).has_value();
      continue;
    }
    const bool busy = writer_->BusySeen();
    const bool rolled_back =
        writer_->InTransaction() && RunCached(*writer_, kRollbackTo).has_value();
    writer_->NoteRollback();  // search keys created in the rolled-back item are gone
    if (!rolled_back || !RunCached(*writer_, kRelease).has_value()) {
      whole = false;  // SQLite ended the transaction (I/O error, disk full, ...)
      break;
    }
    if (busy)
      alone.push_back(&write);
  }
  if (whole)
    whole = RunCached(*writer_, kCommit).has_value();
  if (!whole) {
    writer_->RollbackQuietly();
    alone = batch;
  }
  for (PendingWrite* write : alone) {
    write->result = RunTransaction<SqliteWriteTx>(
        *writer_, kBeginWrite, attempts, [&](WriteTx& tx) { return CallWriteFn(*write->fn, tx); });
  }
}

core::Status SqliteStore::Write(const std::function<core::Status(WriteTx&)>& fn) {
  return std::move(WriteEach(std::span(&fn, 1)).front());
}

std::optional<std::vector<core::Status>> SqliteStore::TryWriteAll(
    std::span<const std::function<core::Status(WriteTx&)>> fns) {
  static const std::string kCommit = "COMMIT";
  std::lock_guard lock(writer_mutex_);
  const GenerationBump bump{generation_};  // as in RunBatch
  writer_->ClearBusy();
  bool ok = RunCached(*writer_, kBeginWrite).has_value();
  for (size_t i = 0; ok && i < fns.size(); ++i) {
    SqliteWriteTx tx(*writer_);
    ok = RunSharedWriteFn(fns[i], tx).has_value();
  }
  if (ok)
    ok = RunCached(*writer_, kCommit).has_value();
  if (!ok) {
    writer_->RollbackQuietly();  // the rollback hook empties the search-key cache
    return std::nullopt;
  }
  std::lock_guard queue_lock(queue_mutex_);
  batches_ += 1;
  batched_writes_ += static_cast<int64_t>(fns.size());
  return std::vector<core::Status>(fns.size(), core::Status(core::Ok{}));
}

std::vector<core::Status> SqliteStore::WriteEach(
    std::span<const std::function<core::Status(WriteTx&)>> fns) {
  if (fns.size() > 1) {
    // The importer's case, where every write usually succeeds: one transaction without a
    // savepoint per fn (each costs a copy of every page it changes); when one fails, all are
    // rolled back and run again through the group commit below, each in its own savepoint.
    if (std::optional<std::vector<core::Status>> all = TryWriteAll(fns))
      return std::move(*all);
  }
  std::vector<PendingWrite> writes(fns.size());
  for (size_t i = 0; i < fns.size(); ++i) writes[i].fn = &fns[i];
  std::unique_lock lock(queue_mutex_);
  for (PendingWrite& write : writes) queue_.push_back(&write);
  // Batches run one at a time, in queue order, so the last write done means all are.
  while (!writes.empty() && !writes.back().done) {
    if (leading_) {
      batch_done_.wait(lock);
      continue;
    }
    // Lead a batch: everything queued so far (these writes among it, or a batch of others'
    // queued before them; then the loop leads again or waits).
    leading_ = true;
    std::vector<PendingWrite*> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    for (PendingWrite* done : batch) done->done = true;
    leading_ = false;
    batches_ += 1;
    batched_writes_ += static_cast<int64_t>(batch.size());
    batch_done_.notify_all();
  }
  lock.unlock();
  std::vector<core::Status> statuses;
  statuses.reserve(writes.size());
  for (PendingWrite& write : writes) statuses.push_back(std::move(write.result));
  return statuses;
}

SqliteStore::BatchStats SqliteStore::GetBatchStats() const {
  std::lock_guard lock(queue_mutex_);
  return BatchStats{batches_, batched_writes_, static_cast<int64_t>(queue_.size())};
}

core::Result<bool> SqliteStore::DeferValueIndexes(int64_t max_resources) {
  std::lock_guard lock(writer_mutex_);
  return DeferIndexes(*writer_, max_resources);
}

core::Status SqliteStore::RebuildDeferredIndexes() {
  std::lock_guard lock(writer_mutex_);
  return RebuildIndexes(*writer_);
}

}  // namespace medalliance::store
