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

-- Search-index rows of current, non-deleted versions. Each table is clustered by the owning
-- resource (type, id) first: replacing a resource's rows touches one range, and with
-- time-ordered ids new resources append at the end. The one secondary index serves lookups
-- by value and covers the id. No foreign keys: the store replaces the rows itself, and the
-- per-row key check cost more than the insert (bench/profile.sh import). Duplicate rows of
-- one resource (the same code twice) are kept once: INSERT OR IGNORE.
CREATE TABLE index_token (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  system TEXT NOT NULL DEFAULT '',
  value  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (type, id, param, value, system)
) WITHOUT ROWID;
CREATE INDEX index_token_value ON index_token (type, param, value, system);

CREATE TABLE index_string (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',  -- normalised (case- and accent-folded) text
  raw   TEXT NOT NULL DEFAULT '',  -- original text
  PRIMARY KEY (type, id, param, value, raw)
) WITHOUT ROWID;
CREATE INDEX index_string_value ON index_string (type, param, value);

CREATE TABLE index_reference (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',  -- "Type/id" or an absolute URL
  PRIMARY KEY (type, id, param, value)
) WITHOUT ROWID;
CREATE INDEX index_reference_value ON index_reference (type, param, value);

CREATE TABLE index_date (
  type  TEXT    NOT NULL,
  id    TEXT    NOT NULL,
  param TEXT    NOT NULL,
  low   INTEGER NOT NULL,  -- epoch millis, inclusive
  high  INTEGER NOT NULL,  -- epoch millis, exclusive
  PRIMARY KEY (type, id, param, low, high)
) WITHOUT ROWID;
CREATE INDEX index_date_value ON index_date (type, param, low, high);

CREATE TABLE index_number (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  number REAL NOT NULL,
  raw    TEXT NOT NULL DEFAULT '',  -- the decimal's text, for precision-aware matching
  PRIMARY KEY (type, id, param, number, raw)
) WITHOUT ROWID;
CREATE INDEX index_number_value ON index_number (type, param, number);

CREATE TABLE index_quantity (
  type   TEXT NOT NULL,
  id     TEXT NOT NULL,
  param  TEXT NOT NULL,
  number REAL NOT NULL,
  system TEXT NOT NULL DEFAULT '',
  code   TEXT NOT NULL DEFAULT '',  -- unit code (IndexEntry.value)
  raw    TEXT NOT NULL DEFAULT '',  -- unit text
  PRIMARY KEY (type, id, param, code, system, number, raw)
) WITHOUT ROWID;
CREATE INDEX index_quantity_value ON index_quantity (type, param, code, number);

CREATE TABLE index_uri (
  type  TEXT NOT NULL,
  id    TEXT NOT NULL,
  param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (type, id, param, value)
) WITHOUT ROWID;
CREATE INDEX index_uri_value ON index_uri (type, param, value);
)sql";

// 0002_auth.sql
// Security tables (src/auth): registered SMART backend clients, people's accounts, the
// assertion ids (jti) seen until they expire, and the server's token-signing key. They are
// kept apart from the FHIR resource tables and are never served through the FHIR API.
constexpr std::string_view k0002Auth = R"sql(
CREATE TABLE auth_clients (
  client_id       TEXT    PRIMARY KEY,
  organization_id TEXT    NOT NULL,          -- the member, "Organization/<id>"
  jwks            TEXT    NOT NULL,          -- JSON Web Key Set (public keys), inline
  jwks_path       TEXT    NOT NULL DEFAULT '', -- or a file read at each token request
  scopes          TEXT    NOT NULL,          -- space-separated scopes it may be granted
  roles           TEXT    NOT NULL DEFAULT 'system', -- space-separated (system, break-glass)
  created_at      INTEGER NOT NULL,          -- epoch millis
  revoked_at      INTEGER                    -- NULL while active
);

CREATE TABLE auth_users (
  username        TEXT    PRIMARY KEY,
  organization_id TEXT    NOT NULL,
  practitioner_id TEXT    NOT NULL DEFAULT '', -- "Practitioner/<id>" when known
  role            TEXT    NOT NULL,          -- clinician, referral-coordinator, ...
  password_hash   TEXT    NOT NULL,          -- argon2id encoded string
  break_glass     INTEGER NOT NULL DEFAULT 0, -- may use the emergency override
  disabled        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL
);

CREATE TABLE auth_jti (
  client_id  TEXT    NOT NULL,
  jti        TEXT    NOT NULL,
  expires_at INTEGER NOT NULL,               -- epoch seconds; rows past it are purged
  PRIMARY KEY (client_id, jti)
) WITHOUT ROWID;
CREATE INDEX auth_jti_expiry ON auth_jti (expires_at);

CREATE TABLE auth_keys (
  kid        TEXT    PRIMARY KEY,
  algorithm  TEXT    NOT NULL,               -- HS256
  secret     TEXT    NOT NULL,               -- base64url key material
  created_at INTEGER NOT NULL
);
)sql";

// 0003_audit_chain.sql
constexpr std::string_view k0003AuditChain = R"sql(
-- The hash chain over AuditEvents (doc/security.md): one row per AuditEvent version, written
-- in the transaction that stores it. hash = SHA-256(previous hash || the version's exact JSON
-- bytes), hex; the first link's previous hash is 32 zero bytes. Append-only.
CREATE TABLE audit_chain (
  position    INTEGER PRIMARY KEY,
  resource_id TEXT    NOT NULL,
  sequence    INTEGER NOT NULL UNIQUE,  -- resources.sequence
  hash        TEXT    NOT NULL
);
)sql";

// 0004_subscription_queue.sql
constexpr std::string_view k0004SubscriptionQueue = R"sql(
-- The durable notification queue of FHIR Subscriptions (doc/subscriptions.md): a row per
-- (subscription, matched resource version), inserted in the transaction of the write that
-- matched, deleted once delivered or dropped. At-least-once: a crash before the delete
-- sends the notification again after restart.
CREATE TABLE subscription_queue (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT    NOT NULL,
  resource_type   TEXT    NOT NULL,
  resource_id     TEXT    NOT NULL,
  version         INTEGER NOT NULL,            -- the matched version
  attempts        INTEGER NOT NULL DEFAULT 0,  -- failed deliveries so far
  next_attempt_at INTEGER NOT NULL,            -- epoch millis: not tried before this
  enqueued_at     INTEGER NOT NULL,            -- epoch millis of the write
  last_error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX subscription_queue_due ON subscription_queue (next_attempt_at, seq);
)sql";

// 0005_break_glass.sql
constexpr std::string_view k0005BreakGlass = R"sql(
-- Open break-glass grants (doc/security.md section 4), so a restart neither forgets them nor
-- flags the same emergency again. One row per (caller, patient): caller is
-- "<member>|<client>|<practitioner>"; the grant covers start_ms <= now < end_ms. Written in the
-- transaction that flags the grant (its AuditEvent and review Task); expired rows are removed
-- when a new grant is written.
CREATE TABLE break_glass_grants (
  caller   TEXT    NOT NULL,
  patient  TEXT    NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL,
  reason   TEXT    NOT NULL,
  PRIMARY KEY (caller, patient)
);
)sql";

// 0006_deferred_indexes.sql
constexpr std::string_view k0006DeferredIndexes = R"sql(
-- Value indexes of the search-index tables that a bulk import dropped, with the SQL that
-- recreates them (SqliteStore::DeferValueIndexes). Rows exist only between the drop and the
-- rebuild, each written in the transaction that made the change; SqliteStore::Open rebuilds
-- any it finds (after a crash mid-import) before anything else reads the database.
CREATE TABLE deferred_indexes (
  name TEXT PRIMARY KEY,  -- the index, e.g. index_token_value
  sql  TEXT NOT NULL      -- its CREATE INDEX statement, from sqlite_master
) WITHOUT ROWID;
)sql";

// 0007_cjk_characters.sql
constexpr std::string_view k0007CjkCharacters = R"sql(
-- Search-aid rows (doc/search.md, "Search aids"): each CJK character of a "<code>:cjk" value
-- alone, i.e. the first character of every longer suffix row when it is CJK (the code point
-- ranges of search::internal::HasCjk), as the search extractor writes them from now on for
-- new versions. A one-character Chinese search reads the rows of that character, listed by
-- id, and stops at the page size. Rows a database does not have yet are added here once.
INSERT OR IGNORE INTO index_string (type, id, param, value, raw)
SELECT type, id, param, substr(value, 1, 1), '' FROM index_string
WHERE substr(param, -4) = ':cjk' AND length(value) > 1 AND (
  unicode(value) BETWEEN 12352 AND 12543 OR unicode(value) BETWEEN 13312 AND 19903 OR
  unicode(value) BETWEEN 19968 AND 40959 OR unicode(value) BETWEEN 44032 AND 55215 OR
  unicode(value) BETWEEN 63744 AND 64255 OR unicode(value) BETWEEN 131072 AND 195103);
)sql";

// 0008_search_keys.sql
constexpr std::string_view k0008SearchKeys = R"sql(
-- The search-index rows keyed by small integers instead of repeated text (doc/storage.md,
-- "Search keys"): `t` for the resource type and `p` for (type, parameter code), from
-- search_keys; the id stays text, so the value indexes still list ids in order within one
-- value and the planner's paging by id is unchanged. Each index_<kind> table becomes
-- index_<kind>_rows (id, t, p, <kind columns>) with the value index (p, <value columns>), and
-- a view index_<kind> with 0001's names and columns over it, for the queries. The primary key
-- starts with the id: new ids (UUID v7, increasing) then append at the end of one B-tree
-- instead of at the end of each type's range. The rows are copied in id order, one statement
-- per table (about 90 s for the 10M rows of 1M resources).
CREATE TABLE search_keys (
  p     INTEGER PRIMARY KEY,
  t     INTEGER NOT NULL,  -- the p of the type's own row, (type, '')
  type  TEXT NOT NULL,
  param TEXT NOT NULL,     -- '' for the type's own row
  UNIQUE (type, param)
);
CREATE TEMP TABLE keys_0008 AS
  SELECT type, param FROM index_token UNION SELECT type, param FROM index_string
  UNION SELECT type, param FROM index_reference UNION SELECT type, param FROM index_date
  UNION SELECT type, param FROM index_number UNION SELECT type, param FROM index_quantity
  UNION SELECT type, param FROM index_uri;
INSERT INTO search_keys (t, type, param) SELECT DISTINCT 0, type, '' FROM keys_0008 ORDER BY type;
UPDATE search_keys SET t = p;
INSERT INTO search_keys (t, type, param)
  SELECT k.p, x.type, x.param FROM keys_0008 x JOIN search_keys k ON k.type = x.type AND k.param = ''
  WHERE x.param <> '' ORDER BY x.type, x.param;
DROP TABLE keys_0008;

CREATE TABLE index_token_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  system TEXT NOT NULL DEFAULT '', value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, value, system)
) WITHOUT ROWID;
INSERT INTO index_token_rows (t, id, p, system, value)
  SELECT k.t, x.id, k.p, x.system, x.value
  FROM index_token x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_token;
CREATE INDEX index_token_value ON index_token_rows (p, value, system);
CREATE VIEW index_token (type, id, param, system, value) AS
  SELECT k.type, r.id, k.param, r.system, r.value
  FROM index_token_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_string_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  value TEXT NOT NULL DEFAULT '',  -- normalised (case- and accent-folded) text
  raw   TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, value, raw)
) WITHOUT ROWID;
INSERT INTO index_string_rows (t, id, p, value, raw)
  SELECT k.t, x.id, k.p, x.value, x.raw
  FROM index_string x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_string;
CREATE INDEX index_string_value ON index_string_rows (p, value);
CREATE VIEW index_string (type, id, param, value, raw) AS
  SELECT k.type, r.id, k.param, r.value, r.raw
  FROM index_string_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_reference_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, value)
) WITHOUT ROWID;
INSERT INTO index_reference_rows (t, id, p, value)
  SELECT k.t, x.id, k.p, x.value
  FROM index_reference x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_reference;
CREATE INDEX index_reference_value ON index_reference_rows (p, value);
CREATE VIEW index_reference (type, id, param, value) AS
  SELECT k.type, r.id, k.param, r.value
  FROM index_reference_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_date_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  low  INTEGER NOT NULL, high INTEGER NOT NULL,
  PRIMARY KEY (id, t, p, low, high)
) WITHOUT ROWID;
INSERT INTO index_date_rows (t, id, p, low, high)
  SELECT k.t, x.id, k.p, x.low, x.high
  FROM index_date x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_date;
CREATE INDEX index_date_value ON index_date_rows (p, low, high);
CREATE VIEW index_date (type, id, param, low, high) AS
  SELECT k.type, r.id, k.param, r.low, r.high
  FROM index_date_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_number_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  number REAL NOT NULL, raw TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, number, raw)
) WITHOUT ROWID;
INSERT INTO index_number_rows (t, id, p, number, raw)
  SELECT k.t, x.id, k.p, x.number, x.raw
  FROM index_number x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_number;
CREATE INDEX index_number_value ON index_number_rows (p, number);
CREATE VIEW index_number (type, id, param, number, raw) AS
  SELECT k.type, r.id, k.param, r.number, r.raw
  FROM index_number_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_quantity_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  number REAL NOT NULL, system TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '',
  raw    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, code, system, number, raw)
) WITHOUT ROWID;
INSERT INTO index_quantity_rows (t, id, p, number, system, code, raw)
  SELECT k.t, x.id, k.p, x.number, x.system, x.code, x.raw
  FROM index_quantity x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_quantity;
CREATE INDEX index_quantity_value ON index_quantity_rows (p, code, number);
CREATE VIEW index_quantity (type, id, param, number, system, code, raw) AS
  SELECT k.type, r.id, k.param, r.number, r.system, r.code, r.raw
  FROM index_quantity_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

CREATE TABLE index_uri_rows (
  t INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, t, p, value)
) WITHOUT ROWID;
INSERT INTO index_uri_rows (t, id, p, value)
  SELECT k.t, x.id, k.p, x.value
  FROM index_uri x JOIN search_keys k ON k.type = x.type AND k.param = x.param
  ORDER BY x.id;
DROP TABLE index_uri;
CREATE INDEX index_uri_value ON index_uri_rows (p, value);
CREATE VIEW index_uri (type, id, param, value) AS
  SELECT k.type, r.id, k.param, r.value
  FROM index_uri_rows r JOIN search_keys k ON k.p = r.p AND k.t = r.t;

-- Value indexes a killed bulk import left to rebuild were dropped with their tables and are
-- created above.
DELETE FROM deferred_indexes;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "0001_initial", k0001Initial},
    Migration{2, "0002_auth", k0002Auth},
    Migration{3, "0003_audit_chain", k0003AuditChain},
    Migration{4, "0004_subscription_queue", k0004SubscriptionQueue},
    Migration{5, "0005_break_glass", k0005BreakGlass},
    Migration{6, "0006_deferred_indexes", k0006DeferredIndexes},
    Migration{7, "0007_cjk_characters", k0007CjkCharacters},
    Migration{8, "0008_search_keys", k0008SearchKeys},
};

}  // namespace

std::span<const Migration> SqliteMigrations() {
  return kMigrations;
}

}  // namespace medalliance::store::sql
