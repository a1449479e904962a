#pragma once
// Base64 (RFC 4648): the standard alphabet for FHIR base64Binary, the URL-safe one for paging
// cursors and FHIRPath's encode('urlbase64').

#include <optional>
#include <string>
#include <string_view>

namespace medalliance::core {

enum class Base64Alphabet { kStandard, kUrl };

// Encodes `data`; `pad` appends '=' to a multiple of four characters.
std::string Base64Encode(std::string_view data, Base64Alphabet alphabet, bool pad);

// Decodes text in either alphabet; decoding stops at the first '='. With
// `skip_whitespace`, spaces, tabs and line breaks are ignored. nullopt on any other character.
std::optional<std::string> Base64Decode(std::string_view text, bool skip_whitespace = false);

}  // namespace medalliance::core
