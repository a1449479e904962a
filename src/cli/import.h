#pragma once
// `medalliance import`: loads FHIR JSON files (a Bundle or a single resource), NDJSON files,
// their .zst-compressed forms, or folders of them. Each transaction Bundle is atomic; NDJSON
// is written in transactions of `batch_size` lines. A bad file is reported with its name and
// the reason, and the rest still imports.
//
// Two threads: one reads, decompresses, parses and prepares each Bundle (validation, index
// rows, JSON text: RestService::PrepareBundle); the caller's thread commits them, taking the
// Bundles that are waiting (up to 8) together (RestService::CommitBundles: one SQLite
// transaction with a savepoint per Bundle, one fsync). A file's result is reported once it is
// durable.
//
// Into an empty or small SQLite database (no more resource versions than the files hold,
// estimated from their size), the value indexes of the search-index tables are dropped first
// and rebuilt by sorting once the files are in (SqliteStore::DeferValueIndexes): crash-safe,
// as the next open of the database finishes a rebuild an interrupted import left pending.

#include <cstdint>
#include <string>
#include <vector>

#include "api/rest/rest_service.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::cli {

struct ImportStats {
  int64_t files = 0;
  int64_t failed_files = 0;
  int64_t resources = 0;
  double seconds = 0;             // everything, the index rebuild included
  bool deferred_indexes = false;  // the value indexes were dropped and rebuilt
  double rebuild_seconds = 0;
  bool rebuild_failed = false;  // reported on stderr; the next open of the database retries
};

struct ImportOptions {
  size_t batch_size = 1000;
  bool progress = false;  // a progress bar on stderr (a terminal); else one summary line
  // The store `service` writes to, when SQLite: defer its value indexes when it is small
  // (see above). Not owned; null: never defer.
  store::SqliteStore* sqlite = nullptr;
};

ImportStats ImportPaths(const api::rest::RestService& service,
                        const std::vector<std::string>& paths, const ImportOptions& options);

// Reads a file, decompressing .zst. Errors: kNotFound, kBadRequest (bad zstd data).
core::Result<std::string> ReadFileContents(const std::string& path);

}  // namespace medalliance::cli
