#pragma once
// Percent-decoding of URL parts (RFC 3986 section 2.1), on Boost.URL.

#include <optional>
#include <string>
#include <string_view>

namespace medalliance::core {

// Decodes %XX escapes in `text`; with `plus_is_space` (form and query encoding) '+' is a space.
// nullopt when an escape is malformed ('%' not followed by two hex digits).
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space = false);

}  // namespace medalliance::core
