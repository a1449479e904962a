// SQLite migrations. Append only: never edit a migration once merged; add the next number.
// Each constant is the text of migrations/<name>.sql for the SQLite dialect.

#include <array>

#include "store/sql/migrations.h"

namespace medalliance::store::sql {

const std::string_view kSqliteSchemaVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL  -- epoch millis
);
)sql";

namespace {

// 0001_initial.sql
constexpr std::string_view k0001Initial = R"sql(
-- Every version of every resource, append-only. sequence is the global write order.
CREATE TABLE resources (
  sequence     INTEGER PRIMARY KEY,
  type         TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  version      INTEGER NOT NULL CHECK (version >= 1),
  last_updated INTEGER NOT NULL,           -- epoch millis
  deleted      INTEGER NOT NULL DEFAULT 0, -- 1: delete marker, json is ''
  method       TEXT    NOT NULL,           -- POST, PUT, PATCH, DELETE
  json         TEXT    NOT NULL,
  UNIQUE (type, id, version)
);
CREATE INDEX resources_by_type ON resources (type, sequence);
CREATE INDEX resources_by_last_updated ON resources (last_updated);

-- The current version of each resource that ever existed (delete markers included).
CREATE TABLE current_resources (
  type     TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  version  INTEGER NOT NULL,
  sequence INTEGER NOT NULL REFERENCES resources (sequence),
  deleted  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- Search-index rows of current, non-deleted versions, keyed by (type, id).
CREATE TABLE index_token (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  system TEXT NOT NULL DEFAULT '',
  value  TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_token_value ON index_token (type, param, value, system);
CREATE INDEX index_token_resource ON index_token (type, id, param);

CREATE TABLE index_string (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',  -- normalised (case- and accent-folded) text
  raw   TEXT NOT NULL DEFAULT '',  -- original text
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_string_value ON index_string (type, param, value);
CREATE INDEX index_string_resource ON index_string (type, id, param);

CREATE TABLE index_reference (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',  -- "Type/id" or an absolute URL
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_reference_value ON index_reference (type, param, value);
CREATE INDEX index_reference_resource ON index_reference (type, id, param);

CREATE TABLE index_date (
  type  TEXT    NOT NULL,
  id    TEXT    NOT NULL,
  param TEXT    NOT NULL,
  low   INTEGER NOT NULL,  -- epoch millis, inclusive
  high  INTEGER NOT NULL,  -- epoch millis, exclusive
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_date_value ON index_date (type, param, low, high);
CREATE INDEX index_date_resource ON index_date (type, id, param);

CREATE TABLE index_number (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  number REAL NOT NULL,
  raw    TEXT NOT NULL DEFAULT '',  -- the decimal's text, for precision-aware matching
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_number_value ON index_number (type, param, number);
CREATE INDEX index_number_resource ON index_number (type, id, param);

CREATE TABLE index_quantity (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  number REAL NOT NULL,
  system TEXT NOT NULL DEFAULT '',
  code   TEXT NOT NULL DEFAULT '',  -- unit code (IndexEntry.value)
  raw    TEXT NOT NULL DEFAULT '',  -- unit text
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_quantity_value ON index_quantity (type, param, code, number);
CREATE INDEX index_quantity_resource ON index_quantity (type, id, param);

CREATE TABLE index_uri (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (type, id) REFERENCES current_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX index_uri_value ON index_uri (type, param, value);
CREATE INDEX index_uri_resource ON index_uri (type, id, param);
)sql";

constexpr std::array kMigrations = {
    Migration{1, "0001_initial", k0001Initial},
};

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

}  // namespace medalliance::store::sql
