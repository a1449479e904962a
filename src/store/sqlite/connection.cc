#include "store/sqlite/connection.h"

#include <limits>
#include <string>
#include <utility>
#include <variant>

namespace medalliance::store::internal {

// --- SqliteStatement ---

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) {
    return;
  }
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : connection_(other.connection_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      owned_(other.owned_),
      bind_error_(other.bind_error_),
      last_error_(other.last_error_) {}

namespace {

int ToLength(std::string_view text) {
  // MAX_LENGTH is 1e9 in Debian's build; longer text fails to bind with SQLITE_TOOBIG.
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return -2;
  }
  return static_cast<int>(text.size());
}

}  // namespace

void SqliteStatement::BindText(int index, std::string_view text) {
  const int length = ToLength(text);
  const int rc = length < 0
                     ? SQLITE_TOOBIG
                     // A null pointer would bind NULL; empty text stays text.
                     : sqlite3_bind_text(stmt_, index, text.data() != nullptr ? text.data() : "",
                                         length, SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) {
    bind_error_ = rc;
  }
}

void SqliteStatement::BindInt(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) {
    bind_error_ = rc;
  }
}

void SqliteStatement::BindDouble(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) {
    bind_error_ = rc;
  }
}

void SqliteStatement::BindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) {
    bind_error_ = rc;
  }
}

void SqliteStatement::Bind(int index, const SqlValue& value) {
  if (std::holds_alternative<std::monostate>(value)) {
    BindNull(index);
  } else if (const auto* integer = std::get_if<int64_t>(&value)) {
    BindInt(index, *integer);
  } else if (const auto* real = std::get_if<double>(&value)) {
    BindDouble(index, *real);
  } else {
    BindText(index, std::get<std::string>(value));
  }
}

core::Result<bool> SqliteStatement::Step() {
  if (bind_error_ != SQLITE_OK) {
    last_error_ = bind_error_;
    return connection_->MakeError(bind_error_, "binding a parameter");
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  last_error_ = rc;
  return connection_->MakeError(rc, sqlite3_sql(stmt_));
}

core::Status SqliteStatement::Run() {
  for (;;) {
    MA_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) {
      return core::Ok{};
    }
  }
}

int SqliteStatement::ColumnCount() const {
  return sqlite3_column_count(stmt_);
}
int64_t SqliteStatement::ColumnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}
double SqliteStatement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}
std::string SqliteStatement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) {
    return {};
  }
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
SqlValue SqliteStatement::ColumnValue(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_NULL:
      return std::monostate{};
    case SQLITE_INTEGER:
      return ColumnInt(column);
    case SQLITE_FLOAT:
      return ColumnDouble(column);
    default:
      return ColumnText(column);
  }
}

// --- SqliteConnection ---

core::Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& filename,
                                                                       bool create,
                                                                       int busy_timeout_ms,
                                                                       int cache_size_kib) {
  // Once per process, before SQLite initialises: no memory statistics. Keeping them takes a
  // process-wide mutex on every allocation (1-2 % of the import's writer thread in perf).
  static const bool kConfigured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if SQLite already started: fine
    return true;
  }();
  (void)kConfigured;
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(filename.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database " + filename + ": " +
                          (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return core::Error::Unavailable(std::move(message));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
  sqlite3_rollback_hook(
      db,
      [](void* self) {
        auto* owner = static_cast<SqliteConnection*>(self);
        owner->NoteRollback();
        owner->written_.types.clear();
      },
      connection.get());
  sqlite3_commit_hook(
      db,
      [](void* self) {
        static_cast<SqliteConnection*>(self)->written_.types.clear();
        return 0;  // go on with the commit
      },
      connection.get());
  MA_RETURN_IF_ERROR(
      connection->Exec("PRAGMA cache_size = -" + std::to_string(cache_size_kib) + ";"));
  return connection;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db_);
}

core::Status SqliteConnection::Exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    core::Error error = MakeError(rc, text.substr(0, 60));
    error.MutableIssues().front().diagnostics += " (" + detail + ")";
    return error;
  }
  return core::Ok{};
}

core::Result<SqliteStatement> SqliteConnection::Prepare(std::string_view sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) {
    return SqliteStatement(this, it->second, /*owned=*/false);
  }
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return core::Error::Internal("SQL text too long");
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return MakeError(rc, sql);
  }
  if (stmt == nullptr) {
    return core::Error::Internal("empty SQL statement");
  }
  if (statements_.size() >= kMaxCachedStatements) {
    return SqliteStatement(this, stmt, /*owned=*/true);
  }
  statements_.emplace(std::string(sql), stmt);
  return SqliteStatement(this, stmt, /*owned=*/false);
}

core::Result<SqliteStatement> SqliteConnection::PrepareSlot(size_t slot, std::string_view sql) {
  if (slot >= slots_.size())
    return core::Error::Internal("statement slot out of range");
  if (slots_[slot] != nullptr)
    return SqliteStatement(this, slots_[slot], /*owned=*/false);
  MA_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(sql));
  if (auto it = statements_.find(sql); it != statements_.end())
    slots_[slot] = it->second;
  return stmt;
}

core::Result<int64_t> SqliteConnection::DataVersion() {
  // Null names the main database without a name lookup (the connections attach nothing).
  if (sqlite3_txn_state(db_, nullptr) == SQLITE_TXN_NONE) {
    static const std::string kOpen = "PRAGMA data_version";
    MA_ASSIGN_OR_RETURN(SqliteStatement stmt, Prepare(kOpen));
    MA_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    (void)row;
  }
  unsigned int version = 0;
  const int rc = sqlite3_file_control(db_, nullptr, SQLITE_FCNTL_DATA_VERSION, &version);
  if (rc != SQLITE_OK)
    return MakeError(rc, "data version");
  return static_cast<int64_t>(version);
}

int64_t SqliteConnection::LastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t SqliteConnection::Changes() const {
  return sqlite3_changes64(db_);
}

bool SqliteConnection::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

void SqliteConnection::RollbackQuietly() {
  if (InTransaction()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

core::Error SqliteConnection::MakeError(int rc, std::string_view context) {
  const int primary = rc & 0xff;
  std::string message = "sqlite: ";
  message += sqlite3_errstr(rc);
  if (rc == SQLITE_TOOBIG || (primary != SQLITE_MISUSE && primary != SQLITE_RANGE)) {
    const char* detail = sqlite3_errmsg(db_);
    if (detail != nullptr && std::string_view(detail) != sqlite3_errstr(rc)) {
      message += ": ";
      message += detail;
    }
  }
  if (!context.empty()) {
    message += " [";
    message += context;
    message += "]";
  }
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      busy_seen_ = true;
      return core::Error::Unavailable(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return core::Error::Unavailable(std::move(message));
    default:
      return core::Error::Internal(std::move(message));
  }
}

}  // namespace medalliance::store::internal
