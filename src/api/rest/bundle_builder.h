#pragma once
// Searchset and history Bundles built by concatenating the stored resources' bytes: the read
// path does no JSON parsing.

#include <string>
#include <vector>

#include "api/rest/request.h"
#include "core/clock.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::api::rest {

std::string BuildSearchBundle(const std::string& base_url, const std::string& type,
                              const search::SearchPage& page, core::EpochMillis now);

// `path` is "/Patient/1/_history" (or "/_history"); `params` the request's own parameters.
std::string BuildHistoryBundle(const std::string& base_url, const std::string& path,
                               const QueryParams& params,
                               const std::vector<store::StoredResource>& entries, int64_t total,
                               bool has_more, int count, core::EpochMillis now);

// "a b" -> "a%20b" for query values.
std::string PercentEncode(std::string_view text);

}  // namespace medalliance::api::rest
