#pragma once
// The schema as numbered, append-only migrations, one list per SQL dialect (the dialects differ
// in key types and table options, not in tables or columns). A migration that has been merged
// is never edited: schema changes append a new one. doc/storage.md describes the tables.
//
// Each back end applies, at open and in one transaction, the migrations whose number is
// greater than the highest row of `schema_version`, and records each in that table.

#include <span>
#include <string_view>

namespace medalliance::store::sql {

struct Migration {
  int version;            // 1, 2, 3, ... without gaps
  std::string_view name;  // "0001_initial"
  std::string_view sql;   // one or more statements
};

// Creates `schema_version` when missing; run before reading it. Idempotent.
extern const std::string_view kSqliteSchemaVersionTable;

// The SQLite migrations in order.
std::span<const Migration> SqliteMigrations();

}  // namespace medalliance::store::sql
