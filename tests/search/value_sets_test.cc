// ExpandValueSet: the codes :in / :not-in read from a stored ValueSet.

#include "search/internal/value_sets.h"

#include <map>

#include <gtest/gtest.h>

namespace medalliance::search::internal {
namespace {

using fhir::Json;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Json Parse(std::string_view text) {
  core::Result<Json> json = fhir::ParseJson(text);
  EXPECT_TRUE(json.has_value()) << text;
  return json ? std::move(*json) : Json();
}

ValueSetLoader LoaderOf(const std::map<std::string, std::string>& stored) {
  return [stored](std::string_view url) -> core::Result<std::optional<Json>> {
    auto it = stored.find(std::string(url));
    if (it == stored.end())
      return std::optional<Json>();
    return std::optional<Json>(Parse(it->second));
  };
}

TEST(ValueSetsTest, ListedConceptsWholeSystemsAndExclusions) {
  Json vs = Parse(R"({"resourceType":"ValueSet","compose":{
    "include":[{"system":"http://loinc.org","concept":[{"code":"718-7"},{"code":"2345-7"}]},
               {"system":"urn:whole"}],
    "exclude":[{"system":"http://loinc.org","concept":[{"code":"2345-7"}]},{"system":"urn:gone"}]}})");
  core::Result<ValueSetCodes> codes = ExpandValueSet(vs, "code:in", LoaderOf({}));
  ASSERT_TRUE(codes.has_value());
  EXPECT_EQ(codes->codes, (Pairs{{"http://loinc.org", "718-7"}, {"http://loinc.org", "2345-7"}}));
  EXPECT_EQ(codes->systems, std::vector<std::string>{"urn:whole"});
  EXPECT_EQ(codes->excluded_codes, (Pairs{{"http://loinc.org", "2345-7"}}));
  EXPECT_EQ(codes->excluded_systems, std::vector<std::string>{"urn:gone"});
}

TEST(ValueSetsTest, ExpansionWinsAndSkipsAbstractCodes) {
  Json vs = Parse(R"({"resourceType":"ValueSet","compose":{"include":[{"system":"urn:a"}]},
    "expansion":{"contains":[{"system":"urn:b","code":"x"},
      {"system":"urn:b","code":"group","abstract":true,"contains":[{"system":"urn:c","code":"y"}]}]}})");
  core::Result<ValueSetCodes> codes = ExpandValueSet(vs, "code:in", LoaderOf({}));
  ASSERT_TRUE(codes.has_value());
  EXPECT_EQ(codes->codes, (Pairs{{"urn:b", "x"}, {"urn:c", "y"}}));
  EXPECT_TRUE(codes->systems.empty());
}

TEST(ValueSetsTest, ImportsAreReadThroughTheLoaderAndIntersected) {
  std::map<std::string, std::string> stored = {
      {"urn:one", R"({"resourceType":"ValueSet","compose":{"include":[
          {"system":"urn:s","concept":[{"code":"a"},{"code":"b"}]},{"system":"urn:t"}]}})"},
      {"urn:two", R"({"resourceType":"ValueSet","compose":{"include":[
          {"system":"urn:s","concept":[{"code":"b"},{"code":"c"}]},
          {"system":"urn:t","concept":[{"code":"z"}]}]}})"}};
  Json vs = Parse(R"({"resourceType":"ValueSet","compose":{"include":[
      {"valueSet":["urn:one","urn:two"]}]}})");
  core::Result<ValueSetCodes> codes = ExpandValueSet(vs, "code:in", LoaderOf(stored));
  ASSERT_TRUE(codes.has_value());
  EXPECT_EQ(codes->codes, (Pairs{{"urn:s", "b"}, {"urn:t", "z"}}));
  EXPECT_TRUE(codes->systems.empty());
}

TEST(ValueSetsTest, FiltersAndMissingImportsAreBadRequestsNamingTheParameter) {
  Json filtered = Parse(R"({"resourceType":"ValueSet","compose":{"include":[
      {"system":"urn:s","filter":[{"property":"concept","op":"is-a","value":"x"}]}]}})");
  core::Result<ValueSetCodes> a = ExpandValueSet(filtered, "code:in", LoaderOf({}));
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_NE(a.error().GetMessage().find("code:in"), std::string::npos);

  Json importing = Parse(R"({"resourceType":"ValueSet","compose":{"include":[
      {"valueSet":["urn:nowhere"]}]}})");
  core::Result<ValueSetCodes> b = ExpandValueSet(importing, "code:not-in", LoaderOf({}));
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().GetMessage().find("urn:nowhere"), std::string::npos);
}

}  // namespace
}  // namespace medalliance::search::internal
