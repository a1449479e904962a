// JSON Patch over fuzzed documents. Input: "<document JSON>\n@@\n<patch JSON>" (the separator
// cannot occur inside valid JSON). Checks: no crash; on failure the document is unchanged
// (atomicity); on success the result writes and re-parses to the same tree; JsonValuesEqual
// is reflexive; a "test" of the root against itself passes; pointers from the patch resolve
// consistently with ParseJsonPointer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/json/json.h"
#include "fhir/patch/json_patch.h"
#include "fuzz_util.h"

namespace {

using medalliance::fhir::Json;

constexpr std::string_view kSeparator = "\n@@\n";

void CheckPointers(const Json& document, const Json& patch) {
  if (!patch.IsArray())
    return;
  for (const Json& op : patch.Items()) {
    for (std::string_view name : {"path", "from"}) {
      std::string_view pointer = op.GetStringMember(name);
      auto tokens = medalliance::fhir::ParseJsonPointer(pointer);
      const Json* node = medalliance::fhir::ResolveJsonPointer(document, pointer);
      if (!tokens.has_value())
        MA_FUZZ_EXPECT(node == nullptr, std::string(pointer));
      if (pointer.empty())
        MA_FUZZ_EXPECT(node == &document, "'' is not the whole document");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find(kSeparator);
  if (split == std::string_view::npos)
    return 0;
  auto document = medalliance::fhir::ParseJson(input.substr(0, split));
  auto patch = medalliance::fhir::ParseJson(input.substr(split + kSeparator.size()));
  if (!document.has_value() || !patch.has_value())
    return 0;

  MA_FUZZ_EXPECT(medalliance::fhir::JsonValuesEqual(*document, *document),
                 "JsonValuesEqual is not reflexive: " + medalliance::fhir::WriteJson(*document));
  CheckPointers(*document, *patch);

  const Json original = *document;
  Json working = *document;
  auto status = medalliance::fhir::ApplyJsonPatch(working, *patch);
  if (!status.has_value()) {
    MA_FUZZ_EXPECT(working == original, "a failed patch changed the document");
    auto code = status.error().GetCode();
    MA_FUZZ_EXPECT(code == medalliance::core::ErrorCode::kBadRequest ||
                       code == medalliance::core::ErrorCode::kUnprocessable,
                   status.error().GetMessage());
  } else {
    std::string written = medalliance::fhir::WriteJson(working);
    medalliance::fhir::ParseOptions deep;
    deep.max_depth = 1 << 20;
    auto reparsed = medalliance::fhir::ParseJson(written, deep);
    MA_FUZZ_EXPECT(reparsed.has_value() && *reparsed == working,
                   "patched document does not round-trip: " + written);
  }

  Json self_test = Json::MakeArray();
  Json op = Json::MakeObject();
  op.Set("op", Json::MakeString("test"));
  op.Set("path", Json::MakeString(""));
  op.Set("value", original);
  self_test.PushBack(std::move(op));
  Json copy = original;
  MA_FUZZ_EXPECT(medalliance::fhir::ApplyJsonPatch(copy, self_test).has_value(),
                 "test of the document against itself failed");
  return 0;
}
