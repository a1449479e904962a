#pragma once
// Resource ids. A new id is 16 characters of [-.0-9A-Za-z]: a valid FHIR id that never reveals
// how many resources a member holds, and that sorts by creation time (so database indexes grow
// at their end). It does reveal the creation time to the millisecond, as meta.lastUpdated does.
// Ids made before 2026-11 are UUID v7 text; both kinds stay valid and sort together.

#include <string>
#include <string_view>

namespace medalliance::core {

// A new resource id (16 characters, increasing); thread-safe.
std::string NewId();
// A new random UUID (v4), for ids that must not reveal time (Bundle ids, tokens).
std::string NewUuid();
// FHIR id: [A-Za-z0-9\-\.]{1,64}.
bool IsValidId(std::string_view id);

}  // namespace medalliance::core
