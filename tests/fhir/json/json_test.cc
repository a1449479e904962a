#include "fhir/json/json.h"

#include <gtest/gtest.h>

#include "fhir/json/members.h"

namespace medalliance::fhir {
namespace {

using core::Result;

TEST(JsonTest, RoundTripKeepsDecimalsOrderAndChinese) {
  const std::string text =
      R"({"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mmol/L"},)"
      R"("b":1e3,"a":-0.0,"name":"张伟 ZHANG Wei","esc":"line\nbreak \"q\" \\","n":null,"t":true})";
  Result<Json> parsed = ParseJson(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().GetMessage();
  EXPECT_EQ(WriteJson(*parsed), text);
}

TEST(JsonTest, EscapesControlCharactersQuotesAndBackslashes) {
  Json value = Json::MakeObject();
  value.Set("k\"ey", Json::MakeString(std::string("a\x01"
                                                  "b\tc\\d\"e\u00e9",
                                                  11)));
  std::string text = WriteJson(value);
  EXPECT_EQ(text, R"({"k\"ey":"a\u0001b\tc\\d\"eé"})");
  EXPECT_EQ(ParseJson(text).value(), value);
}

TEST(JsonTest, WritesInvalidUtf8AsReplacementCharacter) {
  // Found by rest_fuzz: GET /%FF echoed the raw byte into an OperationOutcome.
  Json value = Json::MakeString(
      "a\xFF"
      "b\xC3"
      "\xA9"
      "c\xED\xA0\x80"
      "d\xE4\xBD");
  std::string text = WriteJson(value);
  EXPECT_EQ(text,
            "\"a\xEF\xBF\xBD"
            "b\xC3\xA9"
            "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "d\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_TRUE(ParseJson(text).has_value());
}

TEST(JsonTest, RejectsDuplicateKeys) {
  Result<Json> parsed = ParseJson(R"({"a":1,"a":2})");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_NE(parsed.error().GetMessage().find("duplicate"), std::string::npos);
}

TEST(JsonTest, OnlyMembersBuildsTheNamedTopLevelMembers) {
  Result<Json> parsed = ParseJsonMembers(
      R"({"resourceType":"Observation","code":{"text":"K","status":"x"},"value":[1,{"a":2}],)"
      R"("status":"final"})",
      {"code", "status"});
  ASSERT_TRUE(parsed.has_value()) << parsed.error().GetMessage();
  EXPECT_EQ(parsed->Members().size(), 2u);
  EXPECT_EQ(parsed->GetStringMember("status"), "final");
  EXPECT_EQ(parsed->Find("code")->GetStringMember("status"), "x");  // nested: all kept
  EXPECT_EQ(parsed->Find("value"), nullptr);
}

TEST(JsonTest, RejectsMalformedInput) {
  for (const char* text :
       {"{", R"({"a":})", R"({"a":1} x)", R"({"a":01})", "[1,]", R"({"a":tru})", "\"\xff\""}) {
    EXPECT_FALSE(ParseJson(text).has_value()) << text;
  }
}

TEST(JsonTest, ParsesScalarAndArrayRoots) {
  EXPECT_EQ(ParseJson("42")->GetString(), "42");
  EXPECT_EQ(ParseJson("[1,2]")->Size(), 2u);
  EXPECT_TRUE(ParseJson("null")->IsNull());
}

TEST(JsonTest, RejectsTooDeepNesting) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(ParseJson(deep).has_value());
}

TEST(JsonTest, SetReplacesInPlaceAndAppends) {
  Json object = ParseJson(R"({"resourceType":"Patient","id":"a","active":true})").value();
  object.Set("id", Json::MakeString("b"));
  object.SetAt(1, "meta", Json::MakeObject());
  object.Set("gender", Json::MakeString("male"));
  EXPECT_EQ(WriteJson(object),
            R"({"resourceType":"Patient","meta":{},"id":"b","active":true,"gender":"male"})");
  EXPECT_TRUE(object.Erase("active"));
  EXPECT_FALSE(object.Erase("active"));
}

TEST(JsonTest, ParserUsesAVectorKernel) {
  // The On-Demand kernel is fixed at compile time; "fallback" is several times slower.
  EXPECT_NE(JsonParserKernel(), "fallback");
}

TEST(JsonTest, PrettyOutputIsIndented) {
  Json object = ParseJson(R"({"a":[1,2]})").value();
  EXPECT_EQ(WriteJson(object, {.pretty = true}), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
}

}  // namespace
}  // namespace medalliance::fhir
