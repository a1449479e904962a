// Index extraction: every R4 SearchParameter expression parses and evaluates, and each
// parameter type produces the rows doc/search.md describes.

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "search/internal/extract.h"
#include "search/internal/text.h"
#include "search/search.h"

namespace medalliance::search {
namespace {

using fhir::Json;
using internal::Extractor;
using internal::ParamPlan;
using store::IndexEntry;
using store::IndexKind;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Json Parse(std::string_view text) {
  auto json = fhir::ParseJson(text);
  EXPECT_TRUE(json.has_value()) << text;
  return json ? std::move(*json) : Json();
}

std::vector<IndexEntry> Rows(const std::vector<IndexEntry>& all, std::string_view param) {
  std::vector<IndexEntry> out;
  for (const IndexEntry& e : all) {
    if (e.param == param) out.push_back(e);
  }
  return out;
}

// Example resources by type: the official examples in ../shared/data, and a minimal resource
// for every other type.
std::map<std::string, std::vector<Json>> Examples() {
  std::map<std::string, std::vector<Json>> out;
  std::filesystem::path dir =
      std::filesystem::path(MA_SHARED_DATA_DIR) / "fhir-r4-spec-examples" / "resources";
  if (std::filesystem::exists(dir)) {
    for (const auto& file : std::filesystem::directory_iterator(dir)) {
      auto json = fhir::ParseJson(ReadFile(file.path()));
      if (!json || !json->IsObject()) continue;
      std::string type(json->GetStringMember("resourceType"));
      out[type].push_back(std::move(*json));
    }
  }
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    auto& list = out[std::string(type)];
    list.push_back(Parse(R"({"resourceType":")" + std::string(type) +
                         R"(","id":"x","meta":{"lastUpdated":"2024-01-01T00:00:00Z"}})"));
  }
  return out;
}

TEST(ExtractTest, EverySearchParameterExpressionParses) {
  int count = 0;
  std::vector<std::string> failures;
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
      ++count;
      if (!plan.parsed) {
        failures.push_back(std::string(type) + "." + std::string(plan.definition->code) + ": " +
                           plan.parse_error);
      }
      for (const auto& component : plan.components) {
        if (!component.parsed) {
          failures.push_back(std::string(type) + "." + std::string(plan.definition->code) +
                             " component");
        }
      }
    }
  }
  EXPECT_GT(count, 1400);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures[0];
}

TEST(ExtractTest, EverySearchParameterEvaluatesOnExamplesOfItsType) {
  std::map<std::string, std::vector<Json>> examples = Examples();
  int evaluations = 0;
  std::vector<std::string> failures;
  for (const auto& [type, resources] : examples) {
    for (const Json& resource : resources) {
      for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
        std::vector<IndexEntry> rows;
        std::string error;
        ++evaluations;
        if (!Extractor::Get().IndexParam(resource, plan, rows, &error)) {
          failures.push_back(type + "/" + std::string(resource.GetStringMember("id")) + " " +
                             std::string(plan.definition->code) + ": " + error);
        }
      }
    }
  }
  std::string listed;
  for (size_t i = 0; i < failures.size() && i < 20; ++i) listed += failures[i] + "\n";
  EXPECT_GT(evaluations, 10000);
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << evaluations << " failed:\n"
                                << listed;
}

TEST(ExtractTest, PatientRowsPerType) {
  Json patient = Parse(R"({"resourceType":"Patient","id":"p1",
    "meta":{"lastUpdated":"2024-05-01T10:00:00Z","tag":[{"system":"urn:t","code":"a"}]},
    "identifier":[{"system":"urn:mrn","value":"123",
                   "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
    "active":true,
    "name":[{"family":"Müller","given":["Renée","Zoë"]},{"text":"张三","family":"张","given":["三"]}],
    "telecom":[{"system":"phone","value":"555-1234"}],
    "gender":"female","birthDate":"1980-03",
    "managingOrganization":{"reference":"Organization/o1/_history/2"},
    "generalPractitioner":[{"identifier":{"system":"urn:npi","value":"99"}}]})");
  std::vector<IndexEntry> rows = Searcher().Index(patient);

  auto identifier = Rows(rows, "identifier");
  ASSERT_EQ(identifier.size(), 1u);
  EXPECT_EQ(identifier[0].kind, IndexKind::kToken);
  EXPECT_EQ(identifier[0].system, "urn:mrn");
  EXPECT_EQ(identifier[0].value, "123");
  auto of_type = Rows(rows, "identifier:of-type");
  ASSERT_EQ(of_type.size(), 1u);
  EXPECT_EQ(of_type[0].value, "MR|123");

  auto family = Rows(rows, "family");
  ASSERT_EQ(family.size(), 2u);
  EXPECT_EQ(family[0].value, "muller");
  EXPECT_EQ(family[0].raw, "Müller");
  EXPECT_EQ(family[1].value, "张");
  auto name = Rows(rows, "name");
  std::vector<std::string> names;
  for (const auto& e : name) names.push_back(e.value);
  EXPECT_NE(std::find(names.begin(), names.end(), "renee"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "张三"), names.end());

  auto birthdate = Rows(rows, "birthdate");
  ASSERT_EQ(birthdate.size(), 1u);
  EXPECT_EQ(birthdate[0].kind, IndexKind::kDate);
  EXPECT_EQ(birthdate[0].low, 320716800000);   // 1980-03-01
  EXPECT_EQ(birthdate[0].high, 323395200000);  // 1980-04-01

  auto active = Rows(rows, "active");
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].value, "true");

  auto phone = Rows(rows, "phone");
  ASSERT_EQ(phone.size(), 1u);
  EXPECT_EQ(phone[0].value, "555-1234");

  auto organization = Rows(rows, "organization");
  ASSERT_EQ(organization.size(), 1u);
  EXPECT_EQ(organization[0].kind, IndexKind::kReference);
  EXPECT_EQ(organization[0].value, "Organization/o1");

  auto gp = Rows(rows, "general-practitioner:identifier");
  ASSERT_EQ(gp.size(), 1u);
  EXPECT_EQ(gp[0].system, "urn:npi");

  auto tag = Rows(rows, "_tag");
  ASSERT_EQ(tag.size(), 1u);
  EXPECT_EQ(tag[0].value, "a");
  EXPECT_TRUE(Rows(rows, "_id").empty());  // answered from current_resources
}

TEST(ExtractTest, ObservationQuantityDatePeriodAndComposite) {
  Json observation = Parse(R"({"resourceType":"Observation","id":"o1","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"718-7","display":"Hemoglobin"}],
            "text":"Hb"},
    "subject":{"reference":"Patient/p1"},
    "effectivePeriod":{"start":"2024-01-01","end":"2024-01-03T12:00:00Z"},
    "valueQuantity":{"value":13.5,"unit":"g/dL","system":"http://unitsofmeasure.org","code":"g/dL"}})");
  std::vector<IndexEntry> rows = Searcher().Index(observation);
  auto code = Rows(rows, "code");
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0].system, "http://loinc.org");
  auto text = Rows(rows, "code:text");
  EXPECT_EQ(text.size(), 2u);  // display and text
  auto patient = Rows(rows, "patient");
  ASSERT_EQ(patient.size(), 1u);
  EXPECT_EQ(patient[0].value, "Patient/p1");
  auto date = Rows(rows, "date");
  ASSERT_EQ(date.size(), 1u);
  EXPECT_EQ(date[0].low, 1704067200000);
  EXPECT_EQ(date[0].high, 1704283201000);  // second precision
  auto quantity = Rows(rows, "value-quantity");
  ASSERT_EQ(quantity.size(), 1u);
  EXPECT_DOUBLE_EQ(quantity[0].number, 13.5);
  EXPECT_EQ(quantity[0].value, "g/dL");
  EXPECT_EQ(Rows(rows, "code-value-quantity#0#0").size(), 1u);
  EXPECT_EQ(Rows(rows, "code-value-quantity#0#1").size(), 1u);
}

TEST(TextTest, FoldsCaseAndAccentsAndKeepsChinese) {
  EXPECT_EQ(internal::FoldText("ÉLODIE Ærø Straße"), "elodie aero strasse");
  EXPECT_EQ(internal::FoldText("Łukasz Dvořák"), "lukasz dvorak");
  EXPECT_EQ(internal::FoldText("ＡＢＣ　张三"), "abc 张三");
  EXPECT_EQ(internal::FoldText("ΑΘΗΝΑ Москва"), "αθηνα москва");
  EXPECT_TRUE(internal::HasCjk("王小明"));
  EXPECT_FALSE(internal::HasCjk("Renée"));
}

}  // namespace
}  // namespace medalliance::search
