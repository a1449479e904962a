#pragma once
// Internal to store/sqlite: a thin RAII layer over one sqlite3 connection and its statements.
// Not for use outside src/store/sqlite/.
//
// Thread-safety: a connection is used by one thread at a time (SqliteStore guarantees it).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sqlite3.h>

#include "core/result.h"
#include "store/store.h"

namespace medalliance::store::internal {

class SqliteConnection;

// A prepared statement in use. Resets it and clears its bindings when destroyed (returning it
// to the connection's cache), or finalizes it when it is not cached. Move-only.
class SqliteStatement {
 public:
  SqliteStatement(SqliteConnection* connection, sqlite3_stmt* stmt, bool owned)
      : connection_(connection), stmt_(stmt), owned_(owned) {}
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Binders take 1-based indexes. Text is bound without copying: it must outlive the steps.
  void BindText(int index, std::string_view text);
  void BindInt(int index, int64_t value);
  void BindDouble(int index, double value);
  void BindNull(int index);
  void Bind(int index, const SqlValue& value);

  // Steps once: true when a row is ready, false when done. Errors as SqliteConnection::Check.
  core::Result<bool> Step();
  // Steps a statement that returns no rows.
  core::Status Run();

  int ColumnCount() const;
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;
  // The column as the SqlValue of its storage class (blobs as text).
  SqlValue ColumnValue(int column) const;
  // The extended result code of the last failed Step (SQLITE_OK when none).
  int LastErrorCode() const { return last_error_; }

 private:
  SqliteConnection* connection_;
  sqlite3_stmt* stmt_;
  bool owned_;
  int bind_error_ = SQLITE_OK;
  int last_error_ = SQLITE_OK;
};

class SqliteConnection {
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

 public:
  // Opens `filename` (a path or ":memory:"); `create` allows creating the file.
  // Sets the busy timeout and cache size; the caller sets the remaining pragmas.
  static core::Result<std::unique_ptr<SqliteConnection>> Open(const std::string& filename,
                                                              bool create, int busy_timeout_ms,
                                                              int cache_size_kib);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs one or more statements without results (rows, if any, are ignored).
  core::Status Exec(std::string_view sql);
  // A cached prepared statement for `sql` (prepared on first use).
  core::Result<SqliteStatement> Prepare(std::string_view sql);
  // The same for a statement of the write path that runs for every row or resource, found by
  // a number the caller gives it instead of by its text (hashing the text was 1 % of the
  // import's writing thread). `slot` < kStatementSlots, always with the same `sql`.
  static constexpr size_t kStatementSlots = 64;
  core::Result<SqliteStatement> PrepareSlot(size_t slot, std::string_view sql);

  // The raw handle, for connection-level hooks (sqlite3_wal_hook); statements go through
  // Prepare/Exec.
  sqlite3* Handle() const { return db_; }

  int64_t LastInsertRowid() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  bool InTransaction() const;
  // Rolls back an open transaction, ignoring errors (the connection is then in autocommit).
  void RollbackQuietly();

  // An Error for result code `rc`: kUnavailable for BUSY/LOCKED and I/O or disk-full
  // failures, kInternal otherwise. Records a BUSY/LOCKED in the busy flag.
  core::Error MakeError(int rc, std::string_view context);
  bool BusySeen() const { return busy_seen_; }
  void ClearBusy() { busy_seen_ = false; }

  // Change tracking (ReadTx::Changes): the owning store's commit generation, shared by its
  // connections (null: not tracked); the generation read before this connection's current
  // transaction began; the database's data version this connection saw last.
  struct ChangeTracking {
    std::atomic<int64_t>* generation = nullptr;
    int64_t at_begin = 0;
    int64_t data_version = -1;
  };
  ChangeTracking& Tracking() { return tracking_; }
  // The main database's data version as the open read transaction sees it: it changes with
  // every commit by any connection or process (SQLITE_FCNTL_DATA_VERSION; a PRAGMA
  // data_version first when no read transaction is open yet, which opens it).
  core::Result<int64_t> DataVersion();

  // The search keys of migration 0008 (search_keys: a type's `t`, a (type, param)'s `p`) the
  // writer has looked up or created, kept across transactions. Every rollback empties it, so
  // that it never holds a key whose row was rolled back: a full one (SQLite's rollback hook,
  // automatic rollbacks included) and a ROLLBACK TO, which the caller reports with
  // NoteRollback. Keys are never changed or deleted once committed.
  struct TypeKeys {
    int64_t t = 0;
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> params;  // -> p
  };
  using SearchKeyCache = std::unordered_map<std::string, TypeKeys, StringHash, std::equal_to<>>;
  SearchKeyCache& SearchKeys() { return search_keys_; }
  void NoteRollback() { search_keys_.clear(); }

  // The resource types written in the SQLite transaction now open, by any of the write
  // transaction objects that ran in it (a group commit or WriteEach runs several):
  // ReadTx::WroteType must see them all, as a rollback of the whole transaction undoes them
  // all. Emptied when the transaction ends (SQLite's commit and rollback hooks); a ROLLBACK TO
  // keeps them, which errs on the safe side.
  struct WrittenTypes {
    void Note(std::string_view type) {
      if (!Has(type))
        types.emplace_back(type);
    }
    bool Has(std::string_view type) const {
      return std::find(types.begin(), types.end(), type) != types.end();
    }
    std::vector<std::string> types;
  };
  WrittenTypes& Written() { return written_; }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  static constexpr size_t kMaxCachedStatements = 256;

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, StringHash, std::equal_to<>> statements_;
  std::array<sqlite3_stmt*, kStatementSlots> slots_{};  // owned by statements_
  bool busy_seen_ = false;
  ChangeTracking tracking_;
  SearchKeyCache search_keys_;
  WrittenTypes written_;
};

}  // namespace medalliance::store::internal
