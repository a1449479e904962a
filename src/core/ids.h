#pragma once
// Resource ids. New ids are random (UUID v4 text), which is a valid FHIR id and never reveals
// how many resources a member holds.

#include <string>
#include <string_view>

namespace medalliance::core {

// A new random id; thread-safe.
std::string NewId();
// A new random UUID in "urn:uuid:" form is NewId() with the prefix; exposed for Bundle ids.
std::string NewUuid();
// FHIR id: [A-Za-z0-9\-\.]{1,64}.
bool IsValidId(std::string_view id);

}  // namespace medalliance::core
