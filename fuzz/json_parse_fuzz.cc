// ParseJson -> WriteJson -> ParseJson must be stable: parse(write(x)) == x, and writing the
// re-parsed tree gives the same text. Pretty output must parse to the same tree too.
// Besides, the raw input bytes as a string value and as a member name (as the REST layer puts
// client bytes from URLs and headers into messages): WriteJson must give JSON that parses and
// is UTF-8; a UTF-8 input comes back unchanged, anything else with U+FFFD in it.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/json/json.h"
#include "fuzz_util.h"

namespace {

using medalliance::fhir::Json;

// Json::GetInt64 must agree with std::from_chars whenever it claims success.
void CheckNumbers(const Json& value) {
  switch (value.GetKind()) {
    case Json::Kind::kNumber: {
      const std::string& text = value.GetString();
      MA_FUZZ_EXPECT(medalliance::fhir::IsJsonNumber(text), text);
      int64_t mine = 0;
      if (value.GetInt64(&mine)) {
        int64_t expected = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), expected);
        MA_FUZZ_EXPECT(ec == std::errc() && end == text.data() + text.size() && mine == expected,
                       text);
      }
      break;
    }
    case Json::Kind::kArray:
      for (const Json& item : value.Items()) CheckNumbers(item);
      break;
    case Json::Kind::kObject:
      for (const auto& member : value.Members()) CheckNumbers(member.second);
      break;
    default:
      break;
  }
}

void CheckRawString(std::string_view input) {
  const bool valid = medalliance::fuzz::IsValidUtf8(input);
  Json object = Json::MakeObject();
  object.Set(input, Json::MakeString(std::string(input)));
  std::string written = medalliance::fhir::WriteJson(object);
  MA_FUZZ_EXPECT(medalliance::fuzz::IsValidUtf8(written), "raw string written as non-UTF-8");
  auto parsed = medalliance::fhir::ParseJson(written);
  MA_FUZZ_EXPECT(parsed.has_value() && parsed->IsObject() && parsed->Size() == 1,
                 "written raw string does not parse: " + written);
  const auto& [name, value] = parsed->Members().front();
  MA_FUZZ_EXPECT(value.IsString() && value.GetString() == name,
                 "raw name and value written differently: " + written);
  if (valid) {
    MA_FUZZ_EXPECT(name == input, "UTF-8 string changed by writing: " + written);
  } else {
    MA_FUZZ_EXPECT(name.find("\xEF\xBF\xBD") != std::string::npos,
                   "ill-formed UTF-8 written without U+FFFD: " + written);
  }
  // Writing the repaired text again changes nothing.
  MA_FUZZ_EXPECT(medalliance::fhir::WriteJson(*parsed) == written,
                 "writing a repaired string is not stable: " + written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRawString(input);
  auto first = medalliance::fhir::ParseJson(input);
  if (!first.has_value())
    return 0;
  CheckNumbers(*first);

  std::string written = medalliance::fhir::WriteJson(*first);
  auto second = medalliance::fhir::ParseJson(written);
  MA_FUZZ_EXPECT(second.has_value(), "written JSON does not parse: " + written +
                                         "\nerror: " + (second ? "" : second.error().GetMessage()));
  MA_FUZZ_EXPECT(*second == *first, "round trip changed the tree: " + written);
  std::string rewritten = medalliance::fhir::WriteJson(*second);
  MA_FUZZ_EXPECT(rewritten == written, "writing is not stable:\n" + written + "\n" + rewritten);

  std::string pretty = medalliance::fhir::WriteJson(*first, {.pretty = true});
  auto third = medalliance::fhir::ParseJson(pretty);
  MA_FUZZ_EXPECT(third.has_value() && *third == *first, "pretty round trip failed: " + pretty);
  return 0;
}
