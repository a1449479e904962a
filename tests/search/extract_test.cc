// Index extraction: every R4 SearchParameter expression parses and evaluates, and each
// parameter type produces the rows doc/search.md describes.

#include "search/internal/extract.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
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
    if (e.param == param)
      out.push_back(e);
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
      if (!json || !json->IsObject())
        continue;
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

// `zstd -dc`, as the Synthea integration test reads its data.
std::string Decompress(const std::filesystem::path& path) {
  std::string command = "zstd -dc '" + path.string() + "'";
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return out;
  char buffer[65536];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// A resource, the resources of its Bundle entries and its contained resources, each indexed
// on its own.
void Collect(Json resource, std::vector<Json>& out) {
  if (!resource.IsObject())
    return;
  if (const Json* entries = resource.Find("entry"); entries != nullptr && entries->IsArray()) {
    for (const Json& entry : entries->Items()) {
      if (const Json* nested = entry.Find("resource"))
        Collect(*nested, out);
    }
  }
  if (const Json* contained = resource.Find("contained");
      contained != nullptr && contained->IsArray()) {
    for (const Json& nested : contained->Items()) Collect(nested, out);
  }
  if (!resource.GetStringMember("resourceType").empty())
    out.push_back(std::move(resource));
}

// Every resource of the official examples and the Synthea data sets (and of the JSON files
// under $MA_EXTRACT_EXTRA_DIR, e.g. bench/gen_patients.py output).
std::vector<Json> AllExampleResources() {
  std::vector<Json> out;
  std::filesystem::path data(MA_SHARED_DATA_DIR);
  auto add_text = [&](const std::string& text) {
    if (auto json = fhir::ParseJson(text))
      Collect(std::move(*json), out);
  };
  auto add_dir = [&](const std::filesystem::path& dir) {
    if (!std::filesystem::exists(dir))
      return;
    for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
      std::string name = file.path().string();
      if (name.ends_with(".json")) {
        add_text(ReadFile(file.path()));
      } else if (name.ends_with(".json.zst")) {
        add_text(Decompress(file.path()));
      } else if (name.ends_with(".ndjson.zst") || name.ends_with(".ndjson")) {
        std::string text = name.ends_with(".zst") ? Decompress(file.path()) : ReadFile(file.path());
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
          if (!line.empty())
            add_text(line);
        }
      }
    }
  };
  add_dir(data / "fhir-r4-spec-examples" / "resources");
  add_dir(data / "synthea-r4-bulk-ndjson-10-patients");
  add_dir(data / "synthea-r4-smart-generated-sample-data" / "bundles");
  if (const char* extra = std::getenv("MA_EXTRACT_EXTRA_DIR"))
    add_dir(extra);
  return out;
}

std::string Describe(const IndexEntry& e) {
  std::ostringstream out;
  out << e.param << " kind=" << static_cast<int>(e.kind) << " system=" << e.system
      << " value=" << e.value << " raw=" << e.raw << " low=" << e.low << " high=" << e.high
      << " number=" << e.number;
  return out.str();
}

bool SameRows(const std::vector<IndexEntry>& a, const std::vector<IndexEntry>& b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Describe(a[i]) != Describe(b[i]))
      return false;
  }
  return true;
}

// The compiled walk (and Index's one-pass roots check) must give exactly the evaluator's rows,
// in the same order, for every parameter of every example resource.
TEST(ExtractTest, CompiledWalkMatchesEvaluatorOnEveryExample) {
  std::vector<Json> resources = AllExampleResources();
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    resources.push_back(Parse(R"({"resourceType":")" + std::string(type) + R"(","id":"x"})"));
  }
  ASSERT_GT(resources.size(), 1000u);
  const Extractor& extractor = Extractor::Get();
  size_t compared = 0;
  std::vector<std::string> failures;
  for (const Json& resource : resources) {
    std::string type(resource.GetStringMember("resourceType"));
    std::vector<IndexEntry> all_evaluated;
    for (const ParamPlan& plan : extractor.Plans(type)) {
      std::vector<IndexEntry> fast;
      std::vector<IndexEntry> evaluated;
      std::string fast_error;
      std::string evaluated_error;
      bool fast_ok = extractor.IndexParam(resource, plan, fast, &fast_error);
      bool evaluated_ok =
          extractor.IndexParamWithEvaluatorForTest(resource, plan, evaluated, &evaluated_error);
      ++compared;
      if (fast_ok != evaluated_ok || fast_error != evaluated_error || !SameRows(fast, evaluated)) {
        std::string detail = type + "/" + std::string(resource.GetStringMember("id")) + " " +
                             std::string(plan.definition->code) + ": " +
                             std::to_string(fast.size()) + " rows vs " +
                             std::to_string(evaluated.size());
        if (!fast.empty())
          detail += "\n  walk: " + Describe(fast[0]);
        if (!evaluated.empty())
          detail += "\n  eval: " + Describe(evaluated[0]);
        failures.push_back(detail);
      }
      all_evaluated.insert(all_evaluated.end(), evaluated.begin(), evaluated.end());
    }
    if (!SameRows(extractor.Index(resource), all_evaluated)) {
      failures.push_back(type + "/" + std::string(resource.GetStringMember("id")) +
                         ": Index differs from the evaluated parameters");
    }
  }
  std::string listed;
  for (size_t i = 0; i < failures.size() && i < 20; ++i) listed += failures[i] + "\n";
  EXPECT_GT(compared, 50000u);
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << compared << " differ:\n" << listed;
}

// Shapes where the walk must give up and leave the evaluator to decide (or must handle
// exactly): extension-only primitives, contained and absolute references, unions with equal
// items, choice elements, where() on members.
TEST(ExtractTest, CompiledWalkMatchesEvaluatorOnEdgeCases) {
  const char* cases[] = {
      R"({"resourceType":"Patient","id":"e1","_birthDate":{"extension":[{"url":"u","valueCode":"unknown"}]},
          "name":[{"given":["A",null,"C"],"_given":[null,{"id":"g2"},null]}],
          "telecom":[{"system":"email","value":"a@b"},{"system":"phone","value":"1"},
                     {"_system":{"id":"s"},"value":"2"}],
          "deceasedBoolean":false})",
      R"({"resourceType":"Observation","id":"e2","status":"final",
          "contained":[{"resourceType":"Patient","id":"p"},{"resourceType":"Group","id":"g"}],
          "code":{"coding":[{"system":"s","code":"c"}]},
          "component":[{"code":{"coding":[{"system":"s","code":"c"}]},
                        "valueQuantity":{"value":1.0,"code":"mg"}},
                       {"code":{"coding":[{"system":"s","code":"c"}]},
                        "valueQuantity":{"value":1.00,"code":"mg"}},
                       {"code":{"coding":[{"system":"s","code":"d"}]},
                        "valueQuantity":{"value":1000,"code":"ug"}}],
          "valueQuantity":{"value":1,"code":"mg"},
          "subject":{"reference":"#p"},
          "performer":[{"reference":"http://example.org/fhir/Practitioner/1/_history/2"}],
          "focus":[{"reference":"#g"},{"reference":"urn:uuid:1"},{"display":"x"}]})",
      R"({"resourceType":"Observation","id":"e3","status":"final","code":{"text":"t"},
          "subject":{"reference":"Patient/1/_history/3"},
          "valueString":"x","_valueString":{"id":"v"},
          "effectiveDateTime":"2020","issued":"2020-01-01T00:00:00Z",
          "component":[{"code":{"text":"t"},"valueCodeableConcept":{"text":"x"}},
                       {"code":{"text":"t"},"valueCodeableConcept":{"text":"x"}}]})",
      R"({"resourceType":"Condition","id":"e4","subject":{"reference":"Patient/1"},
          "onsetAge":{"value":5,"unit":"a","system":"http://unitsofmeasure.org","code":"a"},
          "abatementString":"gone","recordedDate":"2021-02-03"})",
      R"({"resourceType":"Encounter","id":"e5","subject":{"reference":"Group/1"},
          "participant":[{"individual":{"reference":"Practitioner/1"}},
                         {"individual":{"reference":"RelatedPerson/1"}}],
          "period":{"start":"2020-01-01"},"length":{"value":3,"code":"min"},
          "location":[{"location":{"reference":"Location/1"},"period":{"end":"2020-02"}}]})",
      R"({"resourceType":"Observation","id":"e6","code":{"coding":[{"code":"x"}]},
          "codeX":1,"valueFoo":{"value":1},"status":["final","amended"]})",
  };
  const Extractor& extractor = Extractor::Get();
  for (const char* text : cases) {
    Json resource = Parse(text);
    std::string type(resource.GetStringMember("resourceType"));
    std::vector<IndexEntry> all_evaluated;
    for (const ParamPlan& plan : extractor.Plans(type)) {
      std::vector<IndexEntry> fast;
      std::vector<IndexEntry> evaluated;
      bool fast_ok = extractor.IndexParam(resource, plan, fast);
      bool evaluated_ok = extractor.IndexParamWithEvaluatorForTest(resource, plan, evaluated);
      EXPECT_EQ(fast_ok, evaluated_ok) << type << " " << plan.definition->code;
      EXPECT_TRUE(SameRows(fast, evaluated))
          << resource.GetStringMember("id") << " " << plan.definition->code << ": " << fast.size()
          << " vs " << evaluated.size();
      all_evaluated.insert(all_evaluated.end(), evaluated.begin(), evaluated.end());
    }
    EXPECT_TRUE(SameRows(extractor.Index(resource), all_evaluated))
        << resource.GetStringMember("id");
  }
}

// The common R4 expression shapes are compiled (the walk is what makes import fast).
TEST(ExtractTest, MostExpressionsAreCompiled) {
  size_t plans = 0;
  size_t compiled = 0;
  std::vector<std::string> missing;
  for (std::string_view type :
       {"Observation", "Patient", "Encounter", "DiagnosticReport", "Condition"}) {
    for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
      ++plans;
      if (plan.fast != nullptr) {
        ++compiled;
      } else {
        missing.push_back(std::string(type) + "." + std::string(plan.definition->code));
      }
    }
  }
  std::string listed;
  for (const std::string& m : missing) listed += m + " ";
  // Patient.deceased is `exists() and != false`: the only one left to the evaluator.
  EXPECT_EQ(compiled + 1, plans) << listed;
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
  // Every parameter's rows, derived ones included (what extraction computes).
  std::vector<IndexEntry> rows = Extractor::Get().Index(observation);
  // What is stored leaves out the derived parameters.
  std::vector<IndexEntry> stored = Searcher().Index(observation);
  EXPECT_TRUE(Rows(stored, "patient").empty());
  EXPECT_TRUE(Rows(stored, "code-value-quantity#0#0").empty());
  EXPECT_TRUE(Rows(stored, "combo-code").empty());
  EXPECT_EQ(Rows(stored, "subject").size(), 1u);
  EXPECT_EQ(Rows(stored, "code").size(), 1u);
  auto code = Rows(rows, "code");
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0].system, "http://loinc.org");
  auto text = Rows(rows, "code:text");
  ASSERT_EQ(text.size(), 2u);  // display and text
  // Folded for :text (a substring search); the raw copy is never read, so not stored.
  EXPECT_EQ(text[0].value, "hemoglobin");
  EXPECT_EQ(text[1].value, "hb");
  EXPECT_EQ(text[0].raw, "");
  EXPECT_EQ(text[1].raw, "");
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
