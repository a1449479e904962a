#pragma once
// ParseJsonMembers: ParseJson for readers that need a few elements of a large object.

#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::fhir {

// As ParseJson, but of the top-level object only `members` are built (all of them when
// empty); the others are skipped, neither built nor fully validated, so use it for JSON that
// was validated before (a stored resource). Errors: as ParseJson.
core::Result<Json> ParseJsonMembers(std::string_view text,
                                    const std::vector<std::string_view>& members,
                                    const ParseOptions& options = {});

}  // namespace medalliance::fhir
