// The data steward's MPI operations (link, unlink, split, merge, unmerge, review resolution),
// $everything across linked Patients and search by a linked identifier, through RestService
// over an in-memory store (no HTTP).

#include "mpi/link_operations.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "mpi/identifiers.h"
#include "mpi/linked_everything.h"
#include "mpi/match_operation.h"
#include "mpi/patient_hook.h"
#include "mpi/patient_index.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::mpi {
namespace {

using api::rest::FhirRequest;
using api::rest::FhirResponse;
using Json = nlohmann::ordered_json;

constexpr std::string_view kMrnA = "https://fhir.medalliance.cn/sid/mrn/gz-central";
constexpr std::string_view kMrnB = "https://fhir.medalliance.cn/sid/mrn/sz-heart";
constexpr std::string_view kMrnC = "https://fhir.medalliance.cn/sid/mrn/sz-luohu-chc";

std::string MakeId(std::string_view first17) {
  return std::string(first17) + ResidentIdCheckCharacter(first17);
}

Json MakePatient(std::string_view mrn_system, std::string_view mrn, std::string_view family,
                 std::string_view given, std::string_view birth_date, std::string_view gender,
                 std::string_view resident_id = {}) {
  Json patient = {{"resourceType", "Patient"}};
  patient["identifier"] = Json::array({Json{{"system", mrn_system}, {"value", mrn}}});
  if (!resident_id.empty()) {
    patient["identifier"].push_back(Json{{"system", kResidentIdSystem}, {"value", resident_id}});
  }
  patient["name"] = Json::array({Json{{"family", family}, {"given", Json::array({given})}}});
  patient["gender"] = gender;
  patient["birthDate"] = birth_date;
  return patient;
}

Json Ref(const std::string& reference) {
  return Json{{"reference", reference}};
}

Json Param(const std::string& name, const std::string& reference) {
  return Json{{"name", name}, {"valueReference", Ref(reference)}};
}

Json Parameters(std::vector<Json> list) {
  return Json{{"resourceType", "Parameters"}, {"parameter", list}};
}

class LinkOperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    index_ = std::make_unique<PatientIndex>();
    hook_ = std::make_unique<PatientHook>(*index_, PatientHookOptions{&clock_});
    api::rest::RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.validate = [](const fhir::Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.clock = &clock_;
    config.hooks = {hook_.get(), &audit_hook_};
    for (LinkAction action : {LinkAction::kLink, LinkAction::kUnlink, LinkAction::kSplit,
                              LinkAction::kMerge, LinkAction::kUnmerge, LinkAction::kResolve}) {
      operations_.push_back(std::make_unique<LinkOperation>(action, &clock_));
    }
    operations_.push_back(std::make_unique<LinkedEverythingOperation>());
    for (const auto& operation : operations_) config.operations.push_back(operation.get());
    config.linked_patients = [](store::ReadTx& tx, std::string_view reference) {
      return LinkedPatients(tx, reference);
    };
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
    request.MutableCaller().practitioner_id = "steward-1";
    request.MutableCaller().organization_id = "alliance";
    return service_->Handle(request);
  }

  std::string Create(const Json& resource) {
    FhirResponse response = Send("POST", resource["resourceType"], resource.dump());
    EXPECT_EQ(response.status, 201) << response.body;
    return Json::parse(response.body).value("id", "");
  }

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

  // POSTs an operation; expects `status`; returns the body.
  Json Operation(const std::string& url, const Json& parameters, int status = 200) {
    FhirResponse response = Send("POST", url, parameters.dump());
    EXPECT_EQ(response.status, status) << url << ": " << response.body;
    return response.body.empty() ? Json() : Json::parse(response.body);
  }

  Json Read(const std::string& reference) {
    FhirResponse response = Send("GET", reference);
    EXPECT_EQ(response.status, 200) << response.body;
    return Json::parse(response.body);
  }

  // Patient reference -> the Person linking it (id), for every Person of the store.
  std::map<std::string, std::string> PersonOf() {
    std::map<std::string, std::string> out;
    for (const Json& person : Search("Person?_count=1000")) {
      for (const Json& link : person.value("link", Json::array())) {
        EXPECT_FALSE(out.count(link["target"]["reference"])) << "linked twice: " << link;
        out[link["target"]["reference"]] = person["id"];
      }
    }
    return out;
  }

  // Every current Person and Patient without meta: the state an undo must restore.
  std::map<std::string, Json> State() {
    std::map<std::string, Json> out;
    for (const std::string type : {"Person", "Patient"}) {
      for (Json resource : Search(type + "?_count=1000")) {
        resource.erase("meta");
        out[type + "/" + resource["id"].get<std::string>()] = resource;
      }
    }
    return out;
  }

  static const Json* ParameterNamed(const Json& parameters, const std::string& name) {
    for (const Json& parameter : parameters["parameter"]) {
      if (parameter["name"] == name)
        return &parameter;
    }
    return nullptr;
  }

  static void ExpectValid(const Json& resource) {
    fhir::Json json = fhir::ParseJson(resource.dump()).value();
    core::Status status = fhir::validation::ValidateResource(json);
    EXPECT_TRUE(status.has_value()) << resource.dump() << "\n"
                                    << (status ? "" : status.error().GetIssues()[0].diagnostics);
  }

  // Three patients of one person at three members, linked automatically (same resident ID),
  // plus one unrelated patient.
  void MakeThree() {
    std::string id = MakeId("44010619800102123");
    a_ = "Patient/" + Create(MakePatient(kMrnA, "GZ-1", "张", "伟", "1980-01-02", "male", id));
    b_ = "Patient/" + Create(MakePatient(kMrnB, "SZ-9", "ZHANG", "WEI", "1980-01-02", "male", id));
    c_ = "Patient/" + Create(MakePatient(kMrnC, "LH-3", "張", "偉", "1980-01-02", "male", id));
    d_ = "Patient/" + Create(MakePatient(kMrnB, "SZ-5", "李", "娜", "1990-05-06", "female",
                                         MakeId("44030519900506002")));
  }

  core::FakeClock clock_{1767225600000};      // 2026-01-01T00:00:00Z
  audit::AuditWriteHook audit_hook_{clock_};  // last, as `serve` wires it
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<PatientIndex> index_;
  std::unique_ptr<PatientHook> hook_;
  std::vector<std::unique_ptr<store::Operation>> operations_;
  std::unique_ptr<api::rest::RestService> service_;
  std::string a_, b_, c_, d_;
};

TEST_F(LinkOperationsTest, LinkMovesAPatientAndRecordsWhoDidIt) {
  MakeThree();
  auto before = PersonOf();
  ASSERT_EQ(before[a_], before[c_]);
  ASSERT_NE(before[a_], before[d_]);
  Json out = Operation("Person/$mpi-link",
                       Parameters({Param("patient", a_),
                                   Param("patient", d_),
                                   {{"name", "reason"}, {"valueString", "同一人（电话核实）"}}}));
  auto after = PersonOf();
  EXPECT_EQ(after[d_], after[a_]);
  EXPECT_TRUE(before[d_].empty());  // unmatched, so in no Person yet
  const Json* provenance = ParameterNamed(out, "provenance");
  ASSERT_NE(provenance, nullptr) << out.dump();
  const Json& record = (*provenance)["resource"];
  ExpectValid(record);
  EXPECT_EQ(record["activity"]["coding"][0]["code"], "mpi-link");
  EXPECT_EQ(record["agent"][0]["who"]["reference"], "Practitioner/steward-1");
  EXPECT_EQ(record["agent"][0]["onBehalfOf"]["reference"], "Organization/alliance");
  EXPECT_EQ(record["reason"][0]["text"], "同一人（电话核实）");
  ASSERT_EQ(record["target"].size(), 1u);
  ASSERT_EQ(record["entity"].size(), 1u);
  EXPECT_EQ(record["entity"][0]["role"], "revision");
  EXPECT_EQ(record["entity"][0]["what"]["reference"], "Person/" + after[a_] + "/_history/2");
  EXPECT_EQ(Search("Provenance?target=Person/" + after[a_]).size(), 1u);
  // Linking d to b's Person next moves it: it leaves a's Person (same Person here), so split c
  // off first and link d there; c's old Person loses d and keeps its other links.
  std::string person = after[a_];
  Operation("Person/" + person + "/$mpi-split", Parameters({Param("patient", c_)}));
  std::string c_person = PersonOf()[c_];
  Operation("Person/" + c_person + "/$mpi-link", Parameters({Param("patient", d_)}));
  auto moved = PersonOf();
  EXPECT_EQ(moved[d_], c_person);
  EXPECT_EQ(moved[a_], person);
  EXPECT_EQ(Read("Person/" + person)["link"].size(), 2u);  // a, b
  // Moving the last Patient out of a Person retires it (inactive, no link), never deletes it.
  Operation("Person/" + person + "/$mpi-link",
            Parameters({Param("patient", c_), Param("patient", d_)}));
  Json retired = Read("Person/" + c_person);
  EXPECT_FALSE(retired.contains("link"));
  EXPECT_EQ(retired["active"], false);
  // Linking again changes nothing and writes no record.
  Json again =
      Operation("Person/$mpi-link", Parameters({Param("patient", a_), Param("patient", d_)}));
  EXPECT_EQ(ParameterNamed(again, "provenance"), nullptr);
  EXPECT_EQ(Search("Provenance").size(), 4u);
}

TEST_F(LinkOperationsTest, OperationWritesGoThroughTheHooksAndAreAudited) {
  MakeThree();
  Json out =
      Operation("Person/$mpi-link", Parameters({Param("patient", a_), Param("patient", d_)}));
  const Json* provenance = ParameterNamed(out, "provenance");
  ASSERT_NE(provenance, nullptr) << out.dump();
  std::string provenance_id = (*provenance)["resource"]["id"];
  std::string person = PersonOf()[d_];
  // Every version the operation wrote has its AuditEvent, naming the steward and the module.
  std::map<std::string, Json> audited;
  for (const Json& event : Search("AuditEvent?_count=1000")) {
    for (const Json& entity : event.value("entity", Json::array()))
      audited[entity["what"]["reference"]] = event;
  }
  const std::string person_version =
      "Person/" + person + "/_history/" +
      Read("Person/" + person)["meta"]["versionId"].get<std::string>();
  for (const std::string& what : {"Provenance/" + provenance_id, person_version}) {
    ASSERT_TRUE(audited.count(what)) << what;
    std::string text = audited[what].dump();
    EXPECT_NE(text.find("Practitioner/steward-1"), std::string::npos) << text;
    EXPECT_NE(text.find("medalliance mpi"), std::string::npos) << text;
  }
}

TEST_F(LinkOperationsTest, LinkRefusesUnknownPatientsAndLoneRequests) {
  MakeThree();
  Operation("Person/$mpi-link",
            Parameters({Param("patient", a_), Param("patient", "Patient/nope")}), 404);
  Operation("Person/$mpi-link", Parameters({Param("patient", a_)}), 400);
  EXPECT_EQ(Send("GET", "Person/$mpi-link?patient=" + a_).status, 405);
  EXPECT_TRUE(Search("Provenance").empty());
}

TEST_F(LinkOperationsTest, UnlinkGivesThePatientItsOwnPersonAndIsNotUndoneByTheHook) {
  MakeThree();
  std::string person = PersonOf()[a_];
  Json out = Operation("Person/$mpi-unlink", Parameters({Param("patient", c_)}));
  ASSERT_NE(ParameterNamed(out, "provenance"), nullptr);
  auto after = PersonOf();
  EXPECT_EQ(after[a_], person);
  EXPECT_EQ(after[b_], person);
  EXPECT_NE(after[c_], person);
  ASSERT_FALSE(after[c_].empty());  // in a Person of its own: no link lost
  // The pairs are marked certainly-not.
  std::vector<Json> rejected = Search("Task?code=mpi-review&status=rejected");
  ASSERT_EQ(rejected.size(), 2u);
  for (const Json& task : rejected) {
    ExpectValid(task);
    EXPECT_EQ(task["output"][0]["valueCode"], "certainly-not");
  }
  // Updating the unlinked Patient neither relinks it nor reopens a review.
  Json c = Read(c_);
  c["active"] = true;
  ASSERT_EQ(Send("PUT", c_, c.dump()).status, 200);
  EXPECT_EQ(PersonOf()[c_], after[c_]);
  EXPECT_TRUE(Search("Task?code=mpi-review&status=requested").empty());
  // The only Patient of a Person cannot be unlinked from it.
  Operation("Person/$mpi-unlink", Parameters({Param("patient", c_)}), 422);
  Operation("Person/$mpi-unlink", Parameters({Param("patient", d_)}), 422);
}

TEST_F(LinkOperationsTest, SplitMovesChosenPatientsToANewPerson) {
  MakeThree();
  std::string person = PersonOf()[a_];
  Json out = Operation("Person/" + person + "/$mpi-split",
                       Parameters({Param("patient", b_), Param("patient", c_)}));
  ASSERT_NE(ParameterNamed(out, "provenance"), nullptr);
  auto after = PersonOf();
  EXPECT_EQ(after[a_], person);
  EXPECT_EQ(after[b_], after[c_]);
  EXPECT_NE(after[b_], person);
  Json split = Read("Person/" + after[b_]);
  ExpectValid(split);
  EXPECT_EQ(split["link"].size(), 2u);
  EXPECT_EQ(Search("Task?code=mpi-review&status=rejected").size(), 2u);  // a-b, a-c
  // Splitting every Patient off, or one not in the Person, is refused.
  Operation("Person/" + person + "/$mpi-split", Parameters({Param("patient", a_)}), 422);
  Operation("Person/" + person + "/$mpi-split", Parameters({Param("patient", d_)}), 422);
  Operation("Person/$mpi-split", Parameters({Param("patient", d_)}), 400);
}

TEST_F(LinkOperationsTest, MergeThenUnmergeRestoresTheExactState) {
  MakeThree();
  std::map<std::string, Json> before = State();
  Json out =
      Operation("Patient/$merge",
                Parameters({Param("source-patient", d_),
                            Param("target-patient", a_),
                            {{"name", "reason"}, {"valueString", "duplicate registration"}}}));
  const Json* provenance = ParameterNamed(out, "provenance");
  ASSERT_NE(provenance, nullptr) << out.dump();
  std::string record = "Provenance/" + (*provenance)["resource"]["id"].get<std::string>();
  Json source = Read(d_);
  ExpectValid(source);
  EXPECT_EQ(source["active"], false);
  EXPECT_EQ(source["link"][0]["type"], "replaced-by");
  EXPECT_EQ(source["link"][0]["other"]["reference"], a_);
  Json target = Read(a_);
  EXPECT_EQ(target["link"][0]["type"], "replaces");
  EXPECT_EQ(target["link"][0]["other"]["reference"], d_);
  EXPECT_EQ(PersonOf()[d_], PersonOf()[a_]);
  EXPECT_NE(State(), before);
  // Merging the merged source again is refused.
  Operation("Patient/$merge",
            Parameters({Param("source-patient", d_), Param("target-patient", b_)}), 422);

  Json undo = Operation("Patient/$mpi-unmerge", Parameters({Param("provenance", record)}));
  const Json* undo_record = ParameterNamed(undo, "provenance");
  ASSERT_NE(undo_record, nullptr);
  ExpectValid((*undo_record)["resource"]);
  EXPECT_EQ((*undo_record)["resource"]["activity"]["coding"][0]["code"], "mpi-unmerge");
  EXPECT_EQ(State(), before);
  // Each resource keeps its whole history: merge and undo are versions, not rewrites.
  EXPECT_EQ(Read(d_)["meta"]["versionId"], "3");
  // An undo happens once.
  Operation("Patient/$mpi-unmerge", Parameters({Param("provenance", record)}), 409);
}

TEST_F(LinkOperationsTest, UnmergeBySourceKeepsLaterChanges) {
  MakeThree();
  Operation("Patient/$merge",
            Parameters({Param("source-patient", d_), Param("target-patient", a_)}));
  // The target changes after the merge (a new phone); the undo keeps that change.
  Json target = Read(a_);
  target["telecom"] = Json::array({{{"system", "phone"}, {"value", "13800138000"}}});
  ASSERT_EQ(Send("PUT", a_, target.dump()).status, 200);
  Operation("Patient/$mpi-unmerge", Parameters({Param("source-patient", d_)}));
  Json restored = Read(a_);
  EXPECT_FALSE(restored.contains("link")) << restored.dump();
  EXPECT_EQ(restored["telecom"][0]["value"], "13800138000");
  EXPECT_FALSE(Read(d_).contains("link"));
  EXPECT_FALSE(Read(d_).contains("active"));
  EXPECT_NE(PersonOf()[d_], PersonOf()[a_]);
  Operation("Patient/$mpi-unmerge", Parameters({Param("source-patient", c_)}), 404);
}

TEST_F(LinkOperationsTest, UnlinkCanBeUndoneToo) {
  MakeThree();
  std::map<std::string, Json> before = State();
  Json out = Operation("Person/$mpi-unlink", Parameters({Param("patient", b_)}));
  std::string record =
      "Provenance/" + (*ParameterNamed(out, "provenance"))["resource"]["id"].get<std::string>();
  Operation("Patient/$mpi-unmerge", Parameters({Param("provenance", record)}));
  auto after = PersonOf();
  EXPECT_EQ(after[a_], after[b_]);
  // The Person made for b by the unlink is retired without links; the rest is as before.
  std::map<std::string, Json> state = State();
  for (const auto& [key, value] : before) EXPECT_EQ(state[key], value) << key;
  EXPECT_EQ(state.size(), before.size() + 1);
  // The rejected pairs are withdrawn, so the matcher may propose them again.
  EXPECT_TRUE(Search("Task?code=mpi-review&status=rejected").empty());
}

TEST_F(LinkOperationsTest, ReviewTaskAcceptLinksAndRejectIsFinal) {
  // Same name, birth date and sex only: probable, a review Task.
  std::string a = Create(MakePatient(kMrnA, "GZ-1", "王", "芳", "1975-03-04", "female"));
  std::string b = Create(MakePatient(kMrnB, "SZ-1", "王", "芳", "1975-03-04", "female"));
  std::string c = Create(MakePatient(kMrnC, "LH-1", "王", "芳", "1975-03-04", "female"));
  std::vector<Json> tasks = Search("Task?code=mpi-review&status=requested&_count=100");
  ASSERT_EQ(tasks.size(), 3u);
  std::string ab = ReviewTaskId("Patient/" + a, "Patient/" + b);
  std::string ac = ReviewTaskId("Patient/" + a, "Patient/" + c);
  Operation("Task/" + ab + "/$mpi-resolve",
            Parameters({{{"name", "decision"}, {"valueCode", "maybe"}}}), 400);
  Json accepted = Operation("Task/" + ab + "/$mpi-resolve",
                            Parameters({{{"name", "decision"}, {"valueCode", "accept"}}}));
  ASSERT_NE(ParameterNamed(accepted, "provenance"), nullptr);
  auto persons = PersonOf();
  EXPECT_EQ(persons["Patient/" + a], persons["Patient/" + b]);
  Json task = Read("Task/" + ab);
  ExpectValid(task);
  EXPECT_EQ(task["status"], "completed");
  Operation("Task/" + ab + "/$mpi-resolve",
            Parameters({{{"name", "decision"}, {"valueCode", "reject"}}}), 409);

  Operation("Task/" + ac + "/$mpi-resolve",
            Parameters({{{"name", "decision"}, {"valueCode", "reject"}},
                        {{"name", "reason"}, {"valueString", "different mothers' names"}}}));
  Json rejected = Read("Task/" + ac);
  ExpectValid(rejected);
  EXPECT_EQ(rejected["status"], "rejected");
  EXPECT_EQ(rejected["output"][0]["valueCode"], "certainly-not");
  EXPECT_NE(PersonOf()["Patient/" + c], PersonOf()["Patient/" + a]);
  // Writing c again does not reopen the rejected pair.
  Json c_json = Read("Patient/" + c);
  c_json["active"] = true;
  ASSERT_EQ(Send("PUT", "Patient/" + c, c_json.dump()).status, 200);
  EXPECT_EQ(Read("Task/" + ac)["status"], "rejected");
  // A Task that is not a review item is refused.
  std::string other =
      Create(Json{{"resourceType", "Task"}, {"status", "requested"}, {"intent", "order"}});
  Operation("Task/" + other + "/$mpi-resolve",
            Parameters({{{"name", "decision"}, {"valueCode", "accept"}}}), 422);
}

// Observation of a patient.
Json MakeObservation(const std::string& patient, const std::string& code) {
  return Json{
      {"resourceType", "Observation"},
      {"status", "final"},
      {"code", {{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", code}}})}}},
      {"subject", Ref(patient)}};
}

TEST_F(LinkOperationsTest, EverythingAcrossLinkedPatientsMarksTheMemberAndPages) {
  MakeThree();
  Create(MakeObservation(a_, "8867-4"));
  Create(MakeObservation(b_, "8480-6"));
  Create(MakeObservation(c_, "8462-4"));
  Create(MakeObservation(d_, "2339-0"));
  std::string person = PersonOf()[a_];
  auto collect = [&](std::string url, std::set<std::string>* members) {
    std::vector<Json> resources;
    int pages = 0;
    while (!url.empty() && pages < 20) {
      FhirResponse response = Send("GET", url.substr(std::string("http://test/").size()));
      EXPECT_EQ(response.status, 200) << response.body;
      Json bundle = Json::parse(response.body);
      for (const Json& entry : bundle["entry"]) {
        resources.push_back(entry["resource"]);
        EXPECT_EQ(entry["extension"][0]["url"], std::string(kAllianceMemberExtension));
        members->insert(entry["extension"][0]["valueReference"]["reference"]);
      }
      url.clear();
      for (const Json& link : bundle["link"]) {
        if (link["relation"] == "next")
          url = link["url"];
      }
      ++pages;
    }
    return resources;
  };
  std::set<std::string> members;
  std::vector<Json> all =
      collect("http://test/Person/" + person + "/$everything?_count=2", &members);
  EXPECT_EQ(all.size(), 6u);  // 3 Patients + 3 Observations, over 3 pages
  EXPECT_EQ(members, (std::set<std::string>{"Organization/gz-central", "Organization/sz-heart",
                                            "Organization/sz-luohu-chc"}));
  std::set<std::string> ids;
  for (const Json& resource : all)
    ids.insert(resource["resourceType"].get<std::string>() + "/" +
               resource["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_FALSE(ids.count(d_));
  // From a Patient with _mpi=linked: the same; without: its own compartment only.
  members.clear();
  EXPECT_EQ(collect("http://test/" + b_ + "/$everything?_mpi=linked&_count=4", &members).size(),
            6u);
  EXPECT_EQ(Search(b_ + "/$everything").size(), 3u);  // with its Person
  EXPECT_EQ(Send("GET", b_ + "/$everything?_mpi=all").status, 400);
  // After an unlink the Patient's $everything holds only its own records.
  Operation("Person/$mpi-unlink", Parameters({Param("patient", b_)}));
  members.clear();
  EXPECT_EQ(collect("http://test/" + b_ + "/$everything?_mpi=linked", &members).size(), 2u);
  EXPECT_EQ(members, (std::set<std::string>{"Organization/sz-heart"}));
}

TEST_F(LinkOperationsTest, SearchByALinkedIdentifierOnlyWhenAsked) {
  MakeThree();
  Create(MakeObservation(a_, "8867-4"));
  Create(MakeObservation(b_, "8480-6"));
  Create(MakeObservation(d_, "2339-0"));
  std::string mrn = std::string(kMrnB) + "|SZ-9";
  EXPECT_EQ(Search("Observation?patient.identifier=" + mrn).size(), 1u);
  EXPECT_EQ(Search("Observation?patient.identifier=" + mrn + "&_mpi-linked=true").size(), 2u);
  EXPECT_EQ(Search("Observation?subject:Patient.identifier=" + mrn + "&_mpi-linked=true").size(),
            2u);
  EXPECT_EQ(Search("Observation?patient=" + a_ + "&_mpi-linked=true").size(), 2u);
  EXPECT_EQ(Search("Observation?patient=" + a_ + "&_mpi-linked=false").size(), 1u);
  EXPECT_TRUE(Search("Observation?patient.identifier=x|none&_mpi-linked=true").empty());
  EXPECT_EQ(Send("GET", "Observation?patient=" + a_ + "&_mpi-linked=yes").status, 400);
  // Listed in the CapabilityStatement, with the operations.
  Json capability = Json::parse(Send("GET", "metadata").body);
  bool listed = false;
  std::set<std::string> person_operations;
  for (const Json& resource : capability["rest"][0]["resource"]) {
    if (resource["type"] == "Observation") {
      for (const Json& param : resource["searchParam"]) listed |= param["name"] == "_mpi-linked";
    }
    if (resource["type"] == "Person") {
      for (const Json& operation : resource["operation"])
        person_operations.insert(operation["name"]);
    }
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(person_operations,
            (std::set<std::string>{"everything", "mpi-link", "mpi-split", "mpi-unlink"}));
}

}  // namespace
}  // namespace medalliance::mpi
