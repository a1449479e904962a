#include "fhir/json/json.h"

#include <string>
#include <string_view>
#include <vector>

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

// The JSON literal of `text`, a byte at a time (no invalid UTF-8 in the inputs below).
std::string QuotedByteByByte(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

TEST(JsonTest, EscapesEveryCharacterAtEveryPositionOfLongRuns) {
  // The writer skips plain bytes eight at a time: a byte to escape (or a multi-byte UTF-8
  // character) at any offset of a long run, and at its end, must still be found.
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\t", "\x01", "\x1f",  "\x7f",
                                             " ",  "~",  "é",  "张", "😀",    "\r\b\f"};
  for (const std::string& special : specials) {
    for (size_t length : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40}) {
      for (size_t at = 0; at <= length; ++at) {
        std::string text(length, 'a');
        for (size_t i = 0; i < length; ++i) text[i] = static_cast<char>('a' + i % 26);
        text.insert(at, special);
        std::string written;
        AppendJsonString(text, written);
        EXPECT_EQ(written, QuotedByteByByte(text)) << length << " " << at;
        Json value = Json::MakeString(text);
        EXPECT_EQ(ParseJson(WriteJson(value)).value(), value);
        // Keys are written by their own path (short plain keys at once).
        Json object = Json::MakeObject();
        object.Set(text, Json::MakeNumber(1));
        EXPECT_EQ(WriteJson(object), "{" + QuotedByteByByte(text) + ":1}") << length << " " << at;
        EXPECT_EQ(WriteJson(object, {.pretty = true}), "{\n  " + QuotedByteByByte(text) + ": 1\n}");
      }
    }
  }
  // Invalid UTF-8 after a long plain run, and a run ending at the string's end.
  std::string text = std::string(19, 'x') + "\xFF" + std::string(9, 'y');
  std::string written;
  AppendJsonString(text, written);
  EXPECT_EQ(written, "\"" + std::string(19, 'x') + "\xEF\xBF\xBD" + std::string(9, 'y') + "\"");
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
