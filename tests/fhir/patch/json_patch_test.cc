#include "fhir/patch/json_patch.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/test_util.h"

namespace medalliance::fhir {
namespace {

using test_util::MustParse;
using test_util::ReadFile;

TEST(JsonPatchSuiteTest, AllSharedCasesPass) {
  std::string text =
      ReadFile(std::string(MA_SHARED_DATA_DIR) + "/fhir-patch-tests-r4/json-patch-tests.json");
  ASSERT_FALSE(text.empty());
  Json cases = MustParse(text);
  ASSERT_TRUE(cases.IsArray());
  ASSERT_EQ(cases.Items().size(), 16u);
  int passed = 0;
  for (const Json& test_case : cases.Items()) {
    std::string name(test_case.GetStringMember("comment"));
    const Json* doc = test_case.Find("doc");
    const Json* patch = test_case.Find("patch");
    ASSERT_NE(doc, nullptr) << name;
    ASSERT_NE(patch, nullptr) << name;
    Json document = *doc;
    core::Status status = ApplyJsonPatch(document, *patch);
    if (const Json* expected = test_case.Find("expected")) {
      EXPECT_TRUE(status.has_value()) << name << ": " << status.error().GetMessage();
      EXPECT_TRUE(JsonValuesEqual(document, *expected))
          << name << ": got " << WriteJson(document) << " want " << WriteJson(*expected);
      if (status.has_value() && JsonValuesEqual(document, *expected))
        ++passed;
    } else {
      ASSERT_NE(test_case.Find("error"), nullptr) << name;
      EXPECT_FALSE(status.has_value()) << name << ": expected an error";
      // Atomic: a failed patch leaves the document unchanged.
      EXPECT_EQ(document, *doc) << name;
      if (!status.has_value())
        ++passed;
    }
  }
  EXPECT_EQ(passed, 16);
}

class JsonPatchTest : public ::testing::Test {
 protected:
  core::Status Apply(std::string_view patch) {
    Json parsed = MustParse(patch);
    return ApplyJsonPatch(doc_, parsed);
  }
  Json doc_ = MustParse(R"({"a":{"b":[1,2,3]},"c":"x","~k/":5})");
};

TEST_F(JsonPatchTest, AppendsWithDash) {
  ASSERT_TRUE(Apply(R"([{"op":"add","path":"/a/b/-","value":4}])").has_value());
  EXPECT_EQ(WriteJson(doc_), R"({"a":{"b":[1,2,3,4]},"c":"x","~k/":5})");
}

TEST_F(JsonPatchTest, ResolvesEscapes) {
  ASSERT_TRUE(Apply(R"([{"op":"replace","path":"/~0k~1","value":6}])").has_value());
  EXPECT_EQ(WriteJson(doc_), R"({"a":{"b":[1,2,3]},"c":"x","~k/":6})");
}

TEST_F(JsonPatchTest, ReplaceKeepsMemberOrder) {
  ASSERT_TRUE(Apply(R"([{"op":"replace","path":"/a","value":1}])").has_value());
  EXPECT_EQ(WriteJson(doc_), R"({"a":1,"c":"x","~k/":5})");
}

TEST_F(JsonPatchTest, CopyDuplicatesValue) {
  ASSERT_TRUE(Apply(R"([{"op":"copy","from":"/a/b","path":"/d"}])").has_value());
  EXPECT_EQ(WriteJson(doc_), R"({"a":{"b":[1,2,3]},"c":"x","~k/":5,"d":[1,2,3]})");
}

TEST_F(JsonPatchTest, MoveArrayElementToEnd) {
  ASSERT_TRUE(Apply(R"([{"op":"move","from":"/a/b/0","path":"/a/b/-"}])").has_value());
  EXPECT_EQ(WriteJson(doc_), R"({"a":{"b":[2,3,1]},"c":"x","~k/":5})");
}

TEST_F(JsonPatchTest, FailedTestIsUnprocessableAndAtomic) {
  Json before = doc_;
  core::Status status =
      Apply(R"([{"op":"remove","path":"/c"},{"op":"test","path":"/a/b/0","value":2}])");
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  EXPECT_NE(status.error().GetMessage().find("operation 1"), std::string::npos)
      << status.error().GetMessage();
  EXPECT_EQ(doc_, before);
}

TEST_F(JsonPatchTest, TestComparesNumbersByValue) {
  EXPECT_TRUE(Apply(R"([{"op":"test","path":"/a/b/0","value":1.0}])").has_value());
  EXPECT_TRUE(Apply(R"([{"op":"test","path":"/a/b/1","value":0.2e1}])").has_value());
  EXPECT_FALSE(Apply(R"([{"op":"test","path":"/a/b/1","value":2.01}])").has_value());
}

TEST_F(JsonPatchTest, TestComparesObjectsUnordered) {
  EXPECT_TRUE(Apply(R"([{"op":"test","path":"","value":{"c":"x","~k/":5,"a":{"b":[1,2,3]}}}])")
                  .has_value());
}

TEST_F(JsonPatchTest, RemoveMissingPathIsUnprocessable) {
  core::Status status = Apply(R"([{"op":"remove","path":"/zz"}])");
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
}

TEST_F(JsonPatchTest, IndexOutOfRangeIsUnprocessable) {
  EXPECT_EQ(Apply(R"([{"op":"add","path":"/a/b/4","value":0}])").error().GetCode(),
            core::ErrorCode::kUnprocessable);
  EXPECT_EQ(Apply(R"([{"op":"replace","path":"/a/b/01","value":0}])").error().GetCode(),
            core::ErrorCode::kUnprocessable);
  EXPECT_TRUE(Apply(R"([{"op":"add","path":"/a/b/3","value":0}])").has_value());
}

TEST_F(JsonPatchTest, MoveIntoOwnChildIsRejected) {
  EXPECT_EQ(Apply(R"([{"op":"move","from":"/a","path":"/a/x"}])").error().GetCode(),
            core::ErrorCode::kUnprocessable);
}

TEST_F(JsonPatchTest, MalformedPatchesAreBadRequest) {
  const char* malformed[] = {
      R"({"op":"add","path":"/x","value":1})",
      R"([1])",
      R"([{"path":"/x","value":1}])",
      R"([{"op":"frobnicate","path":"/x"}])",
      R"([{"op":"add","value":1}])",
      R"([{"op":"add","path":"/x"}])",
      R"([{"op":"add","path":"x","value":1}])",
      R"([{"op":"move","path":"/x"}])",
      R"([{"op":"test","path":"/c","value":"x"},{"op":"replace","path":"/c~2","value":1}])",
  };
  for (const char* patch : malformed) {
    core::Status status = Apply(patch);
    ASSERT_FALSE(status.has_value()) << patch;
    EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kBadRequest) << patch;
  }
}

TEST_F(JsonPatchTest, AddAtRootReplacesDocument) {
  ASSERT_TRUE(Apply(R"([{"op":"add","path":"","value":[1]}])").has_value());
  EXPECT_EQ(WriteJson(doc_), "[1]");
}

TEST(JsonPointerTest, ParsesTokens) {
  auto tokens = ParseJsonPointer("/a~1b/~0/");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(*tokens, (std::vector<std::string>{"a/b", "~", ""}));
  EXPECT_FALSE(ParseJsonPointer("a").has_value());
  Json doc = MustParse(R"({"a/b":[0,{"~":7}]})");
  const Json* found = ResolveJsonPointer(doc, "/a~1b/1/~0");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->GetString(), "7");
  EXPECT_EQ(ResolveJsonPointer(doc, "/a~1b/2"), nullptr);
}

TEST(JsonPatchLimitsTest, DoublingCopiesAreRefusedBeforeMemoryRunsOut) {
  // Found by json_patch_fuzz: 40 copies of the root grow a tiny document to 2^40 nodes.
  Json document = ParseJson(R"({"a":[1,2,3,4,5,6,7,8]})").value();
  std::string ops = "[";
  for (int i = 0; i < 40; ++i) {
    if (i > 0)
      ops += ",";
    ops += R"({"op":"copy","from":"","path":"/c)" + std::to_string(i) + R"("})";
  }
  ops += "]";
  Json before = document;
  core::Status status = ApplyJsonPatch(document, ParseJson(ops).value());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  EXPECT_EQ(document, before);
}

TEST(JsonPatchLimitsTest, CopiesOfLongStringsCountTheirBytes) {
  // Found by reviewing the node budget: 18 copies of a 7,000-character string stayed under a
  // million nodes while taking 1.8 GB.
  Json document = ParseJson(R"({"a":1})").value();
  std::string ops =
      R"([{"op":"add","path":"/x","value":{"s":")" + std::string(7000, 'x') + R"("}})";
  for (int i = 0; i < 19; ++i)
    ops += R"(,{"op":"copy","from":"/x","path":"/x/c)" + std::to_string(i) + R"("})";
  ops += "]";
  Json before = document;
  core::Status status = ApplyJsonPatch(document, ParseJson(ops).value());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  EXPECT_EQ(document, before);
}

}  // namespace
}  // namespace medalliance::fhir
