#pragma once
// Format checks of the FHIR R4 primitive data types, hand-written (no std::regex) so the
// validator stays fast. Each function mirrors the regex in the type's StructureDefinition and
// adds the checks the regex cannot express (calendar dates, integer ranges). Pure functions,
// thread-safe, no allocation.

#include <string_view>

namespace medalliance::fhir::validation {

// Largest string the server accepts in any primitive (bytes).
inline constexpr size_t kMaxStringBytes = 1024 * 1024;

bool IsValidId(std::string_view text);        // [A-Za-z0-9\-\.]{1,64}
bool IsValidCode(std::string_view text);      // [^\s]+(\s[^\s]+)*
bool IsValidUri(std::string_view text);       // \S+ (uri, url, canonical)
bool IsValidOid(std::string_view text);       // urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool IsValidUuid(std::string_view text);      // urn:uuid: + lowercase 8-4-4-4-12 hex
bool IsValidBase64(std::string_view text);    // groups of 4 of [A-Za-z0-9+/=], whitespace ok
bool IsValidDate(std::string_view text);      // YYYY, YYYY-MM, YYYY-MM-DD (real calendar days)
bool IsValidDateTime(std::string_view text);  // a date, or a full date + Thh:mm:ss[.f] + zone
bool IsValidInstant(std::string_view text);   // full date + Thh:mm:ss[.f] + zone
bool IsValidTime(std::string_view text);      // hh:mm:ss[.f]
// JSON number text of an integer in the 32-bit range: -?(0|[1-9][0-9]*).
bool IsValidInteger(std::string_view text);
bool IsValidUnsignedInt(std::string_view text);  // integer >= 0
bool IsValidPositiveInt(std::string_view text);  // integer > 0
// A Reference.reference: #local, Type/id[/_history/v], Type?query (conditional, transactions),
// or an absolute URI (http(s) URL, urn:uuid:..., urn:oid:...). Relative types must be known
// resource types. The text after urn:uuid: / urn:oid: is not checked (as the HL7 validator).
bool IsValidReference(std::string_view text);

}  // namespace medalliance::fhir::validation
