// core::ParseFhirDateTime and ParseHttpDate. Input: first byte picks the default offset
// (-14:00..+14:00 in 15-minute steps), the rest is the text. Checks: no crash or UB;
// low < high; a millisecond instant formatted by FormatInstant parses back to itself;
// an HTTP date re-formatted by FormatHttpDate parses back to the same instant and, except
// for second 60, is the text that was accepted.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.h"
#include "fuzz_util.h"

namespace {

namespace core = medalliance::core;

// FormatInstant/FormatHttpDate only promise four-digit years.
constexpr core::EpochMillis kYear0 = -62167219200000;      // 0000-01-01T00:00:00Z
constexpr core::EpochMillis kYear10000 = 253402300800000;  // 10000-01-01T00:00:00Z

void CheckInstantRoundTrip(core::EpochMillis millis) {
  if (millis < kYear0 || millis >= kYear10000)
    return;
  std::string text = core::FormatInstant(millis);
  auto again = core::ParseFhirDateTime(text);
  MA_FUZZ_EXPECT(again.has_value(), text);
  MA_FUZZ_EXPECT(again->low == millis && again->high == millis + 1, text);
  MA_FUZZ_EXPECT(again->precision == core::DatePrecision::kMillis, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  int offset = (static_cast<int>(data[0] % 113) - 56) * 15;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto range = core::ParseFhirDateTime(text, offset);
  if (range.has_value()) {
    MA_FUZZ_EXPECT(range->low < range->high, text);
    CheckInstantRoundTrip(range->low);
    CheckInstantRoundTrip(range->high - 1);
  }

  auto http = core::ParseHttpDate(text);
  if (http.has_value() && *http >= kYear0 && *http < kYear10000) {
    std::string formatted = core::FormatHttpDate(*http);
    auto again = core::ParseHttpDate(formatted);
    MA_FUZZ_EXPECT(again.has_value() && *again == *http, formatted);
    // Only IMF-fixdate with real field ranges and the right day-name is accepted (finding F2,
    // fixed), so an accepted date is already canonical; second 60 (a leap second) is the
    // one spelling that FormatHttpDate writes differently (as :00 of the next minute).
    if (text.substr(23, 2) != "60") {
      MA_FUZZ_EXPECT(formatted == text, std::string(text) + " accepted, formats as " + formatted);
    }
  }
  return 0;
}
