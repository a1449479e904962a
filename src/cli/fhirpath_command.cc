#include "cli/fhirpath_command.h"

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>

#include "cli/import.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json/json.h"

namespace medalliance::cli {
namespace {

using core::Error;
using core::Result;
using fhir::Json;
namespace fhirpath = fhir::fhirpath;

// One item of the result as JSON.
Json ItemToJson(const fhirpath::Item& item) {
  if (item.IsNode()) {
    if (item.node != nullptr)
      return *item.node;
    // A primitive with only an id and extensions: show those.
    return item.extension_node != nullptr ? *item.extension_node : Json();
  }
  std::string text = fhirpath::ToStringValue(item).value_or("");
  switch (item.kind) {
    case fhirpath::Item::Kind::kBoolean:
      return Json::MakeBool(item.boolean);
    case fhirpath::Item::Kind::kInteger:
      return Json::MakeNumber(item.integer);
    case fhirpath::Item::Kind::kDecimal:
      // Decimals keep their text; a value with no JSON spelling (inf, nan) becomes a string.
      return fhir::IsJsonNumber(text) ? Json::MakeNumber(std::move(text))
                                      : Json::MakeString(std::move(text));
    default:
      return Json::MakeString(std::move(text));
  }
}

Result<std::string> ReadInput(const std::string& file) {
  if (!file.empty() && file != "-")
    return ReadFileContents(file);
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (std::cin.bad())
    return Error::BadRequest("cannot read standard input");
  return text;
}

}  // namespace

Result<std::string> EvaluateFhirPathToJson(std::string_view expression,
                                           std::string_view resource_text, bool pretty) {
  MA_ASSIGN_OR_RETURN(fhirpath::Expression parsed, fhirpath::Parse(expression));
  auto resource = fhir::ParseJson(resource_text);
  if (!resource)
    return Error::BadRequest("the input is not JSON: " + resource.error().GetMessage());
  if (!resource->IsObject())
    return Error::BadRequest("the input is not a JSON object");
  MA_ASSIGN_OR_RETURN(fhirpath::Collection items, fhirpath::Evaluate(parsed, *resource));
  Json out = Json::MakeArray();
  for (const fhirpath::Item& item : items) out.PushBack(ItemToJson(item));
  fhir::WriteOptions options;
  options.pretty = pretty;
  return fhir::WriteJson(out, options);
}

int RunFhirPath(const FhirPathFlags& flags) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "medalliance fhirpath: %s\n", message.c_str());
    return 1;
  };
  auto text = ReadInput(flags.file);
  if (!text)
    return fail(text.error().GetMessage());
  auto result = EvaluateFhirPathToJson(flags.expression, *text, flags.pretty);
  if (!result)
    return fail(result.error().GetMessage());
  std::fwrite(result->data(), 1, result->size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace medalliance::cli
