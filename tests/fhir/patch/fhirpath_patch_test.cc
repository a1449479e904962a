#include "fhir/patch/fhirpath_patch.h"

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/patch/json_patch.h"
#include "fhir/test_util.h"

namespace medalliance::fhir {
namespace {

using test_util::MustParse;
using test_util::ReadFile;

// The official cases (fhir-test-cases r4/patch/fhir-patch-tests.xml), converted to JSON by
// tools/fhirpatch/convert_fhir_patch_tests.py. Every case must pass; none is excepted.
TEST(FhirPathPatchSuiteTest, AllOfficialCasesPass) {
  std::string text =
      ReadFile(std::string(MA_SOURCE_DIR) + "/tests/fhir/patch/fhir_patch_tests.json");
  ASSERT_FALSE(text.empty());
  Json cases = MustParse(text);
  ASSERT_TRUE(cases.IsArray());
  ASSERT_EQ(cases.Size(), 33u);
  int passed = 0;
  for (const Json& test_case : cases.Items()) {
    std::string name(test_case.GetStringMember("name"));
    Json resource = *test_case.Find("input");
    const Json original = resource;
    core::Status status = ApplyFhirPathPatch(resource, *test_case.Find("patch"));
    if (const Json* expected = test_case.Find("output")) {
      EXPECT_TRUE(status.has_value()) << name << ": " << status.error().GetMessage();
      bool same = status.has_value() && JsonValuesEqual(resource, *expected);
      EXPECT_TRUE(same) << name << "\n  got:      " << WriteJson(resource)
                        << "\n  expected: " << WriteJson(*expected);
      if (same)
        ++passed;
    } else {
      EXPECT_FALSE(status.has_value()) << name << ": expected an error";
      if (!status.has_value()) {
        EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable) << name;
        EXPECT_TRUE(resource == original) << name << ": a failed patch changed the resource";
        if (status.error().GetCode() == core::ErrorCode::kUnprocessable)
          ++passed;
      }
    }
  }
  std::printf("FHIRPath Patch official cases: %d / %zu pass\n", passed, cases.Size());
  EXPECT_EQ(passed, 33);
}

// --- Unit tests: a small builder keeps the Parameters readable. ---

class FhirPathPatchTest : public ::testing::Test {
 protected:
  // One operation; `extra` is a JSON list of further parts (without the brackets).
  static Json Operation(std::string_view type, std::string_view path, std::string_view extra = {}) {
    std::string text = R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)";
    text += R"({"name":"type","valueCode":")";
    text += type;
    text += R"("},{"name":"path","valueString":")";
    text += path;
    text += R"("})";
    if (!extra.empty()) {
      text += ',';
      text += extra;
    }
    text += "]}]}";
    return MustParse(text);
  }

  core::Status Apply(const Json& patch) { return ApplyFhirPathPatch(resource_, patch); }

  Json resource_ = MustParse(R"({"resourceType":"Patient","id":"p1",
    "name":[{"family":"Chalmers","given":["Peter","James"],"_given":[null,{"id":"g2"}]}],
    "birthDate":"1974-12-25",
    "_birthDate":{"extension":[{"url":"http://example.org/t","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
    "deceasedBoolean":false,
    "extension":[{"url":"http://example.org/w","valueDecimal":1.50}]})");
};

TEST_F(FhirPathPatchTest, NumbersKeepTheirText) {
  ASSERT_TRUE(Apply(Operation("replace", "Patient.extension[0].value",
                              R"({"name":"value","valueDecimal":2.50})"))
                  .has_value());
  EXPECT_EQ(WriteJson(*resource_.Find("extension")),
            R"([{"url":"http://example.org/w","valueDecimal":2.50}])");
}

TEST_F(FhirPathPatchTest, AddsChoiceElementByBaseName) {
  ASSERT_TRUE(Apply(Operation("add", "Patient",
                              R"({"name":"name","valueString":"multipleBirth"},)"
                              R"({"name":"value","valueInteger":2})"))
                  .has_value());
  EXPECT_EQ(WriteJson(*resource_.Find("multipleBirthInteger")), "2");
  auto again = Apply(Operation("add", "Patient",
                               R"({"name":"name","valueString":"multipleBirth"},)"
                               R"({"name":"value","valueBoolean":true})"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().GetCode(), core::ErrorCode::kUnprocessable);
}

TEST_F(FhirPathPatchTest, ReplaceRenamesChoiceElementForNewType) {
  ASSERT_TRUE(Apply(Operation("replace", "Patient.deceased",
                              R"({"name":"value","valueDateTime":"2020-01-01"})"))
                  .has_value());
  EXPECT_EQ(resource_.Find("deceasedBoolean"), nullptr);
  ASSERT_NE(resource_.Find("deceasedDateTime"), nullptr);
  EXPECT_EQ(resource_.Find("deceasedDateTime")->GetString(), "2020-01-01");
}

TEST_F(FhirPathPatchTest, PrimitiveListStaysAlignedWithExtensions) {
  ASSERT_TRUE(Apply(Operation("insert", "Patient.name[0].given",
                              R"({"name":"index","valueInteger":0},)"
                              R"({"name":"value","valueString":"Jim"})"))
                  .has_value());
  const Json& name = resource_.Find("name")->Items()[0];
  EXPECT_EQ(WriteJson(*name.Find("given")), R"(["Jim","Peter","James"])");
  EXPECT_EQ(WriteJson(*name.Find("_given")), R"([null,null,{"id":"g2"}])");

  ASSERT_TRUE(Apply(Operation("move", "Patient.name[0].given",
                              R"({"name":"source","valueInteger":2},)"
                              R"({"name":"destination","valueInteger":0})"))
                  .has_value());
  const Json& moved = resource_.Find("name")->Items()[0];
  EXPECT_EQ(WriteJson(*moved.Find("given")), R"(["James","Jim","Peter"])");
  EXPECT_EQ(WriteJson(*moved.Find("_given")), R"([{"id":"g2"},null,null])");

  ASSERT_TRUE(Apply(Operation("delete", "Patient.name[0].given[0]")).has_value());
  const Json& deleted = resource_.Find("name")->Items()[0];
  EXPECT_EQ(WriteJson(*deleted.Find("given")), R"(["Jim","Peter"])");
  EXPECT_EQ(deleted.Find("_given"), nullptr);  // only nulls were left
}

TEST_F(FhirPathPatchTest, DeletingAPrimitiveRemovesItsExtensions) {
  ASSERT_TRUE(Apply(Operation("delete", "Patient.birthDate")).has_value());
  EXPECT_EQ(resource_.Find("birthDate"), nullptr);
  EXPECT_EQ(resource_.Find("_birthDate"), nullptr);
}

TEST_F(FhirPathPatchTest, DeletingTheLastExtensionRemovesTheEmptyObject) {
  ASSERT_TRUE(Apply(Operation("delete", "Patient.birthDate.extension[0]")).has_value());
  EXPECT_EQ(resource_.Find("_birthDate"), nullptr);
  ASSERT_NE(resource_.Find("birthDate"), nullptr);
}

TEST_F(FhirPathPatchTest, AddsExtensionToPrimitive) {
  ASSERT_TRUE(Apply(Operation("add", "Patient.name[0].family",
                              R"({"name":"name","valueString":"extension"},)"
                              R"({"name":"value","part":[)"
                              R"({"name":"url","valueUri":"http://example.org/p"},)"
                              R"({"name":"value","valueString":"VV"}]})"))
                  .has_value());
  const Json& name = resource_.Find("name")->Items()[0];
  EXPECT_EQ(WriteJson(*name.Find("_family")),
            R"({"extension":[{"url":"http://example.org/p","valueString":"VV"}]})");
}

TEST_F(FhirPathPatchTest, DeleteOfNothingChangesNothing) {
  Json before = resource_;
  ASSERT_TRUE(Apply(Operation("delete", "Patient.maritalStatus")).has_value());
  EXPECT_TRUE(resource_ == before);
}

TEST_F(FhirPathPatchTest, FailureLeavesResourceUnchanged) {
  Json before = resource_;
  Json patch = MustParse(R"({"resourceType":"Parameters","parameter":[
    {"name":"operation","part":[{"name":"type","valueCode":"delete"},
                                {"name":"path","valueString":"Patient.birthDate"}]},
    {"name":"operation","part":[{"name":"type","valueCode":"replace"},
                                {"name":"path","valueString":"Patient.gender"},
                                {"name":"value","valueCode":"male"}]}]})");
  auto status = Apply(patch);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  EXPECT_NE(status.error().GetMessage().find("operation 1 (replace)"), std::string::npos)
      << status.error().GetMessage();
  EXPECT_TRUE(resource_ == before);
}

TEST_F(FhirPathPatchTest, SeveralMatchesWhereOneIsRequiredIsUnprocessable) {
  auto status =
      Apply(Operation("replace", "Patient.name.given", R"({"name":"value","valueString":"X"})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
}

TEST_F(FhirPathPatchTest, IndexOutOfRangeIsUnprocessable) {
  auto status = Apply(Operation("insert", "Patient.name",
                                R"({"name":"index","valueInteger":5},)"
                                R"({"name":"value","valueHumanName":{"family":"X"}})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
}

TEST_F(FhirPathPatchTest, MalformedParametersAreBadRequests) {
  const char* bodies[] = {
      R"({"resourceType":"Patient"})",
      R"({"resourceType":"Parameters","parameter":{}})",
      R"({"resourceType":"Parameters","parameter":[{"name":"op"}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[
          {"name":"type","valueCode":"upsert"},{"name":"path","valueString":"Patient"}]}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[
          {"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"}]}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[
          {"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.("}]}]})",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[
          {"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},
          {"name":"source","valueString":"0"},{"name":"destination","valueInteger":0}]}]})",
  };
  for (const char* body : bodies) {
    auto status = Apply(MustParse(body));
    ASSERT_FALSE(status.has_value()) << body;
    EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kBadRequest) << body;
    EXPECT_NE(status.error().GetMessage(), "");
  }
}

TEST_F(FhirPathPatchTest, PathToComputedValueIsUnprocessable) {
  auto status = Apply(Operation("delete", "Patient.name.given.count()"));
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
}

}  // namespace
}  // namespace medalliance::fhir
