#pragma once
// Shared helpers for the fuzz targets: a property check that prints why and aborts, so
// libFuzzer records the input as a crash.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace medalliance::fuzz {

[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "\n==fuzz property violated: %s\n", what);
  if (!detail.empty()) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(std::min<size_t>(detail.size(), 4096)),
                 detail.data());
  }
  std::abort();
}

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
inline bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t extra = byte < 0x80           ? 0
                   : (byte >> 5) == 0x6  ? 1
                   : (byte >> 4) == 0xE  ? 2
                   : (byte >> 3) == 0x1E ? 3
                                         : 4;
    if (extra == 4 || byte == 0xC0 || byte == 0xC1 || byte > 0xF4)
      return false;
    if (extra > 0 && i + extra >= text.size())
      return false;
    uint32_t code = extra == 0 ? byte : byte & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80)
        return false;
      code = (code << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace medalliance::fuzz

#define MA_FUZZ_EXPECT(cond, detail)              \
  do {                                            \
    if (!(cond))                                  \
      ::medalliance::fuzz::Fail(#cond, (detail)); \
  } while (false)
