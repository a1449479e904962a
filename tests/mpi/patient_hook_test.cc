// The master patient index on the REST write path and Patient/$match, through RestService
// over an in-memory store (no HTTP).

#include "mpi/patient_hook.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/rest/rest_service.h"
#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "mpi/identifiers.h"
#include "mpi/match_operation.h"
#include "mpi/patient_index.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::mpi {
namespace {

using api::rest::FhirRequest;
using api::rest::FhirResponse;
using Json = nlohmann::ordered_json;

constexpr std::string_view kMrnA = "https://fhir.medalliance.cn/sid/mrn/gz-central";
constexpr std::string_view kMrnB = "https://fhir.medalliance.cn/sid/mrn/sz-heart";

std::string MakeId(std::string_view first17) {
  return std::string(first17) + ResidentIdCheckCharacter(first17);
}

Json Identifier(std::string_view system, std::string_view value) {
  return Json{{"system", system}, {"value", value}};
}

// A Patient in Han characters (family, given) or Latin letters (text only when given empty).
Json MakePatient(std::string_view mrn_system, std::string_view mrn, std::string_view family,
                 std::string_view given, std::string_view birth_date, std::string_view gender,
                 std::string_view resident_id = {}) {
  Json patient = {{"resourceType", "Patient"}};
  patient["identifier"] = Json::array({Identifier(mrn_system, mrn)});
  if (!resident_id.empty()) {
    patient["identifier"].push_back(Identifier(kResidentIdSystem, resident_id));
  }
  patient["name"] = Json::array({Json{{"family", family}, {"given", Json::array({given})}}});
  patient["gender"] = gender;
  patient["birthDate"] = birth_date;
  return patient;
}

class PatientHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    index_ = std::make_unique<PatientIndex>();
    hook_ = std::make_unique<PatientHook>(*index_, PatientHookOptions{&clock_});
    match_ = std::make_unique<MatchOperation>(*index_);
    api::rest::RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.validate = [](const fhir::Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.clock = &clock_;
    config.hooks = {hook_.get()};
    config.operations = {match_.get()};
    service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {}) {
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
    return service_->Handle(request);
  }

  // Creates a resource; returns its id.
  std::string Create(const Json& resource) {
    FhirResponse response = Send("POST", resource["resourceType"], resource.dump());
    EXPECT_EQ(response.status, 201) << response.body;
    return Json::parse(response.body).value("id", "");
  }

  // The resources of a search answer (entries with search.mode match).
  std::vector<Json> Search(const std::string& url) {
    FhirResponse response = Send("GET", url);
    EXPECT_EQ(response.status, 200) << response.body;
    std::vector<Json> out;
    Json bundle = Json::parse(response.body);
    for (const Json& entry : bundle.value("entry", Json::array())) {
      if (entry["search"].value("mode", "") == "match")
        out.push_back(entry["resource"]);
    }
    return out;
  }

  Json Match(const Json& patient, const Json& extra = Json::array()) {
    Json parameters = {{"resourceType", "Parameters"},
                       {"parameter", Json::array({{{"name", "resource"}, {"resource", patient}}})}};
    for (const Json& parameter : extra) parameters["parameter"].push_back(parameter);
    FhirResponse response = Send("POST", "Patient/$match", parameters.dump());
    EXPECT_EQ(response.status, 200) << response.body;
    return Json::parse(response.body);
  }

  static void ExpectValid(const Json& resource) {
    fhir::Json json = fhir::ParseJson(resource.dump()).value();
    core::Status status = fhir::validation::ValidateResource(json);
    EXPECT_TRUE(status.has_value()) << resource.dump() << "\n"
                                    << (status ? "" : status.error().GetIssues()[0].diagnostics);
  }

  core::FakeClock clock_{1767225600000};  // 2026-01-01T00:00:00Z
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<PatientIndex> index_;
  std::unique_ptr<PatientHook> hook_;
  std::unique_ptr<MatchOperation> match_;
  std::unique_ptr<api::rest::RestService> service_;
};

TEST_F(PatientHookTest, BadResidentIdIsRefusedInChineseAndEnglish) {
  std::string id = MakeId("44010619800102123");
  id.back() = id.back() == '0' ? '1' : '0';  // a wrong check character
  Json patient = MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id);
  FhirResponse response = Send("POST", "Patient", patient.dump());
  ASSERT_EQ(response.status, 422) << response.body;
  Json outcome = Json::parse(response.body);
  ASSERT_EQ(outcome["resourceType"], "OperationOutcome");
  const Json& issue = outcome["issue"][0];
  std::string diagnostics = issue.value("diagnostics", "");
  EXPECT_NE(diagnostics.find("居民身份证校验位错误"), std::string::npos) << diagnostics;
  EXPECT_NE(diagnostics.find("check digit"), std::string::npos) << diagnostics;
  EXPECT_EQ(issue["expression"][0], "Patient.identifier[1].value");
  EXPECT_TRUE(Search("Patient").empty());
  EXPECT_TRUE(Search("Person").empty());
}

TEST_F(PatientHookTest, MalformedPhoneIsAWarningNotARefusal) {
  Json patient = MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male");
  patient["telecom"] = Json::array({{{"system", "phone"}, {"value", "555-123-4567"}}});
  EXPECT_EQ(Send("POST", "Patient", patient.dump()).status, 201);
  // An identifier problem still refuses the write, and only its issue is an error.
  patient["identifier"].push_back(Identifier(kResidentIdSystem, "123"));
  FhirResponse refused = Send("POST", "Patient", patient.dump());
  ASSERT_EQ(refused.status, 422) << refused.body;
  Json outcome = Json::parse(refused.body);
  ASSERT_EQ(outcome["issue"].size(), 1u) << refused.body;
  EXPECT_EQ(outcome["issue"][0]["expression"][0], "Patient.identifier[1].value");
}

TEST_F(PatientHookTest, SameResidentIdAtTwoHospitalsIsLinkedUnderOnePerson) {
  std::string id = MakeId("44010619800102123");
  std::string a = Create(MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id));
  std::string b = Create(MakePatient(kMrnB, "SZ-9", "ZHANG", "WEI", "1980-01-02", "male", id));
  std::vector<Json> persons = Search("Person?link=Patient/" + a);
  ASSERT_EQ(persons.size(), 1u);
  const Json& person = persons[0];
  ExpectValid(person);
  ASSERT_EQ(person["link"].size(), 2u) << person.dump();
  // Made by the second write: the written Patient first, then its match.
  EXPECT_EQ(person["link"][0]["target"]["reference"], "Patient/" + b);
  EXPECT_EQ(person["link"][1]["target"]["reference"], "Patient/" + a);
  EXPECT_EQ(person["link"][1]["assurance"], "level4");
  EXPECT_EQ(person["meta"]["tag"][0]["code"], "mpi-person");
  EXPECT_EQ(Search("Person").size(), 1u);
  EXPECT_TRUE(Search("Task?code=mpi-review").empty());
}

TEST_F(PatientHookTest, UpdatesKeepTheLinkAndAddNothing) {
  std::string id = MakeId("44010619800102123");
  std::string a = Create(MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id));
  Json b = MakePatient(kMrnB, "SZ-9", "ZHANG", "WEI", "1980-01-02", "male", id);
  std::string b_id = Create(b);
  b["id"] = b_id;
  b["telecom"] = Json::array({{{"system", "phone"}, {"value", "138 0013 8000"}}});
  FhirResponse updated = Send("PUT", "Patient/" + b_id, b.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  std::vector<Json> persons = Search("Person");
  ASSERT_EQ(persons.size(), 1u);
  EXPECT_EQ(persons[0]["link"].size(), 2u);
  EXPECT_EQ(persons[0]["meta"]["versionId"], "1");  // made by b's create, untouched since
  EXPECT_EQ(Search("Person?link=Patient/" + a).size(), 1u);
}

TEST_F(PatientHookTest, TwinsAreNotLinkedButGoToTheDataSteward) {
  Json first =
      MakePatient(kMrnA, "GZ-1", "李", "明", "2015-06-01", "male", MakeId("44030520150601011"));
  Json second =
      MakePatient(kMrnA, "GZ-2", "李", "亮", "2015-06-01", "male", MakeId("44030520150601033"));
  for (Json* twin : {&first, &second}) {
    (*twin)["telecom"] = Json::array({{{"system", "phone"}, {"value", "13912345678"}}});
    (*twin)["address"] = Json::array({{{"text", "深圳市南山区科技园路1号"}}});
  }
  std::string a = Create(first);
  std::string b = Create(second);
  EXPECT_TRUE(Search("Person").empty());  // nothing linked, so no Person (person_per_patient)
  std::vector<Json> tasks = Search("Task?code=mpi-review&status=requested");
  ASSERT_EQ(tasks.size(), 1u);
  const Json& task = tasks[0];
  ExpectValid(task);
  EXPECT_EQ(task["id"], ReviewTaskId("Patient/" + a, "Patient/" + b));
  EXPECT_EQ(task["focus"]["reference"], "Patient/" + b);
  EXPECT_EQ(task["input"][0]["valueReference"]["reference"], "Patient/" + b);
  EXPECT_EQ(task["input"][1]["valueReference"]["reference"], "Patient/" + a);
  EXPECT_EQ(task["input"][2]["valueCode"], "possible");
  // Writing the twin again does not make a second review item.
  second["id"] = b;
  second["active"] = true;
  ASSERT_EQ(Send("PUT", "Patient/" + b, second.dump()).status, 200);
  EXPECT_EQ(Search("Task?code=mpi-review").size(), 1u);
}

TEST_F(PatientHookTest, ProbableMatchIsReviewedNotLinked) {
  // Same name, birth date and sex, nothing else in common: probable (25 < 30).
  std::string a = Create(MakePatient(kMrnA, "GZ-1", "王", "芳", "1975-03-04", "female"));
  std::string b = Create(MakePatient(kMrnB, "SZ-1", "王", "芳", "1975-03-04", "female"));
  EXPECT_TRUE(Search("Person").empty());
  std::vector<Json> tasks = Search("Task?code=mpi-review&focus=Patient/" + b);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["input"][2]["valueCode"], "probable");
  EXPECT_EQ(tasks[0]["input"][1]["valueReference"]["reference"], "Patient/" + a);
}

TEST_F(PatientHookTest, MatchScoresAndGradesBestFirst) {
  std::string id = MakeId("44010619800102123");
  std::string certain = Create(MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id));
  std::string probable = Create(MakePatient(kMrnB, "SZ-1", "张", "伟", "1980-01-02", "male"));
  Create(MakePatient(kMrnB, "SZ-2", "陈", "静", "1990-07-08", "female"));  // no match

  Json bundle = Match(MakePatient(kMrnB, "SZ-7", "ZHANG", "WEI", "1980-01-02", "male", id));
  EXPECT_EQ(bundle["resourceType"], "Bundle");
  EXPECT_EQ(bundle["type"], "searchset");
  ASSERT_EQ(bundle["entry"].size(), 2u) << bundle.dump();
  const Json& best = bundle["entry"][0];
  EXPECT_EQ(best["fullUrl"], "http://test/Patient/" + certain);
  EXPECT_EQ(best["search"]["mode"], "match");
  EXPECT_EQ(best["search"]["extension"][0]["url"], kMatchGradeExtension);
  EXPECT_EQ(best["search"]["extension"][0]["valueCode"], "certain");
  EXPECT_GE(best["search"]["score"].get<double>(), 0.95);
  const Json& second = bundle["entry"][1];
  EXPECT_EQ(second["resource"]["id"], probable);
  std::string grade = second["search"]["extension"][0]["valueCode"];
  EXPECT_TRUE(grade == "probable" || grade == "possible") << grade;
  EXPECT_LT(second["search"]["score"].get<double>(), 0.95);
  EXPECT_GE(second["search"]["score"].get<double>(), 0.5);

  Json only = Match(MakePatient(kMrnB, "SZ-7", "ZHANG", "WEI", "1980-01-02", "male", id),
                    Json::array({{{"name", "onlyCertainMatches"}, {"valueBoolean", true}}}));
  ASSERT_EQ(only["entry"].size(), 1u);
  EXPECT_EQ(only["entry"][0]["resource"]["id"], certain);
  Json one = Match(MakePatient(kMrnB, "SZ-7", "ZHANG", "WEI", "1980-01-02", "male", id),
                   Json::array({{{"name", "count"}, {"valueInteger", 1}}}));
  EXPECT_EQ(one["entry"].size(), 1u);
  Json none = Match(MakePatient(kMrnB, "SZ-8", "赵", "云", "1960-05-05", "male"));
  EXPECT_EQ(none["total"], 0);
  EXPECT_FALSE(none.contains("entry"));
}

TEST_F(PatientHookTest, MatchRefusesAMissingPatient) {
  FhirResponse response =
      Send("POST", "Patient/$match",
           R"({"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3}]})");
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(Send("GET", "Patient/$match?count=3").status, 400);
  EXPECT_EQ(Send("POST", "Patient/$match",
                 R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})")
                .status,
            400);
}

TEST_F(PatientHookTest, RolledBackWritesLeaveNoLinksAndNoMatches) {
  std::string id = MakeId("44010619800102123");
  Json patient = MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id);
  // The second entry fails validation of the identity, so the transaction rolls back after the
  // hook has noted the first Patient in the in-memory index.
  std::string bad = MakeId("44010619800102145");
  bad.back() = bad.back() == '0' ? '1' : '0';
  Json transaction = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", patient}, {"request", {{"method", "POST"}, {"url", "Patient"}}}},
            {{"resource", MakePatient(kMrnB, "SZ-1", "李", "四", "1980-01-02", "male", bad)},
             {"request", {{"method", "POST"}, {"url", "Patient"}}}}})}};
  EXPECT_EQ(Send("POST", "", transaction.dump()).status, 422);
  EXPECT_EQ(index_->Size(), 1u);  // the cache remembers the rolled-back Patient ...
  EXPECT_TRUE(Search("Person").empty());
  Json bundle = Match(patient);  // ... but $match re-reads candidates from the store
  EXPECT_EQ(bundle["total"], 0);
  // A later Patient with the same ID is not linked to a ghost.
  Create(MakePatient(kMrnB, "SZ-2", "ZHANG", "WEI", "1980-01-02", "male", id));
  EXPECT_TRUE(Search("Person").empty());
}

TEST_F(PatientHookTest, PersonPerPatientOptionGivesEveryPatientAPerson) {
  PatientHook hook(*index_, PatientHookOptions{&clock_, 10, true});
  api::rest::RestConfig config;
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    config.resource_types.emplace_back(type);
  }
  config.clock = &clock_;
  config.hooks = {&hook};
  service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
  Create(MakePatient(kMrnA, "GZ-1", "王", "芳", "1975-03-04", "female"));
  Create(MakePatient(kMrnB, "SZ-1", "王", "芳", "1975-03-04", "female"));
  std::vector<Json> persons = Search("Person");
  ASSERT_EQ(persons.size(), 2u);
  for (const Json& person : persons) EXPECT_EQ(person["link"].size(), 1u);
}

TEST_F(PatientHookTest, OneTransactionLinksItsOwnPatients) {
  std::string id = MakeId("44010619800102123");
  Json transaction = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id)},
             {"request", {{"method", "POST"}, {"url", "Patient"}}}},
            {{"resource", MakePatient(kMrnB, "SZ-1", "ZHANG", "WEI", "1980-01-02", "male", id)},
             {"request", {{"method", "POST"}, {"url", "Patient"}}}}})}};
  FhirResponse response = Send("POST", "", transaction.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  std::vector<Json> persons = Search("Person");
  ASSERT_EQ(persons.size(), 1u);
  EXPECT_EQ(persons[0]["link"].size(), 2u);
}

TEST_F(PatientHookTest, LoadRebuildsTheIndexFromTheStore) {
  std::string id = MakeId("44010619800102123");
  std::string a = Create(MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id));
  PatientIndex fresh;
  ASSERT_TRUE(fresh.Load(*store_).has_value());
  EXPECT_EQ(fresh.Size(), 1u);
  PatientRecord query = ExtractRecord(
      fhir::ParseJson(MakePatient(kMrnB, "SZ-1", "ZHANG", "WEI", "1980-01-02", "male", id).dump())
          .value());
  std::vector<PatientMatch> matches;
  ASSERT_TRUE(store_
                  ->Read([&](store::ReadTx& tx) -> core::Status {
                    MA_ASSIGN_OR_RETURN(matches, fresh.FindMatches(tx, query));
                    return {};
                  })
                  .has_value());
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].reference, "Patient/" + a);
  EXPECT_EQ(matches[0].comparison.grade, MatchGrade::kCertain);
}

TEST(MatchScoreTest, BandsFollowTheGrades) {
  const MatchConfig& config = DefaultMatchConfig();
  Comparison comparison;
  comparison.grade = MatchGrade::kCertain;
  comparison.score = 10;  // deterministic certain with a low weight
  EXPECT_DOUBLE_EQ(MatchScore(comparison, config), 0.95);
  comparison.score = 200;
  EXPECT_DOUBLE_EQ(MatchScore(comparison, config), 1.0);
  comparison.grade = MatchGrade::kPossible;  // capped by a rule, high weight
  EXPECT_LT(MatchScore(comparison, config), 0.8);
  EXPECT_GE(MatchScore(comparison, config), 0.5);
  comparison.grade = MatchGrade::kCertainlyNot;
  comparison.score = -50;
  EXPECT_DOUBLE_EQ(MatchScore(comparison, config), 0.0);
}

}  // namespace
}  // namespace medalliance::mpi
