#pragma once
// FHIR search over the store's index tables.
//
// Foundation scope (issue #2): the common parameters _id and _lastUpdated, token parameters
// `identifier`, `_tag`, `_profile`, `_security`, and the result parameters _count, _offset and
// _total. The search issue (#3) replaces the extraction with every R4 SearchParameter.
// Unknown parameters are reported in SearchPage::ignored (or rejected when strict).
//
// Thread-safe: a Searcher holds no mutable state.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::search {

using Params = std::vector<std::pair<std::string, std::string>>;  // decoded name, value

struct SearchRequest {
  std::string type;  // resource type
  Params params;
  bool strict = false;  // Prefer: handling=strict: unknown parameters are an error
  int default_count = 50;
  int max_count = 1000;
};

struct SearchPage {
  std::vector<store::StoredResource> matches;
  std::optional<int64_t> total;
  std::vector<std::string> ignored;  // unknown or unsupported parameters
  int offset = 0;
  int count = 0;
  bool has_more = false;
  // The parameters that were applied, in canonical order, for self/next links.
  Params applied;
};

class Searcher {
 public:
  // Errors: kBadRequest for a malformed value (naming the parameter) or, when strict, an
  // unknown parameter.
  core::Result<SearchPage> Search(store::ReadTx& tx, const SearchRequest& request) const;

  // The index rows of a resource, stored with each version.
  std::vector<store::IndexEntry> Index(const fhir::Json& resource) const;
};

}  // namespace medalliance::search
