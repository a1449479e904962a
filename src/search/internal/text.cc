#include "search/internal/text.h"

#include <array>
#include <cstdint>

namespace medalliance::search::internal {

namespace {

// Decodes one UTF-8 sequence at text[i]; returns the code point and advances i, or returns
// -1 (and advances by one byte) for an invalid sequence.
int32_t Decode(std::string_view text, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int length = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + static_cast<size_t>(length) > text.size()) {
    ++i;
    return -1;
  }
  int32_t cp = length == 2 ? (c & 0x1F) : length == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < length; ++k) {
    unsigned char next = byte(i + static_cast<size_t>(k));
    if ((next & 0xC0) != 0x80) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  i += static_cast<size_t>(length);
  return cp;
}

void Encode(int32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// U+00C0..U+00FF; "" keeps the character (multiplication and division signs).
constexpr std::array<const char*, 64> kLatin1 = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};

struct Range {
  int32_t first;
  int32_t last;
  const char* base;
};
// Latin Extended-A (U+0100..U+017F) by runs of one base letter.
constexpr std::array<Range, 26> kLatinExtendedA = {{
    {0x100, 0x105, "a"}, {0x106, 0x10D, "c"},  {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},
    {0x11C, 0x123, "g"}, {0x124, 0x127, "h"},  {0x128, 0x131, "i"}, {0x132, 0x133, "ij"},
    {0x134, 0x135, "j"}, {0x136, 0x138, "k"},  {0x139, 0x142, "l"}, {0x143, 0x14B, "n"},
    {0x14C, 0x151, "o"}, {0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15A, 0x161, "s"},
    {0x162, 0x167, "t"}, {0x168, 0x173, "u"},  {0x174, 0x175, "w"}, {0x176, 0x178, "y"},
    {0x179, 0x17E, "z"}, {0x17F, 0x17F, "s"},  {0x180, 0x180, "b"}, {0x1CD, 0x1CE, "a"},
    {0x1CF, 0x1D0, "i"}, {0x1D1, 0x1D2, "o"},
}};

}  // namespace

std::string FoldText(std::string_view text) {
  // ASCII prefix (often the whole text): copied at once and lower-cased in place.
  size_t ascii = 0;
  while (ascii < text.size() && static_cast<unsigned char>(text[ascii]) < 0x80) ++ascii;
  std::string out;
  out.reserve(text.size());
  out.assign(text.data(), ascii);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c + 32);
  }
  size_t i = ascii;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
      continue;
    }
    size_t start = i;
    int32_t cp = Decode(text, i);
    if (cp < 0) {
      out.push_back(text[start]);
      continue;
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
      const char* base = kLatin1[static_cast<size_t>(cp - 0xC0)];
      if (*base != '\0') {
        out += base;
        continue;
      }
    } else if (cp >= 0x100 && cp <= 0x1D2) {
      bool mapped = false;
      for (const Range& range : kLatinExtendedA) {
        if (cp >= range.first && cp <= range.last) {
          out += range.base;
          mapped = true;
          break;
        }
      }
      if (mapped)
        continue;
    } else if (cp >= 0x300 && cp <= 0x36F) {
      continue;  // combining diacritical marks
    } else if (cp >= 0x391 && cp <= 0x3A9) {
      cp += 0x20;  // Greek capitals
    } else if (cp >= 0x386 && cp <= 0x38F) {
      static constexpr std::array<int32_t, 10> kGreekTonos = {0x3B1, 0x387, 0x3B5, 0x3B7, 0x3B9,
                                                              0x38B, 0x3BF, 0x38D, 0x3C5, 0x3C9};
      cp = kGreekTonos[static_cast<size_t>(cp - 0x386)];
    } else if (cp >= 0x3AC && cp <= 0x3AF) {
      static constexpr std::array<int32_t, 4> kGreekAccented = {0x3B1, 0x3B5, 0x3B7, 0x3B9};
      cp = kGreekAccented[static_cast<size_t>(cp - 0x3AC)];
    } else if (cp >= 0x410 && cp <= 0x42F) {
      cp += 0x20;  // Cyrillic capitals
    } else if (cp >= 0x400 && cp <= 0x40F) {
      cp += 0x50;
    } else if (cp >= 0xFF01 && cp <= 0xFF5E) {
      cp -= 0xFEE0;  // full-width ASCII
      if (cp >= 'A' && cp <= 'Z')
        cp += 32;
    } else if (cp == 0x3000) {
      cp = ' ';
    }
    Encode(cp, out);
  }
  return out;
}

bool HasCjk(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    int32_t cp = Decode(text, i);
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FA1F)) {
      return true;
    }
  }
  return false;
}

std::string PrefixUpperBound(std::string_view prefix) {
  std::string out(prefix);
  out += "\xF4\x8F\xBF\xBF";  // U+10FFFF: above every valid UTF-8 continuation
  return out;
}

}  // namespace medalliance::search::internal
