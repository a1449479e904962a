#include "fhir/fhirpath/fhirpath.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/test_util.h"

namespace medalliance::fhir::fhirpath {
namespace {

using test_util::MustParse;
using test_util::ReadFile;

std::string Show(const core::Result<Collection>& result) {
  if (!result.has_value())
    return "ERROR";
  if (result->empty())
    return "{}";
  std::string out;
  for (const Item& item : *result) {
    if (!out.empty())
      out += " ; ";
    out += ToDisplayString(item);
  }
  return out;
}

std::string Trim(std::string s) {
  size_t begin = s.find_first_not_of(" \t");
  size_t end = s.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

TEST(FhirPathCaseFileTest, AllCasesPass) {
  const std::string resources =
      std::string(MA_SHARED_DATA_DIR) + "/fhirpath-tests-r4/fhirpath.js/resources/";
  std::ifstream in(std::string(MA_SOURCE_DIR) + "/tests/fhir/fhirpath/cases.test");
  ASSERT_TRUE(in.good());
  std::map<std::string, Json> inputs;
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (Trim(line).empty() || Trim(line)[0] == '#')
      continue;
    size_t arrow = line.find("==>");
    ASSERT_NE(arrow, std::string::npos) << line;
    std::string left = line.substr(0, arrow);
    std::string expected = Trim(line.substr(arrow + 3));
    std::string input = "patient-example.json";
    size_t bar = left.find(".json |");
    if (bar != std::string::npos) {
      input = Trim(left.substr(0, bar + 5));
      left = left.substr(bar + 7);
    }
    if (!inputs.count(input))
      inputs[input] = MustParse(ReadFile(resources + input));
    std::string expression = Trim(left);
    EXPECT_EQ(Show(Evaluate(expression, inputs[input])), expected) << expression;
    ++cases;
  }
  EXPECT_GT(cases, 20);
}

class FhirPathTest : public ::testing::Test {
 protected:
  Json patient_ = MustParse(R"({
    "resourceType": "Patient", "id": "p1", "active": true,
    "name": [{"use": "official", "family": "Li", "given": ["Wei", "Ming"]}],
    "birthDate": "1980-05-02", "_birthDate": {"extension": [
      {"url": "http://example.org/time", "valueTime": "10:30:00"}]},
    "deceasedBoolean": false,
    "contained": [{"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Wu"}]}],
    "generalPractitioner": [{"reference": "#dr"}, {"reference": "Organization/o1"}],
    "multipleBirthInteger": 2
  })");
};

TEST_F(FhirPathTest, SyntaxErrorsReportPosition) {
  auto result = Parse("name.where(use = 'x'");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_NE(result.error().GetMessage().find("position 20"), std::string::npos)
      << result.error().GetMessage();
  EXPECT_FALSE(Parse("1 +").has_value());
  EXPECT_FALSE(Parse("'unterminated").has_value());
  EXPECT_FALSE(Parse("a /* open").has_value());
}

TEST_F(FhirPathTest, ChoiceTypesResolveByBaseName) {
  EXPECT_EQ(Show(Evaluate("Patient.deceased", patient_)), "false");
  EXPECT_EQ(Show(Evaluate("Patient.multipleBirth is integer", patient_)), "true");
  EXPECT_EQ(Show(Evaluate("Patient.deceased.type().name", patient_)), "'boolean'");
}

TEST_F(FhirPathTest, PrimitiveExtensionsAreReachable) {
  EXPECT_EQ(Show(Evaluate("birthDate.extension('http://example.org/time').value", patient_)),
            "@T10:30:00");
  EXPECT_EQ(Show(Evaluate("birthDate.hasValue()", patient_)), "true");
}

TEST_F(FhirPathTest, ResolveUsesContainedAndCallback) {
  EXPECT_EQ(Show(Evaluate("generalPractitioner.resolve().name.family", patient_)), "'Wu'");
  Json organization = MustParse(R"({"resourceType":"Organization","id":"o1","name":"Clinic"})");
  EvalOptions options;
  options.resolver = [&](std::string_view reference) -> const Json* {
    return reference == "Organization/o1" ? &organization : nullptr;
  };
  EXPECT_EQ(
      Show(Evaluate("generalPractitioner.resolve().ofType(Organization).name", patient_, options)),
      "'Clinic'");
  EXPECT_EQ(Show(Evaluate("generalPractitioner.resolve() is Practitioner", patient_)), "true");
}

TEST_F(FhirPathTest, VariablesAndTrace) {
  EvalOptions options;
  options.variables["limit"] = Collection{Item::Integer(1)};
  std::vector<std::string> traced;
  options.trace = [&](std::string_view name, const Collection& values) {
    traced.push_back(std::string(name) + ":" + std::to_string(values.size()));
  };
  EXPECT_EQ(Show(Evaluate("name.given.trace('g').take(%limit)", patient_, options)), "'Wei'");
  EXPECT_EQ(traced, std::vector<std::string>{"g:2"});
  EXPECT_EQ(Show(Evaluate("%resource.id & %context.id", patient_)), "'p1p1'");
  EXPECT_EQ(Show(Evaluate("%unknown", patient_)), "ERROR");
}

TEST_F(FhirPathTest, StrictModeRejectsUnknownElements) {
  EvalOptions strict;
  strict.strict = true;
  EXPECT_EQ(Show(Evaluate("Patient.name.given1", patient_)), "{}");
  EXPECT_EQ(Show(Evaluate("Patient.name.given1", patient_, strict)), "ERROR");
  EXPECT_EQ(Show(Evaluate("Patient.deceasedBoolean", patient_, strict)), "ERROR");
}

TEST_F(FhirPathTest, DecimalsKeepPrecision) {
  EXPECT_EQ(Show(Evaluate("1.50 + 0.25", patient_)), "1.75");
  EXPECT_EQ(Show(Evaluate("1.10 = 1.1", patient_)), "true");
  EXPECT_EQ(Show(Evaluate("(2.2 mod 1.8) = 0.4", patient_)), "true");
  EXPECT_EQ(Show(Evaluate("0.1 + 0.2 = 0.3", patient_)), "true");
  EXPECT_EQ(Show(Evaluate("1.0.toString()", patient_)), "'1.0'");
}

TEST_F(FhirPathTest, NowIsInjectable) {
  EvalOptions options;
  options.now = std::chrono::system_clock::time_point(std::chrono::milliseconds(0));
  EXPECT_EQ(Show(Evaluate("today()", patient_, options)), "@1970-01-01");
  EXPECT_EQ(Show(Evaluate("now()", patient_, options)), "@1970-01-01T00:00:00.000Z");
}

TEST_F(FhirPathTest, SharedExpressionEvaluatesConcurrently) {
  auto expression = Parse("name.where(use = 'official').given.count() + multipleBirth");
  ASSERT_TRUE(expression.has_value());
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto result = Evaluate(*expression, patient_);
        if (result.has_value() && result->size() == 1 && result->front().integer == 4)
          ++ok[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : ok) EXPECT_EQ(count, 200);
}

TEST_F(FhirPathTest, ItemsPointIntoTheResource) {
  auto result = Evaluate("name.family", patient_);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].node, patient_.Find("name")->Items()[0].Find("family"));
  EXPECT_EQ((*result)[0].type, "string");
}

}  // namespace
}  // namespace medalliance::fhir::fhirpath
