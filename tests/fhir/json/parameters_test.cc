#include "fhir/json/parameters.h"

#include <gtest/gtest.h>

namespace medalliance::fhir {
namespace {

Json Parse(std::string_view text) {
  core::Result<Json> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.has_value());
  return parsed.has_value() ? *parsed : Json::MakeObject();
}

const Json kParameters = Parse(R"({"resourceType":"Parameters","parameter":[
  {"name":"period","valueString":"2026-11"},
  {"name":"item","valueCoding":{"system":"http://loinc.org","code":"2345-7"}},
  {"name":"member","valueReference":{"reference":"Organization/gz-1"}},
  {"name":"at","valueDateTime":"2026-11-27T08:00:00+08:00"},
  {"name":"flag","valueBoolean":true},
  {"name":"link","valueUri":"urn:a"},
  {"name":"link","valueUri":"urn:b"}]})");

TEST(ParametersTest, FindsTheFirstEntryAndEveryEntryByName) {
  const Json* first = FindParameter(kParameters, "link");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->GetStringMember("valueUri"), "urn:a");
  std::vector<const Json*> all = FindParameters(kParameters, "link");
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[1]->GetStringMember("valueUri"), "urn:b");
  EXPECT_EQ(FindParameter(kParameters, "missing"), nullptr);
  EXPECT_TRUE(FindParameters(kParameters, "missing").empty());
}

TEST(ParametersTest, ReadsPrimitivesReferencesAndCodingsAsText) {
  EXPECT_EQ(ParameterText(kParameters, "period"), "2026-11");
  EXPECT_EQ(ParameterText(kParameters, "item"), "2345-7");
  EXPECT_EQ(ParameterText(kParameters, "member"), "Organization/gz-1");
  EXPECT_EQ(ParameterText(kParameters, "at"), "2026-11-27T08:00:00+08:00");
  EXPECT_EQ(ParameterText(kParameters, "link"), "urn:a");
  // Not text: a boolean, a missing entry.
  EXPECT_EQ(ParameterText(kParameters, "flag"), "");
  EXPECT_EQ(ParameterText(kParameters, "missing"), "");
}

TEST(ParametersTest, ToleratesABodyWithoutParameterArray) {
  const Json no_array = Parse(R"({"resourceType":"Parameters","parameter":{"name":"x"}})");
  EXPECT_EQ(FindParameter(no_array, "x"), nullptr);
  EXPECT_TRUE(FindParameters(no_array, "x").empty());
  EXPECT_EQ(ParameterText(Json::MakeObject(), "x"), "");
}

}  // namespace
}  // namespace medalliance::fhir
