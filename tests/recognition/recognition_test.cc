// The recognition engine through RestService over an in-memory store (no HTTP): generated
// patients, members, qualifications and results with a known answer for every reason of
// $recognize, validity boundary days in Asia/Shanghai, qualifications starting and ending
// between two reports, amended reports, linked identities (MPI), the HR mark, the order alert
// and the decisions.

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/time.h"
#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "mpi/identifiers.h"
#include "mpi/match_operation.h"
#include "mpi/patient_hook.h"
#include "mpi/patient_index.h"
#include "recognition/catalogue.h"
#include "recognition/engine.h"
#include "recognition/hooks.h"
#include "recognition/metrics_operation.h"
#include "recognition/recognize_operation.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::recognition {
namespace {

using api::rest::FhirRequest;
using api::rest::FhirResponse;
using Json = nlohmann::ordered_json;

constexpr char kMark[] = "https://fhir.medalliance.cn/CodeSystem/recognition|HR";
constexpr char kAt[] = "2026-06-15T10:00:00+08:00";

core::EpochMillis Instant(std::string_view text) {
  return core::ParseFhirDateTime(text).value().low;
}

std::string ResidentId(std::string_view first17) {
  return std::string(first17) + mpi::ResidentIdCheckCharacter(first17);
}

Json Ref(const std::string& reference) {
  return Json{{"reference", reference}};
}

Json Loinc(const std::string& code) {
  return Json{{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", code}}})}};
}

class RecognitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    patient_index_ = std::make_unique<mpi::PatientIndex>();
    patient_hook_ =
        std::make_unique<mpi::PatientHook>(*patient_index_, mpi::PatientHookOptions{&clock_});
    engine_ = std::make_unique<Engine>(cache_);
    mark_hook_ = std::make_unique<MarkHook>(*engine_, HookOptions{&clock_, "粤HR"});
    order_hook_ = std::make_unique<OrderAlertHook>(*engine_, HookOptions{&clock_, "粤HR"});
    decision_hook_ = std::make_unique<DecisionHook>(*engine_, HookOptions{&clock_, "粤HR"});
    qualification_hook_ =
        std::make_unique<QualificationHook>(*engine_, HookOptions{&clock_, "粤HR"});
    operation_ = std::make_unique<RecognizeOperation>(*engine_, &clock_);
    metrics_ = std::make_unique<RecognitionMetrics>(*engine_, &clock_);
    api::rest::RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.validate = [](const fhir::Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.clock = &clock_;
    config.hooks = {patient_hook_.get(),       mark_hook_.get(),
                    order_hook_.get(),         decision_hook_.get(),
                    qualification_hook_.get(), &audit_hook_};  // audit last, as `serve` wires it
    config.operations = {operation_.get(), metrics_.get()};
    service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
    search::Searcher searcher;
    ASSERT_EQ(SeedRecognitionData(*store_, searcher, clock_.Now()).value(), 3);
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {},
                    std::string prefer = {}) {
    FhirRequest request;
    request.method = std::move(method);
    size_t question = url.find('?');
    api::rest::SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos) {
      request.params = api::rest::ParseQueryString(url.substr(question + 1));
    }
    request.body = std::move(body);
    request.content_type = "application/fhir+json";
    request.base_url = "http://test";
    if (!prefer.empty())
      request.headers.Set("Prefer", prefer);
    return service_->Handle(request);
  }

  std::string Create(const Json& resource, int expected = 201) {
    FhirResponse response = Send("POST", resource["resourceType"], resource.dump());
    EXPECT_EQ(response.status, expected) << response.body;
    return Json::parse(response.body).value("id", "");
  }

  void Put(const Json& resource) {
    FhirResponse response =
        Send("PUT", std::string(resource["resourceType"]) + "/" + std::string(resource["id"]),
             resource.dump());
    EXPECT_TRUE(response.status == 200 || response.status == 201) << response.body;
  }

  std::set<std::string> SearchIds(const std::string& url) {
    FhirResponse response = Send("GET", url);
    EXPECT_EQ(response.status, 200) << response.body;
    std::set<std::string> out;
    for (const Json& entry : Json::parse(response.body).value("entry", Json::array())) {
      if (entry["search"].value("mode", "") == "match")
        out.insert(entry["resource"]["resourceType"].get<std::string>() + "/" +
                   entry["resource"]["id"].get<std::string>());
    }
    return out;
  }

  // The catalogue CodeSystem without the item `code`.
  static Json WithoutItem(Json catalogue, const std::string& code) {
    Json& concepts = catalogue["concept"];
    concepts.erase(std::remove_if(concepts.begin(), concepts.end(),
                                  [&](const Json& item) { return item["code"] == code; }),
                   concepts.end());
    return catalogue;
  }

  void Organization(const std::string& id, const std::string& part_of = {}) {
    Json organization = {{"resourceType", "Organization"}, {"id", id}, {"name", id}};
    if (!part_of.empty())
      organization["partOf"] = Ref("Organization/" + part_of);
    Put(organization);
  }

  // A qualification of `member` for `scope` over [start, end] (Shanghai dates).
  std::string Qualification(const std::string& member, const std::string& scope,
                            const std::string& start, const std::string& end) {
    Json period = {{"start", start}};
    if (!end.empty())
      period["end"] = end;
    Json basic = {
        {"resourceType", "Basic"},
        {"extension",
         Json::array(
             {{{"url", std::string(kQualificationExtension)},
               {"extension", Json::array({{{"url", "scope"}, {"valueCode", scope}},
                                          {{"url", "period"}, {"valuePeriod", period}},
                                          {{"url", "scheme"},
                                           {"valueString", "广东省临床检验中心室间质评"}}})}}})},
        {"code",
         {{"coding", Json::array({{{"system", std::string(kRecognitionSystem)},
                                   {"code", std::string(kQualificationCode)}}})}}},
        {"subject", Ref("Organization/" + member)}};
    return Create(basic);
  }

  std::string Patient(const std::string& member, const std::string& mrn,
                      const std::string& resident_id) {
    Json patient = {
        {"resourceType", "Patient"},
        {"identifier",
         Json::array({{{"system", "https://fhir.medalliance.cn/sid/mrn/" + member}, {"value", mrn}},
                      {{"system", std::string(mpi::kResidentIdSystem)}, {"value", resident_id}}})},
        {"name", Json::array({{{"family", "陈"}, {"given", Json::array({"晓明"})}}})},
        {"gender", "male"},
        {"birthDate", "1968-03-21"}};
    return "Patient/" + Create(patient);
  }

  Json Observation(const std::string& patient, const std::string& performer,
                   const std::string& loinc, const std::string& issued,
                   const std::string& status = "final") {
    Json observation = {
        {"resourceType", "Observation"},
        {"status", status},
        {"category", Json::array({{{"coding", Json::array({{{"system",
                                                             "http://terminology.hl7.org/"
                                                             "CodeSystem/observation-category"},
                                                            {"code", "laboratory"}}})}}})},
        {"code", Loinc(loinc)},
        {"subject", Ref(patient)},
        {"effectiveDateTime", issued},
        {"issued", issued},
        {"valueQuantity", {{"value", 4.1}, {"unit", "mmol/L"}}}};
    if (!performer.empty())
      observation["performer"] = Json::array({Ref("Organization/" + performer)});
    return observation;
  }

  std::string Obs(const std::string& patient, const std::string& performer,
                  const std::string& loinc, const std::string& issued,
                  const std::string& status = "final") {
    return "Observation/" + Create(Observation(patient, performer, loinc, issued, status));
  }

  Json Recognize(const Json& parameters, int expected = 200) {
    FhirResponse response = Send("POST", "$recognize", parameters.dump());
    EXPECT_EQ(response.status, expected) << response.body;
    return Json::parse(response.body);
  }

  static Json Params(const Json& who, const std::vector<Json>& items, const std::string& at = kAt) {
    Json parameters = {{"resourceType", "Parameters"}, {"parameter", Json::array({who})}};
    parameters["parameter"].push_back(
        {{"name", "orderer"}, {"valueReference", Ref("Organization/gz-central")}});
    for (const Json& item : items)
      parameters["parameter"].push_back({{"name", "item"}, {"valueCoding", item}});
    if (!at.empty())
      parameters["parameter"].push_back({{"name", "at"}, {"valueDateTime", at}});
    return parameters;
  }

  static Json LoincItem(const std::string& code) {
    return Json{{"system", "http://loinc.org"}, {"code", code}};
  }

  // reference -> reason codes ("" for reusable) of one result part; also checks the order.
  static std::map<std::string, std::set<std::string>> Verdicts(const Json& result) {
    std::map<std::string, std::set<std::string>> out;
    for (const Json& part : result["part"]) {
      std::string name = part["name"];
      if (name != "reusable" && name != "not-reusable")
        continue;
      std::string reference;
      std::set<std::string> reasons;
      for (const Json& sub : part["part"]) {
        if (sub["name"] == "reference")
          reference = sub["valueReference"]["reference"];
        if (sub["name"] == "reason")
          reasons.insert(sub["valueCoding"]["code"].get<std::string>());
      }
      if (name == "reusable")
        EXPECT_TRUE(reasons.empty()) << part.dump();
      else
        EXPECT_FALSE(reasons.empty()) << part.dump();
      out[reference] = reasons;
    }
    return out;
  }

  static const Json& Result(const Json& answer, size_t index) {
    size_t seen = 0;
    for (const Json& parameter : answer["parameter"]) {
      if (parameter["name"] == "result" && seen++ == index)
        return parameter;
    }
    static const Json kNone = Json::object();
    ADD_FAILURE() << "no result " << index << " in " << answer.dump();
    return kNone;
  }

  static const Json* PartOf(const Json& parts, const std::string& reference,
                            const std::string& name) {
    for (const Json& part : parts["part"]) {
      bool match = false;
      for (const Json& sub : part.value("part", Json::array())) {
        if (sub["name"] == "reference" && sub["valueReference"]["reference"] == reference)
          match = true;
      }
      if (!match)
        continue;
      for (const Json& sub : part["part"]) {
        if (sub["name"] == name)
          return &sub;
      }
    }
    return nullptr;
  }

  // The standard alliance: members, departments and qualifications.
  void Alliance() {
    Organization("gz-central");
    Organization("gz-central-lab", "gz-central");
    Organization("sz-heart");
    Organization("gz-tianhe-chc");
    Qualification("gz-central", "lab", "2025-01-01", "2026-12-31");
    Qualification("gz-central", "CT", "2025-01-01", "2026-12-31");
    // sz-heart passed immunology from 1 March 2026 only.
    Qualification("sz-heart", "immunology", "2026-03-01", "2027-02-28");
    // gz-central's immunology ended on 30 April 2026 (lab above covers others).
  }

  core::FakeClock clock_{Instant(kAt)};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<mpi::PatientIndex> patient_index_;
  std::unique_ptr<mpi::PatientHook> patient_hook_;
  CatalogueCache cache_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<MarkHook> mark_hook_;
  std::unique_ptr<OrderAlertHook> order_hook_;
  std::unique_ptr<DecisionHook> decision_hook_;
  std::unique_ptr<QualificationHook> qualification_hook_;
  std::unique_ptr<RecognizeOperation> operation_;
  std::unique_ptr<RecognitionMetrics> metrics_;
  audit::AuditWriteHook audit_hook_{clock_};
  std::unique_ptr<api::rest::RestService> service_;
};

TEST_F(RecognitionTest, SeededCatalogueIsAValidCodeSystemWithEnoughItems) {
  FhirResponse response = Send("GET", "CodeSystem/recognition-item");
  ASSERT_EQ(response.status, 200) << response.body;
  fhir::Json json = fhir::ParseJson(response.body).value();
  core::Status valid = fhir::validation::ValidateResource(json);
  EXPECT_TRUE(valid.has_value()) << (valid ? "" : valid.error().GetMessage());
  Catalogue catalogue = Catalogue::FromCodeSystem(json).value();
  int labs = 0;
  int exams = 0;
  for (const Item& item : catalogue.Items()) {
    (item.category == Category::kLab ? labs : exams)++;
    EXPECT_FALSE(item.price_yuan.empty()) << item.code;
    EXPECT_FALSE(item.qc_group.empty()) << item.code;
  }
  EXPECT_GE(labs, 60);
  EXPECT_GE(exams, 6);
  // The published examples: electrolytes 7 days, most chemistry 30, HbA1c 60.
  EXPECT_EQ(catalogue.Find("http://loinc.org", "2823-3")->validity_days, 7);
  EXPECT_EQ(catalogue.Find("http://loinc.org", "1742-6")->validity_days, 30);
  EXPECT_EQ(catalogue.Find("http://loinc.org", "4548-4")->validity_days, 60);
  EXPECT_EQ(catalogue.Find("http://loinc.org", "14749-6")->code, "lab-glu");  // equivalent
  EXPECT_EQ(catalogue.Find(std::string(kLocalCodePrefix) + "gz-central", "SH-K")->code, "lab-k");
  EXPECT_EQ(catalogue.FindExam("CT", "69536005")->code, "exam-ct-head");
  FhirResponse definition = Send("GET", "OperationDefinition/recognize");
  EXPECT_EQ(definition.status, 200) << definition.body;
  FhirResponse metadata = Send("GET", "metadata");
  EXPECT_NE(metadata.body.find(kRecognizeDefinition), std::string::npos);
  EXPECT_NE(metadata.body.find(kMetricsDefinition), std::string::npos);
  EXPECT_EQ(Send("GET", "OperationDefinition/recognition-metrics").status, 200);
}

TEST_F(RecognitionTest, ShanghaiDaysAndValidityBoundaries) {
  // 00:30 in Shanghai is still the previous day in UTC.
  EXPECT_EQ(FormatDay(ShanghaiDay(Instant("2026-06-08T00:30:00+08:00"))), "2026-06-08");
  EXPECT_EQ(FormatDay(ShanghaiDay(Instant("2026-06-07T16:30:00Z"))), "2026-06-08");
  EXPECT_EQ(FormatDay(ShanghaiDay(Instant("2026-06-07T15:59:59Z"))), "2026-06-07");
  EXPECT_EQ(FormatDay(ShanghaiDay(Instant("1969-12-31T15:00:00Z"))), "1969-12-31");
}

TEST_F(RecognitionTest, KnownAnswersForEveryReason) {
  Alliance();
  std::string resident = ResidentId("44010619680321123");
  std::string a = Patient("gz-central", "GZ-1", resident);  // the patient asking
  std::string b = Patient("sz-heart", "SZ-1", resident);    // the same person at sz-heart

  // Potassium (7 days), at a department of gz-central: issued 8 June, last valid day 15 June.
  std::string k_last_day = Obs(a, "gz-central-lab", "2823-3", "2026-06-08T09:00:00+08:00");
  // Sodium issued at 00:30 Shanghai on 8 June (7 June in UTC): still valid.
  std::string na_tz = Obs(a, "gz-central", "2951-2", "2026-06-08T00:30:00+08:00");
  // Chloride issued one minute before midnight on 7 June: 16 June... is the first expired day
  // for it? No: last valid day 14 June, so on 15 June it expired 1 day ago.
  std::string cl_expired = Obs(a, "gz-central", "2075-0", "2026-06-07T23:59:00+08:00");
  // HbA1c (60 days) at sz-heart on the linked identity: issued 16 April, valid through 15 June
  // — but sz-heart is qualified for immunology only, HbA1c is chemistry.
  std::string a1c_unqualified = Obs(b, "sz-heart", "4548-4", "2026-04-16T08:00:00+08:00");
  // HbA1c at gz-central with another method.
  Json a1c_method = Observation(a, "gz-central", "4548-4", "2026-06-01T08:00:00+08:00");
  a1c_method["method"] = {{"text", "immunoassay"}};
  std::string a1c_other_method = "Observation/" + Create(a1c_method);
  std::string a1c_ok = Obs(a, "gz-central", "17856-6", "2026-04-16T08:00:00+08:00");
  // HBsAg (180 days) at sz-heart: the qualification starts on 1 March 2026.
  std::string hbsag_before = Obs(b, "sz-heart", "5196-1", "2026-02-28T16:00:00+08:00");
  std::string hbsag_after = Obs(b, "sz-heart", "5196-1", "2026-03-01T08:00:00+08:00");
  // ... and at gz-tianhe-chc, never qualified.
  std::string hbsag_chc = Obs(a, "gz-tianhe-chc", "5196-1", "2026-05-01T08:00:00+08:00");
  // Creatinine on urine.
  std::string specimen = Create(
      {{"resourceType", "Specimen"},
       {"type",
        {{"coding", Json::array({{{"system", "http://snomed.info/sct"}, {"code", "122575003"}}})}}},
       {"subject", Ref(a)}});
  Json crea_urine = Observation(a, "gz-central", "2160-0", "2026-06-10T08:00:00+08:00");
  crea_urine["specimen"] = Ref("Specimen/" + specimen);
  std::string crea_specimen = "Observation/" + Create(crea_urine);
  // Glucose: preliminary, entered in error, amended (final first, then amended).
  std::string glu_preliminary =
      Obs(a, "gz-central", "2345-7", "2026-06-12T08:00:00+08:00", "preliminary");
  std::string glu_error =
      Obs(a, "gz-central", "2345-7", "2026-06-11T08:00:00+08:00", "entered-in-error");
  Json glu = Observation(a, "gz-central", "2345-7", "2026-06-10T08:00:00+08:00");
  std::string glu_id = Create(glu);
  std::string glu_amended = "Observation/" + glu_id;
  EXPECT_EQ(SearchIds("Observation?_id=" + glu_id + "&_security=" + kMark).size(), 1u);
  glu["id"] = glu_id;
  glu["status"] = "amended";
  Put(glu);
  EXPECT_EQ(SearchIds("Observation?_id=" + glu_id + "&_security=" + kMark).size(), 0u);
  // A sodium in whole blood (2947-0) is not in the catalogue.
  std::string na_blood = Obs(a, "gz-central", "2947-0", "2026-06-14T08:00:00+08:00");
  // CT head: an ImagingStudy (images) and a report with a conclusion only.
  Json study = {
      {"resourceType", "ImagingStudy"},
      {"status", "available"},
      {"subject", Ref(b)},
      {"started", "2026-03-01T10:00:00+08:00"},
      {"series",
       Json::array({{{"uid", "1.2.3.4"},
                     {"modality", {{"system", std::string(kDicomSystem)}, {"code", "CT"}}},
                     {"bodySite", {{"system", "http://snomed.info/sct"}, {"code", "69536005"}}},
                     {"performer", Json::array({{{"actor", Ref("Organization/gz-central")}}})}}})}};
  std::string ct_study = "ImagingStudy/" + Create(study);
  Json report = {{"resourceType", "DiagnosticReport"},
                 {"status", "final"},
                 {"code", Loinc("30799-1")},
                 {"subject", Ref(a)},
                 {"issued", "2026-06-01T10:00:00+08:00"},
                 {"performer", Json::array({Ref("Organization/gz-central")})},
                 {"conclusion", "未见明显异常 / no abnormality"}};
  std::string ct_conclusion = "DiagnosticReport/" + Create(report);
  // A result issued after `at` is no prior result.
  Obs(a, "gz-central", "2823-3", "2026-06-15T11:00:00+08:00");

  Json answer =
      Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}},
                       {LoincItem("2823-3"),
                        LoincItem("2951-2"),
                        LoincItem("2075-0"),
                        LoincItem("4548-4"),
                        LoincItem("5196-1"),
                        LoincItem("2160-0"),
                        LoincItem("2345-7"),
                        LoincItem("2947-0"),
                        {{"system", std::string(kItemSystem)}, {"code", "exam-ct-head"}}}));
  using Reasons = std::map<std::string, std::set<std::string>>;
  EXPECT_EQ(Verdicts(Result(answer, 0)), (Reasons{{k_last_day, {}}}));
  EXPECT_EQ(Verdicts(Result(answer, 1)), (Reasons{{na_tz, {}}}));
  EXPECT_EQ(Verdicts(Result(answer, 2)), (Reasons{{cl_expired, {"expired"}}}));
  const Json* late = PartOf(Result(answer, 2), cl_expired, "expired-days");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ((*late)["valueInteger"], 1);
  EXPECT_EQ(Verdicts(Result(answer, 3)), (Reasons{{a1c_unqualified, {"issuer-not-qualified"}},
                                                  {a1c_other_method, {"different-method"}},
                                                  {a1c_ok, {}}}));
  EXPECT_EQ(Verdicts(Result(answer, 4)), (Reasons{{hbsag_before, {"issuer-not-qualified"}},
                                                  {hbsag_after, {}},
                                                  {hbsag_chc, {"issuer-not-qualified"}}}));
  EXPECT_EQ(Verdicts(Result(answer, 5)), (Reasons{{crea_specimen, {"different-specimen"}}}));
  EXPECT_EQ(Verdicts(Result(answer, 6)), (Reasons{{glu_preliminary, {"preliminary"}},
                                                  {glu_error, {"entered-in-error"}},
                                                  {glu_amended, {"amended"}}}));
  EXPECT_EQ(Verdicts(Result(answer, 7)), (Reasons{{na_blood, {"not-in-catalogue"}}}));
  EXPECT_NE(Result(answer, 7).dump().find("不在互认项目目录中"), std::string::npos);
  EXPECT_EQ(Verdicts(Result(answer, 8)),
            (Reasons{{ct_study, {}}, {ct_conclusion, {"conclusion-only"}}}));

  // Newest first: the refused glucose results in issue order 12, 11, 10 June.
  std::vector<std::string> order;
  for (const Json& part : Result(answer, 6)["part"]) {
    if (part["name"] == "not-reusable")
      order.push_back(part["part"][0]["valueReference"]["reference"]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{glu_preliminary, glu_error, glu_amended}));

  // The mark is on exactly the recognisable results.
  std::set<std::string> marked = SearchIds(std::string("Observation?_security=") + kMark);
  for (const std::string& reference : {k_last_day, na_tz, cl_expired, a1c_ok, hbsag_after}) {
    EXPECT_EQ(marked.count(reference), 1u) << reference;
  }
  for (const std::string& reference :
       {a1c_unqualified, a1c_other_method, hbsag_before, hbsag_chc, crea_specimen, glu_preliminary,
        glu_error, glu_amended, na_blood}) {
    EXPECT_EQ(marked.count(reference), 0u) << reference;
  }
  EXPECT_EQ(SearchIds(std::string("ImagingStudy?_security=") + kMark),
            (std::set<std::string>{ct_study}));
  EXPECT_TRUE(SearchIds(std::string("DiagnosticReport?_security=") + kMark).empty());
}

TEST_F(RecognitionTest, ValidityBoundaryMovesWithTheOrderingDay) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-7", ResidentId("44010619680321457"));
  std::string k = Obs(a, "gz-central", "2823-3", "2026-06-08T09:00:00+08:00");
  auto verdict = [&](const std::string& at) {
    return Verdicts(Result(Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}},
                                            {LoincItem("2823-3")}, at)),
                           0))[k];
  };
  // Last valid day: 15 June, through 23:59:59 in Shanghai (15:59:59 UTC).
  EXPECT_EQ(verdict("2026-06-15T23:59:59+08:00"), std::set<std::string>{});
  EXPECT_EQ(verdict("2026-06-15T15:59:59Z"), std::set<std::string>{});
  // First expired day: 16 June from 00:00 in Shanghai, which is still 15 June in UTC.
  EXPECT_EQ(verdict("2026-06-16T00:00:00+08:00"), std::set<std::string>{"expired"});
  EXPECT_EQ(verdict("2026-06-15T16:00:00Z"), std::set<std::string>{"expired"});
  // A date without a zone is read in Shanghai.
  EXPECT_EQ(verdict("2026-06-16"), std::set<std::string>{"expired"});
}

// Under the access rules (issue 4) $recognize lists only results the caller may see.
TEST_F(RecognitionTest, ResultsTheCallerMayNotSeeAreNotListed) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-9", ResidentId("44010619680321999"));
  std::string shown = Obs(a, "gz-central", "2823-3", "2026-06-08T09:00:00+08:00");
  std::string hidden = Obs(a, "gz-central", "2823-3", "2026-06-09T09:00:00+08:00");
  Json parameters = Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("2823-3")},
                           "2026-06-10T09:00:00+08:00");
  store::OperationRequest request;
  request.parameters = fhir::ParseJson(parameters.dump()).value();
  std::string hidden_id = hidden.substr(hidden.find('/') + 1);
  request.visible = [&](store::ReadTx&, const store::StoredResource& resource) {
    return core::Result<bool>(resource.id != hidden_id);
  };
  auto response = operation_->Invoke(*store_, request);
  ASSERT_TRUE(response.has_value()) << response.error().GetMessage();
  std::map<std::string, std::set<std::string>> verdicts =
      Verdicts(Result(Json::parse(response->body_text), 0));
  EXPECT_TRUE(verdicts.contains(shown));
  EXPECT_FALSE(verdicts.contains(hidden));
}

TEST_F(RecognitionTest, QualificationEndingBetweenTwoReports) {
  Organization("gz-central");
  Qualification("gz-central", "immunology", "2025-01-01", "2026-04-30");
  std::string a = Patient("gz-central", "GZ-8", ResidentId("44010619680321789"));
  std::string last_day = Obs(a, "gz-central", "5196-1", "2026-04-30T22:00:00+08:00");
  std::string after = Obs(a, "gz-central", "5196-1", "2026-05-01T08:00:00+08:00");
  Json answer =
      Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("5196-1")}));
  EXPECT_EQ(Verdicts(Result(answer, 0)), (std::map<std::string, std::set<std::string>>{
                                             {last_day, {}}, {after, {"issuer-not-qualified"}}}));
}

TEST_F(RecognitionTest, OptOutConsentListsOnlyOwnResultsAndRevealsNothingElse) {
  Alliance();
  std::string resident = ResidentId("44030419680321127");
  std::string a = Patient("gz-central", "GZ-2", resident);
  std::string b = Patient("sz-heart", "SZ-2", resident);
  std::string own = Obs(a, "gz-central", "18262-6", "2026-06-01T08:00:00+08:00");
  std::string troponin_b = Obs(b, "sz-heart", "6598-7", "2026-06-15T06:00:00+08:00");
  Qualification("sz-heart", "lab", "2026-01-01", "2026-12-31");
  std::string ldl_b = Obs(b, "sz-heart", "18262-6", "2026-06-02T08:00:00+08:00");
  Json who = {{"name", "identifier"},
              {"valueIdentifier",
               {{"system", "https://fhir.medalliance.cn/sid/mrn/gz-central"}, {"value", "GZ-2"}}}};
  // 6598-7: sz-heart has a result; 4548-4 (HbA1c): nobody has.
  Json params = Params(who, {LoincItem("18262-6"), LoincItem("6598-7"), LoincItem("4548-4")});
  using Reasons = std::map<std::string, std::set<std::string>>;
  Json shared = Recognize(params);
  EXPECT_EQ(Verdicts(Result(shared, 0)), (Reasons{{own, {}}, {ldl_b, {}}}));
  EXPECT_EQ(Verdicts(Result(shared, 1)), (Reasons{{troponin_b, {}}}));

  // The patient opts out (on her sz-heart record: any linked record counts).
  Json consent = {
      {"resourceType", "Consent"},
      {"status", "active"},
      {"scope",
       {{"coding", Json::array({{{"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                 {"code", "patient-privacy"}}})}}},
      {"category",
       Json::array(
           {{{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", "59284-0"}}})}}})},
      {"patient", Ref(b)},
      {"policyRule",
       {{"coding", Json::array({{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
                                 {"code", "OPTOUT"}}})}}},
      {"provision", {{"type", "deny"}}}};
  Create(consent);
  Json answer = Recognize(params);
  // gz-central (the orderer) still sees its own result; of the others only "refused".
  EXPECT_EQ(Verdicts(Result(answer, 0)), (Reasons{{own, {}}, {"", {"sharing-refused"}}}));
  EXPECT_EQ(Verdicts(Result(answer, 1)), (Reasons{{"", {"sharing-refused"}}}));
  EXPECT_EQ(Verdicts(Result(answer, 2)), (Reasons{{"", {"sharing-refused"}}}));
  // The entry names nothing: no reference, patient, issuer, date or count; and it is the same
  // whether other members hold results (item 1) or not (item 2).
  auto refusal = [](const Json& result) {
    Json entries = Json::array();
    for (const Json& part : result["part"]) {
      if (part["name"] == "not-reusable")
        entries.push_back(part);
    }
    return entries;
  };
  ASSERT_EQ(refusal(Result(answer, 1)).size(), 1u);
  EXPECT_EQ(refusal(Result(answer, 1)), refusal(Result(answer, 2)));
  for (const Json& sub : refusal(Result(answer, 1))[0]["part"]) {
    EXPECT_TRUE(sub["name"] == "reason" || sub["name"] == "explanation") << sub.dump();
  }
  std::string text = answer.dump();
  EXPECT_NE(text.find("患者已拒绝"), std::string::npos);
  EXPECT_NE(text.find("refused sharing"), std::string::npos);
  for (const std::string& secret : {b, ldl_b, troponin_b, std::string("sz-heart")})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  // The other members' records are not listed among the patients searched either.
  for (const Json& parameter : answer["parameter"])
    EXPECT_NE(parameter["name"], "patient") << parameter.dump();
  Json by_reference =
      Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("6598-7")}));
  EXPECT_EQ(Verdicts(Result(by_reference, 0)), (Reasons{{"", {"sharing-refused"}}}));
  EXPECT_EQ(by_reference.dump().find(b), std::string::npos);
}

TEST_F(RecognitionTest, MembersCannotMarkTheirOwnResults) {
  Organization("gz-tianhe-chc");
  std::string a = Patient("gz-tianhe-chc", "CHC-1", ResidentId("44010619680321125"));
  Json observation = Observation(a, "gz-tianhe-chc", "2823-3", "2026-06-14T08:00:00+08:00");
  observation["meta"] = {
      {"security", Json::array({{{"system", std::string(kRecognitionSystem)}, {"code", "HR"}}})}};
  std::string id = Create(observation);
  FhirResponse read = Send("GET", "Observation/" + id);
  EXPECT_EQ(read.body.find("\"HR\""), std::string::npos) << read.body;
}

TEST_F(RecognitionTest, CatalogueEditsThroughTheApiTakeEffect) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-3", ResidentId("44010619680321999"));
  std::string k = Obs(a, "gz-central", "2823-3", "2026-06-01T09:00:00+08:00");
  Json params = Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("2823-3")});
  EXPECT_EQ(Verdicts(Result(Recognize(params), 0))[k], std::set<std::string>{"expired"});
  // The administrator extends potassium to 30 days: a new version of the CodeSystem.
  Json code_system = Json::parse(Send("GET", "CodeSystem/recognition-item").body);
  for (Json& concept_json : code_system["concept"]) {
    if (concept_json["code"] != "lab-k")
      continue;
    for (Json& property : concept_json["property"]) {
      if (property["code"] == "validity-days")
        property["valueInteger"] = 30;
    }
  }
  FhirResponse put = Send("PUT", "CodeSystem/recognition-item", code_system.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Json::parse(put.body)["meta"]["versionId"], "2");
  EXPECT_EQ(Verdicts(Result(Recognize(params), 0))[k], std::set<std::string>{});
}

TEST_F(RecognitionTest, OrderForAnItemWithAReusableResultCarriesAWarning) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-4", ResidentId("44010619680321555"));
  std::string k = Obs(a, "gz-central", "2823-3", "2026-06-14T09:00:00+08:00");
  Json order = {{"resourceType", "ServiceRequest"},
                {"status", "active"},
                {"intent", "order"},
                {"code", Loinc("2823-3")},
                {"subject", Ref(a)},
                {"requester", Ref("Organization/sz-heart")}};
  FhirResponse response = Send("POST", "ServiceRequest", order.dump(), "return=OperationOutcome");
  EXPECT_EQ(response.status, 201) << response.body;
  EXPECT_NE(response.body.find(k), std::string::npos) << response.body;
  EXPECT_NE(response.body.find("\"warning\""), std::string::npos) << response.body;
  // Nothing reusable for HbA1c: no warning.
  order["code"] = Loinc("4548-4");
  FhirResponse quiet = Send("POST", "ServiceRequest", order.dump(), "return=OperationOutcome");
  EXPECT_EQ(quiet.status, 201) << quiet.body;
  EXPECT_EQ(quiet.body.find("\"warning\""), std::string::npos) << quiet.body;
}

TEST_F(RecognitionTest, DecisionsNeedTheirReasonAndAreSearchable) {
  auto decision = [](const std::string& outcome) {
    return Json{
        {"resourceType", "Task"},
        {"status", "completed"},
        {"intent", "order"},
        {"code",
         {{"coding",
           Json::array({{{"system", std::string(kRecognitionSystem)}, {"code", "decision"}}})}}},
        {"businessStatus",
         {{"coding",
           Json::array({{{"system", std::string(kRecognitionSystem)}, {"code", outcome}}})}}},
        {"for", Ref("Patient/p1")},
        {"requester", Ref("Organization/gz-central")}};
  };
  Json repeated = decision("repeated");
  Create(repeated, 422);
  repeated["reasonCode"] = {
      {"coding", Json::array({{{"system", std::string(kRepeatReasonSystem)}, {"code", "other"}}})}};
  Create(repeated, 422);  // "other" needs its text
  repeated["reasonCode"]["text"] = "患者要求在本院复查 / the patient asked";
  std::string other = Create(repeated);
  repeated["reasonCode"] = {{"coding", Json::array({{{"system", std::string(kRepeatReasonSystem)},
                                                     {"code", "emergency"}}})}};
  std::string emergency = Create(repeated);
  Json reused = decision("reused");
  Create(reused, 422);  // which result?
  reused["focus"] = Ref("Observation/o1");
  std::string reuse = Create(reused);
  EXPECT_EQ(SearchIds("Task?business-status=https://fhir.medalliance.cn/CodeSystem/"
                      "recognition|repeated"),
            (std::set<std::string>{"Task/" + other, "Task/" + emergency}));
  EXPECT_EQ(SearchIds("Task?code=https://fhir.medalliance.cn/CodeSystem/recognition|decision"
                      "&focus=Observation/o1"),
            (std::set<std::string>{"Task/" + reuse}));
  // Other Tasks are not decisions and are left alone.
  Create({{"resourceType", "Task"}, {"status", "requested"}, {"intent", "order"}});
}

TEST_F(RecognitionTest, QualificationRecordedLaterReMarksPublishedResults) {
  Organization("sz-heart");
  Organization("sz-heart-lab", "sz-heart");
  std::string a = Patient("sz-heart", "SZ-9", ResidentId("44030419680321555"));
  std::string inside = Obs(a, "sz-heart", "2823-3", "2026-05-10T08:00:00+08:00");
  std::string department = Obs(a, "sz-heart-lab", "2823-3", "2026-05-11T08:00:00+08:00");
  std::string outside = Obs(a, "sz-heart", "2823-3", "2026-02-10T08:00:00+08:00");
  const std::string marked = std::string("Observation?_security=") + kMark;
  EXPECT_TRUE(SearchIds(marked).empty());
  auto version = [&](const std::string& reference) {
    return Json::parse(Send("GET", reference).body)["meta"]["versionId"].get<std::string>();
  };

  // The quality-control pass is recorded later, from 1 March: the May reports get the mark.
  std::string q = Qualification("sz-heart", "chemistry", "2026-03-01", "2026-12-31");
  EXPECT_EQ(SearchIds(marked), (std::set<std::string>{inside, department}));
  EXPECT_EQ(version(inside), "2");
  EXPECT_EQ(version(outside), "1");
  EXPECT_NE(Send("GET", inside).body.find("粤HR"), std::string::npos);
  EXPECT_EQ(Json::parse(Send("GET", inside + "/_history").body)["entry"].size(), 2u);
  // Written through the write pipeline: each new version is audited, naming the module.
  auto audit_of = [&](const std::string& what) {
    for (const Json& entry :
         Json::parse(Send("GET", "AuditEvent?_count=1000").body).value("entry", Json::array())) {
      for (const Json& entity : entry["resource"].value("entity", Json::array())) {
        if (entity.value("what", Json::object()).value("reference", "") == what)
          return entry["resource"];
      }
    }
    return Json();
  };
  for (const std::string& reference : {inside, department}) {
    Json audited = audit_of(reference + "/_history/2");
    ASSERT_FALSE(audited.is_null()) << reference;
    EXPECT_NE(audited.dump().find("medalliance recognition"), std::string::npos) << audited;
  }
  EXPECT_TRUE(audit_of(outside + "/_history/2").is_null());

  // Corrected: the pass started in June. The May reports lose the mark again.
  Json basic = Json::parse(Send("GET", "Basic/" + q).body);
  basic["extension"][0]["extension"][1]["valuePeriod"]["start"] = "2026-06-01";
  Put(basic);
  EXPECT_TRUE(SearchIds(marked).empty());
  EXPECT_EQ(version(inside), "3");
  EXPECT_EQ(version(outside), "1");

  // Recorded for the wrong member: moved from gz-central to sz-heart, both are re-judged.
  Organization("gz-central");
  std::string gz = Obs(a, "gz-central", "2823-3", "2026-06-01T08:00:00+08:00");
  basic["subject"] = Ref("Organization/gz-central");
  basic["extension"][0]["extension"][1]["valuePeriod"]["start"] = "2026-03-01";
  Put(basic);
  EXPECT_EQ(SearchIds(marked), (std::set<std::string>{gz}));
  basic["subject"] = Ref("Organization/sz-heart");
  Put(basic);
  EXPECT_EQ(SearchIds(marked), (std::set<std::string>{inside, department}));

  // Widened to January: all three; then deleted: none.
  basic["extension"][0]["extension"][1]["valuePeriod"]["start"] = "2026-01-01";
  Put(basic);
  EXPECT_EQ(SearchIds(marked), (std::set<std::string>{inside, department, outside}));
  EXPECT_EQ(Send("DELETE", "Basic/" + q).status, 204);
  EXPECT_TRUE(SearchIds(marked).empty());
  // $recognize agrees with the marks.
  Json answer =
      Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("2823-3")}));
  for (const auto& [reference, reasons] : Verdicts(Result(answer, 0)))
    EXPECT_TRUE(reasons.contains("issuer-not-qualified")) << reference;
}

// The mark reads the rules once per transaction (Engine::StartCache, CatalogueCache): a
// department link, a qualification or a catalogue change written earlier in the same
// transaction must still be seen by the results written after it.
TEST_F(RecognitionTest, MarksSeeRuleChangesEarlierInTheSameTransaction) {
  Organization("sz-heart");
  Organization("sz-heart-lab");
  Organization("gz-central");
  Qualification("sz-heart", "chemistry", "2026-03-01", "2026-12-31");
  std::string a = Patient("sz-heart", "SZ-7", ResidentId("44030419680321777"));
  Json catalogue = Json::parse(Send("GET", "CodeSystem/recognition-item").body);
  Json without_potassium = WithoutItem(catalogue, "lab-k");
  ASSERT_LT(without_potassium["concept"].size(), catalogue["concept"].size());
  Json qualification = {
      {"resourceType", "Basic"},
      {"id", "q-gz"},
      {"extension",
       Json::array({{{"url", std::string(kQualificationExtension)},
                     {"extension", Json::array({{{"url", "scope"}, {"valueCode", "chemistry"}},
                                                {{"url", "period"},
                                                 {"valuePeriod", {{"start", "2026-01-01"}}}}})}}})},
      {"code",
       {{"coding", Json::array({{{"system", std::string(kRecognitionSystem)},
                                 {"code", std::string(kQualificationCode)}}})}}},
      {"subject", Ref("Organization/gz-central")}};
  Json department = {{"resourceType", "Organization"},
                     {"id", "sz-heart-lab"},
                     {"name", "sz-heart-lab"},
                     {"partOf", Ref("Organization/sz-heart")}};
  auto observation = [&](const std::string& id, const std::string& performer) {
    Json resource = Observation(a, performer, "2823-3", "2026-05-10T08:00:00+08:00");
    resource["id"] = id;
    return resource;
  };
  // PUT entries run in Bundle order.
  std::vector<Json> resources = {observation("lab-before", "sz-heart-lab"),
                                 department,
                                 observation("lab-after", "sz-heart-lab"),
                                 observation("gz-before", "gz-central"),
                                 qualification,
                                 observation("gz-after", "gz-central"),
                                 without_potassium,
                                 observation("gz-no-item", "gz-central")};
  Json bundle = {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  for (const Json& resource : resources) {
    std::string url =
        resource["resourceType"].get<std::string>() + "/" + resource["id"].get<std::string>();
    bundle["entry"].push_back(
        {{"resource", resource}, {"request", {{"method", "PUT"}, {"url", url}}}});
  }
  FhirResponse response = Send("POST", "", bundle.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  auto marked = [&](const std::string& id) {
    return Send("GET", "Observation/" + id).body.find("粤HR") != std::string::npos;
  };
  EXPECT_FALSE(marked("lab-before"));
  EXPECT_TRUE(marked("lab-after"));    // the department link, written before it
  EXPECT_TRUE(marked("gz-after"));     // the qualification, written before it
  EXPECT_FALSE(marked("gz-no-item"));  // potassium left the catalogue before it
}

// A catalogue version written by a transaction that is rolled back must not be taken for the
// catalogue that a later transaction writes: SQLite gives the later version the same
// resources.sequence (the rolled-back one is free again), and its version number is the same.
TEST_F(RecognitionTest, ACatalogueOfARolledBackTransactionIsNotKept) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-31", ResidentId("44010619680321999"));
  Json catalogue = Json::parse(Send("GET", "CodeSystem/recognition-item").body);
  Json without_potassium = WithoutItem(catalogue, "lab-k");
  ASSERT_LT(without_potassium["concept"].size(), catalogue["concept"].size());
  auto entry = [](const Json& resource, const std::string& url) {
    return Json{{"resource", resource}, {"request", {{"method", "PUT"}, {"url", url}}}};
  };
  auto observation = [&](const std::string& id) {
    Json resource = Observation(a, "gz-central", "2823-3", "2026-05-10T08:00:00+08:00");
    resource["id"] = id;
    return resource;
  };
  // The catalogue without potassium, a result marked against it, then an entry that fails
  // inside the transaction (a version precondition): all of it is rolled back.
  Json failing = {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  failing["entry"].push_back(entry(without_potassium, "CodeSystem/recognition-item"));
  failing["entry"].push_back(entry(observation("k-rolled-back"), "Observation/k-rolled-back"));
  Json member = {{"resourceType", "Organization"}, {"id", "gz-central"}, {"name", "gz-central"}};
  Json stale = entry(member, "Organization/gz-central");
  stale["request"]["ifMatch"] = "W/\"99\"";
  failing["entry"].push_back(stale);
  FhirResponse refused = Send("POST", "", failing.dump());
  ASSERT_GE(refused.status, 400) << refused.body;
  EXPECT_EQ(Send("GET", "Observation/k-rolled-back").status, 404);
  // The same catalogue version again, now with potassium (a new title only), then a result.
  Json renamed = catalogue;
  renamed["title"] = "Recognition items (renamed)";
  Json good = {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  good["entry"].push_back(entry(renamed, "CodeSystem/recognition-item"));
  good["entry"].push_back(entry(observation("k-kept"), "Observation/k-kept"));
  FhirResponse accepted = Send("POST", "", good.dump());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_NE(Send("GET", "Observation/k-kept").body.find("粤HR"), std::string::npos)
      << "potassium is in the catalogue that was committed";
}

TEST_F(RecognitionTest, MetricsCountOneMembersMonthPerItem) {
  Alliance();
  Qualification("sz-heart", "lab", "2026-01-01", "2026-12-31");
  std::string a = Patient("gz-central", "GZ-10", ResidentId("44010619680321321"));
  std::string k = Obs(a, "gz-central", "2823-3", "2026-06-14T09:00:00+08:00");
  std::string hba1c = Obs(a, "sz-heart", "4548-4", "2026-06-01T09:00:00+08:00");
  auto order = [&](const std::string& loinc, const std::string& requester) {
    Json request = {{"resourceType", "ServiceRequest"},
                    {"status", "active"},
                    {"intent", "order"},
                    {"code", Loinc(loinc)},
                    {"subject", Ref(a)},
                    {"authoredOn", "2026-06-15T09:00:00+08:00"},
                    {"requester", Ref("Organization/" + requester)}};
    return "ServiceRequest/" + Create(request);
  };
  auto decision = [&](const std::string& item, const std::string& outcome,
                      const std::string& requester, const std::string& authored) {
    Json task = {
        {"resourceType", "Task"},
        {"status", "completed"},
        {"intent", "order"},
        {"code",
         {{"coding",
           Json::array({{{"system", std::string(kRecognitionSystem)}, {"code", "decision"}}})}}},
        {"businessStatus",
         {{"coding",
           Json::array({{{"system", std::string(kRecognitionSystem)}, {"code", outcome}}})}}},
        {"for", Ref(a)},
        {"authoredOn", authored},
        {"requester", Ref("Organization/" + requester)},
        {"input",
         Json::array({{{"type",
                        {{"coding", Json::array({{{"system", std::string(kRecognitionSystem)},
                                                  {"code", "item"}}})}}},
                       {"valueCoding", {{"system", std::string(kItemSystem)}, {"code", item}}}}})}};
    return task;
  };
  auto repeat = [&](Json task, const std::string& reason) {
    task["reasonCode"] = {{"coding", Json::array({{{"system", std::string(kRepeatReasonSystem)},
                                                   {"code", reason}}})}};
    return task;
  };
  const std::string june = "2026-06-15T10:00:00+08:00";
  // Potassium: an alerted order decided by a reuse (one opportunity), and an alerted order
  // nobody decided on (another).
  std::string decided_order = order("2823-3", "sz-heart");
  order("2823-3", "sz-heart");
  Json reuse = decision("lab-k", "reused", "sz-heart", june);
  reuse["focus"] = Ref(k);
  reuse["basedOn"] = Json::array({Ref(decided_order)});
  Create(reuse);
  // HbA1c: repeated although sz-heart's own result was reusable (fast-changing).
  Json repeated = repeat(decision("lab-hba1c", "repeated", "sz-heart", june), "fast-changing");
  std::string repeated_id = Create(repeated);
  // TSH: nothing to reuse; repeated in an emergency. The writer's own count is replaced.
  Json tsh = repeat(decision("lab-tsh", "repeated", "sz-heart", june), "emergency");
  tsh["input"].push_back({{"type",
                           {{"coding", Json::array({{{"system", std::string(kRecognitionSystem)},
                                                     {"code", std::string(kReusableInput)}}})}}},
                          {"valueInteger", 99}});
  std::string tsh_id = Create(tsh);
  // Not counted: another member's decision, sz-heart's decision in May, an order without alert.
  Create(repeat(decision("lab-hba1c", "repeated", "gz-central", june), "emergency"));
  Create(repeat(decision("lab-tsh", "repeated", "sz-heart", "2026-05-20T10:00:00+08:00"),
                "emergency"));
  order("3016-3", "sz-heart");

  auto input_count = [&](const std::string& id, const std::string& code) {
    Json task = Json::parse(Send("GET", "Task/" + id).body);
    std::vector<Json> values;
    for (const Json& input : task["input"]) {
      if (input["type"]["coding"][0]["code"] == code)
        values.push_back(input.contains("valueInteger") ? input["valueInteger"]
                                                        : input["valueReference"]);
    }
    return values;
  };
  EXPECT_EQ(input_count(tsh_id, std::string(kReusableInput)), std::vector<Json>{0});
  EXPECT_EQ(input_count(repeated_id, std::string(kReusableInput)), std::vector<Json>{1});
  EXPECT_EQ(input_count(repeated_id, std::string(kRefusedIssuerInput)),
            std::vector<Json>{Ref("Organization/sz-heart")});

  FhirResponse response =
      Send("GET", "$recognition-metrics?member=Organization/sz-heart&period=2026-06");
  ASSERT_EQ(response.status, 200) << response.body;
  Json report = Json::parse(response.body);
  EXPECT_EQ(report["resourceType"], "MeasureReport");
  EXPECT_EQ(report["type"], "summary");
  EXPECT_EQ(report["reporter"]["reference"], "Organization/sz-heart");
  std::map<std::string, Json> groups;
  for (const Json& group : report["group"]) groups[group["code"]["coding"][0]["code"]] = group;
  auto count = [](const Json& group, const std::string& code) -> int64_t {
    for (const Json& population : group["population"]) {
      if (population["code"]["coding"][0]["code"] == code)
        return population["count"];
    }
    return -1;
  };
  using Counts = std::vector<int64_t>;  // opportunity, decision, reuse, repeat
  auto counts = [&](const std::string& code) {
    const Json& group = groups[code];
    return Counts{count(group, "opportunity"), count(group, "decision"), count(group, "reuse"),
                  count(group, "repeat")};
  };
  EXPECT_EQ(groups.size(), 4u) << report.dump();
  EXPECT_EQ(counts("total"), (Counts{3, 3, 1, 2}));
  EXPECT_EQ(counts("lab-k"), (Counts{2, 1, 1, 0}));
  EXPECT_EQ(counts("lab-hba1c"), (Counts{1, 1, 0, 1}));
  EXPECT_EQ(counts("lab-tsh"), (Counts{0, 1, 0, 1}));
  // Potassium costs 4 yuan in the seeded catalogue.
  EXPECT_DOUBLE_EQ(groups["lab-k"]["measureScore"]["value"].get<double>(), 4.0);
  EXPECT_EQ(groups["lab-k"]["measureScore"]["code"], "CNY");
  EXPECT_DOUBLE_EQ(groups["total"]["measureScore"]["value"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(groups["lab-hba1c"]["measureScore"]["value"].get<double>(), 0.0);
  const Json& reasons = groups["total"]["stratifier"][0];
  EXPECT_EQ(reasons["code"][0]["coding"][0]["code"], "repeat-reason");
  std::map<std::string, int64_t> by_reason;
  for (const Json& stratum : reasons["stratum"])
    by_reason[stratum["value"]["coding"][0]["code"]] = stratum["population"][0]["count"];
  EXPECT_EQ(by_reason, (std::map<std::string, int64_t>{{"emergency", 1}, {"fast-changing", 1}}));
  const Json& issuers = groups["lab-hba1c"]["stratifier"][1];
  EXPECT_EQ(issuers["code"][0]["coding"][0]["code"], "refused-issuer");
  ASSERT_EQ(issuers["stratum"].size(), 1u) << issuers.dump();
  EXPECT_EQ(issuers["stratum"][0]["component"][0]["value"]["text"], "Organization/sz-heart");
  EXPECT_EQ(issuers["stratum"][0]["component"][1]["value"]["coding"][0]["code"], "fast-changing");
  EXPECT_EQ(issuers["stratum"][0]["population"][0]["count"], 1);
  // One item only; another month; bad input.
  FhirResponse only =
      Send("GET", "$recognition-metrics?member=Organization/sz-heart&period=2026-06&item=lab-tsh");
  ASSERT_EQ(only.status, 200) << only.body;
  EXPECT_EQ(Json::parse(only.body)["group"].size(), 2u);
  FhirResponse may =
      Send("GET", "$recognition-metrics?member=Organization/sz-heart&period=2026-05");
  ASSERT_EQ(may.status, 200) << may.body;
  Json may_report = Json::parse(may.body);
  EXPECT_EQ(may_report["group"][0]["population"][1]["count"], 1);
  EXPECT_EQ(Send("GET", "$recognition-metrics?member=Organization/sz-heart").status, 400);
  EXPECT_EQ(Send("GET", "$recognition-metrics?member=sz-heart&period=2026-06").status, 400);
  EXPECT_EQ(
      Send("GET", "$recognition-metrics?member=Organization/sz-heart&period=2026-06&item=nope")
          .status,
      400);
}

TEST_F(RecognitionTest, MembersLocalCodesNameTheItem) {
  Alliance();
  std::string a = Patient("gz-central", "GZ-11", ResidentId("44010619680321457"));
  // Creatinine coded only with gz-central's local code (catalogue: lab-crea, gz-central|SG-CR).
  Json local = Observation(a, "gz-central", "2160-0", "2026-06-10T08:00:00+08:00");
  local["code"] = {
      {"coding", Json::array({{{"system", std::string(kLocalCodePrefix) + "gz-central"},
                               {"code", "SG-CR"}}})}};
  std::string crea_local = "Observation/" + Create(local);
  // The same local code of another member names nothing.
  local["code"]["coding"][0]["system"] = std::string(kLocalCodePrefix) + "gz-tianhe-chc";
  std::string unknown_local = "Observation/" + Create(local);
  EXPECT_EQ(SearchIds(std::string("Observation?_security=") + kMark),
            (std::set<std::string>{crea_local}));

  // Asked by LOINC: found through the local code, reusable.
  using Reasons = std::map<std::string, std::set<std::string>>;
  Json answer =
      Recognize(Params({{"name", "patient"}, {"valueReference", Ref(a)}}, {LoincItem("2160-0")}));
  EXPECT_EQ(Verdicts(Result(answer, 0)), (Reasons{{crea_local, {}}}));
  EXPECT_FALSE(Verdicts(Result(answer, 0)).contains(unknown_local));
  // Asked by another member's local code for the same item: the catalogue item is named.
  Json by_local = Recognize(Params(
      {{"name", "patient"}, {"valueReference", Ref(a)}},
      {Json{{"system", std::string(kLocalCodePrefix) + "sz-heart"}, {"code", "CHEM-CREA"}}}));
  bool named = false;
  for (const Json& part : Result(by_local, 0)["part"]) {
    if (part["name"] == "catalogue-code")
      named = part["valueCoding"]["code"] == "lab-crea";
  }
  EXPECT_TRUE(named) << by_local.dump();
  EXPECT_EQ(Verdicts(Result(by_local, 0)), (Reasons{{crea_local, {}}}));
}

TEST_F(RecognitionTest, BadParametersAreRefused) {
  Recognize(
      {{"resourceType", "Parameters"},
       {"parameter", Json::array({{{"name", "item"}, {"valueCoding", LoincItem("2823-3")}}})}},
      400);
  Recognize(Params({{"name", "patient"}, {"valueReference", Ref("Patient/nobody")}},
                   {LoincItem("2823-3")}),
            404);
  Recognize(Params({{"name", "patient"}, {"valueReference", Ref("Patient/nobody")}}, {}), 400);
}

}  // namespace
}  // namespace medalliance::recognition
