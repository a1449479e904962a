#pragma once
// Names from the shared storage schema (doc/storage.md) that query writers in search/ need.
// The schema itself is created by the migrations in store/sql/migrations.h.

#include <string_view>

namespace medalliance::store::sql {

// Every stored version, append-only. Alias it `r` in queries handed to QueryResources.
inline constexpr std::string_view kResourcesTable = "resources";
// One row per (type, id): the current version's sequence. Alias it `c`.
inline constexpr std::string_view kCurrentTable = "current_resources";

// Search-index tables, one per IndexKind, holding rows of current versions only, keyed by
// (type, id). Columns are listed in doc/storage.md.
inline constexpr std::string_view kTokenIndexTable = "index_token";
inline constexpr std::string_view kStringIndexTable = "index_string";
inline constexpr std::string_view kReferenceIndexTable = "index_reference";
inline constexpr std::string_view kDateIndexTable = "index_date";
inline constexpr std::string_view kNumberIndexTable = "index_number";
inline constexpr std::string_view kQuantityIndexTable = "index_quantity";
inline constexpr std::string_view kUriIndexTable = "index_uri";

// The select list, in this order, of a query run by ReadTx::QueryResources. The query must
// name `resources` as `r`, e.g.
//   SELECT <kResourceColumns> FROM current_resources c
//     JOIN resources r ON r.sequence = c.sequence
//     WHERE c.type = ?1 AND c.deleted = 0 AND ...
//     ORDER BY r.sequence DESC LIMIT ?2
// The store reads the columns by position; a different count is kInternal.
inline constexpr std::string_view kResourceColumns =
    "r.sequence, r.type, r.id, r.version, r.last_updated, r.deleted, r.method, r.json";
inline constexpr int kResourceColumnCount = 8;

}  // namespace medalliance::store::sql
