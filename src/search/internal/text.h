#pragma once
// Text normalisation for string search: case folding and accent stripping over UTF-8.
// Thread-safe (pure functions).

#include <string>
#include <string_view>

namespace medalliance::search::internal {

// Lower-cases (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic), strips accents
// (precomposed Latin letters become their base letter, combining marks are dropped), maps
// full-width ASCII forms to ASCII and the ideographic space to a space. Other characters,
// including CJK ideographs, are kept unchanged. Invalid UTF-8 bytes are kept as they are.
std::string FoldText(std::string_view text);

// True when `text` contains a CJK ideograph (or kana/hangul): such values match by character
// (substring), since those scripts do not separate words.
bool HasCjk(std::string_view text);

// A string that sorts after every string starting with `prefix` (for prefix range scans).
std::string PrefixUpperBound(std::string_view prefix);

}  // namespace medalliance::search::internal
