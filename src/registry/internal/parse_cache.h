#pragma once
// Parsed registry resources (Organization, OrganizationAffiliation, PractitionerRole), shared by
// all transactions and keyed by their exact stored JSON text. A hit needs the same bytes, and a
// parse is a pure function of them, so an entry can never be stale: a new version of a resource
// (committed or rolled back) has other bytes and is simply parsed again. The member check reads
// the same few resources on every write, and parsing them was half its cost.
// Thread-safe (one mutex); bounded (cleared when it grows past kMaxEntries).

#include <memory>
#include <string>

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::registry::internal {

inline constexpr size_t kMaxParsedEntries = 4096;

// The parsed tree of `json`. Errors: the parser's (kBadRequest).
core::Result<std::shared_ptr<const fhir::Json>> ParseCached(const std::string& json);

}  // namespace medalliance::registry::internal
