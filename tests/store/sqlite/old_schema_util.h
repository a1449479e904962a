#pragma once
// A database as a binary of an older schema left it, for migration tests.

#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sql/migrations.h"

namespace medalliance::store::testing {

// Runs `sql` on `db`, failing the test on an error.
inline void ExecOrFail(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "") << " in: " << sql.substr(0, 200);
  sqlite3_free(message);
}

// Creates the database at `path` at schema `version`: the migrations up to it, run as
// SqliteStore::Open runs them (Open would run them all). The caller closes the handle.
inline sqlite3* CreateDatabaseAt(const std::string& path, int version) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ExecOrFail(db, "PRAGMA journal_mode = WAL");
  ExecOrFail(db, "BEGIN");
  ExecOrFail(db, std::string(sql::kSqliteSchemaVersionTable));
  for (const sql::Migration& migration : sql::SqliteMigrations()) {
    if (migration.version > version)
      break;
    ExecOrFail(db, std::string(migration.sql));
    ExecOrFail(db, "INSERT INTO schema_version (version, name, applied_at) VALUES (" +
                       std::to_string(migration.version) + ", '" + std::string(migration.name) +
                       "', 0)");
  }
  ExecOrFail(db, "COMMIT");
  return db;
}

}  // namespace medalliance::store::testing
