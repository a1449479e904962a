// api::rest::ParseQueryString, SplitPath and ParseETagVersion over arbitrary bytes.
// Checks: no crash or UB; SplitPath yields no empty segment and at most one segment per '/'
// plus one; ParseQueryString yields at most one pair per '&' plus one and never a name
// longer than its source; ParseETagVersion gives versions >= 1 and agrees with itself on its own
// output.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/rest/request.h"
#include "api/rest/rest_service.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rest = medalliance::api::rest;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<std::string> segments;
  rest::SplitPath(input, segments);
  size_t slashes = static_cast<size_t>(std::count(input.begin(), input.end(), '/'));
  MA_FUZZ_EXPECT(segments.size() <= slashes + 1, "too many segments");
  for (const std::string& segment : segments) {
    MA_FUZZ_EXPECT(!segment.empty(), "empty path segment");
    MA_FUZZ_EXPECT(segment.size() <= input.size(), "segment longer than the path");
  }

  rest::QueryParams params = rest::ParseQueryString(input);
  size_t amps = static_cast<size_t>(std::count(input.begin(), input.end(), '&'));
  MA_FUZZ_EXPECT(params.size() <= amps + 1, "too many parameters");
  for (const auto& [name, value] : params) {
    MA_FUZZ_EXPECT(name.size() + value.size() <= input.size(), "decoded pair grew");
  }

  auto version = rest::ParseETagVersion(input);
  if (version.has_value()) {
    MA_FUZZ_EXPECT(*version >= 1, "ETag version below 1: " + std::string(input));  // F4, fixed
    auto again = rest::ParseETagVersion("W/\"" + std::to_string(*version) + "\"");
    MA_FUZZ_EXPECT(again.has_value() && *again == *version, std::string(input));
  }
  return 0;
}
