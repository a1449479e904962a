#pragma once
// `medalliance reindex`: recomputes the search-index rows of every current resource (or of one
// type), for when search parameters or their extraction changed. Works in transactions of
// `batch_size` resources, so a running import elsewhere is blocked only briefly; each batch
// is atomic, and a crash leaves every resource with either its old or its new rows.

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::cli {

struct ReindexStats {
  int64_t resources = 0;
  int64_t rows = 0;
};

core::Result<ReindexStats> Reindex(store::Store& store, const search::Searcher& searcher,
                                   const std::optional<std::string>& type, size_t batch_size);

}  // namespace medalliance::cli
