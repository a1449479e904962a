// The access matrix of issue 4: role x relationship x consent x interaction, each cell with
// its expected allow/deny. Member A (org-a) holds Patient pat-a and Observation obs-a; the
// reader is member B (org-b), or A itself for "own". A denied resource must leave no trace:
// 404 on direct reads, absent from searches, totals, includes, history, $everything, $match.

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "access/access_test_util.h"

namespace medalliance::access_test {
namespace {

enum class Relationship { kOwn, kReferral, kEncounter, kLinked, kNone };
enum class Consent { kDefault, kOptOut, kOptIn };

const char* Name(Relationship relationship) {
  switch (relationship) {
    case Relationship::kOwn:
      return "own-record";
    case Relationship::kReferral:
      return "other-member+referral";
    case Relationship::kEncounter:
      return "other-member+encounter";
    case Relationship::kLinked:
      return "other-member+linked-patient-via-Person";
    case Relationship::kNone:
      return "other-member+no-relationship";
  }
  return "?";
}

const char* Name(Consent consent) {
  switch (consent) {
    case Consent::kDefault:
      return "alliance-default(opt-out),no-patient-consent";
    case Consent::kOptOut:
      return "patient-opt-out";
    case Consent::kOptIn:
      return "alliance-opt-in,patient-not-permitted";
  }
  return "?";
}

constexpr char kResidentId[] = "11010519491231002X";

std::string PatientJson(const std::string& id, const std::string& organization) {
  return R"({"resourceType":"Patient","id":")" + id +
         R"(","identifier":[{"system":"https://fhir.medalliance.cn/sid/mrn/)" + organization +
         R"(","value":"M-)" + id +
         R"("},{"system":"https://fhir.medalliance.cn/sid/resident-id","value":")" + kResidentId +
         R"("}],"name":[{"family":"张","given":["丽"]}],"gender":"female","birthDate":"1949-12-31","managingOrganization":{"reference":"Organization/)" +
         organization + R"("}})";
}

std::string ObservationJson(const std::string& id, const std::string& patient,
                            const std::string& organization) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/)" +
         patient + R"("},"performer":[{"reference":"Organization/)" + organization +
         R"("}],"valueQuantity":{"value":13.2,"unit":"g/dL"}})";
}

std::string EncounterJson(const std::string& id, const std::string& patient,
                          const std::string& organization) {
  return R"({"resourceType":"Encounter","id":")" + id +
         R"(","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/)" +
         patient + R"("},"serviceProvider":{"reference":"Organization/)" + organization + R"("}})";
}

std::string DenyConsentJson(const std::string& id, const std::string& patient) {
  return R"({"resourceType":"Consent","id":")" + id +
         R"(","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"patient":{"reference":"Patient/)" +
         patient +
         R"("},"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTOUT"}]},"provision":{"type":"deny"}})";
}

// One world per (relationship, consent): the records and the relationship set up.
struct Scenario {
  std::unique_ptr<World> world;
  store::Caller owner_caller = Member("org-a", "system");
  std::vector<std::string> setup_errors;
};

Scenario Build(Relationship relationship, Consent consent) {
  Scenario scenario;
  scenario.world =
      std::make_unique<World>(consent == Consent::kOptIn ? access::ConsentDefault::kOptIn
                                                         : access::ConsentDefault::kOptOut);
  World& world = *scenario.world;
  store::Caller a = Member("org-a", "system");
  store::Caller b = Member("org-b", "system");
  auto check = [&](std::string error) {
    if (!error.empty())
      scenario.setup_errors.push_back(std::move(error));
  };
  for (const char* organization : {"org-a", "org-b", "org-c"}) {
    check(world.Put(nullptr, "Organization", organization,
                    R"({"resourceType":"Organization","id":")" + std::string(organization) +
                        R"(","name":")" + organization + R"("})"));
  }
  check(world.Put(&a, "Patient", "pat-a", PatientJson("pat-a", "org-a")));
  check(world.Put(&a, "Observation", "obs-a", ObservationJson("obs-a", "pat-a", "org-a")));
  // B's own note about A's patient: the source of the _include cell.
  check(world.Put(&b, "Observation", "obs-b", ObservationJson("obs-b", "pat-a", "org-b")));
  std::string opt_out_patient = "pat-a";
  switch (relationship) {
    case Relationship::kOwn:
    case Relationship::kNone:
      break;
    case Relationship::kReferral:
      check(world.Put(
          &a, "ServiceRequest", "ref-1",
          R"({"resourceType":"ServiceRequest","id":"ref-1","status":"active","intent":"order","category":[{"coding":[{"system":"http://snomed.info/sct","code":"3457005"}]}],"subject":{"reference":"Patient/pat-a"},"requester":{"reference":"Organization/org-a"},"performer":[{"reference":"Organization/org-b"}]})"));
      break;
    case Relationship::kEncounter:
      check(world.Put(&b, "Encounter", "enc-b", EncounterJson("enc-b", "pat-a", "org-b")));
      break;
    case Relationship::kLinked:
      // B knows the person as its own Patient pat-b; the MPI links both under one Person.
      check(world.Put(&b, "Patient", "pat-b", PatientJson("pat-b", "org-b")));
      check(world.Put(&b, "Encounter", "enc-b", EncounterJson("enc-b", "pat-b", "org-b")));
      check(world.Put(
          nullptr, "Person", "person-1",
          R"({"resourceType":"Person","id":"person-1","link":[{"target":{"reference":"Patient/pat-a"}},{"target":{"reference":"Patient/pat-b"}}]})"));
      opt_out_patient = "pat-b";  // an opt-out on any linked Patient counts
      break;
  }
  if (consent == Consent::kOptOut) {
    const store::Caller& writer = opt_out_patient == "pat-a" ? a : b;
    check(
        world.Put(&writer, "Consent", "consent-1", DenyConsentJson("consent-1", opt_out_patient)));
  }
  world.IndexPatients();
  return scenario;
}

bool Expected(Relationship relationship, Consent consent) {
  if (relationship == Relationship::kOwn)
    return true;
  if (relationship == Relationship::kNone)
    return false;
  return consent == Consent::kDefault;
}

// Each interaction answers whether the reader saw A's record, and may add leak findings.
using Interaction = bool (*)(const World&, const store::Caller&, std::string* leak);

bool Read(const World& world, const store::Caller& reader, std::string* leak) {
  FhirResponse response = world.Send(&reader, "GET", "Observation/obs-a");
  if (response.status != 200 && response.status != 404)
    *leak = "read answered " + std::to_string(response.status);
  return response.status == 200;
}

bool VersionRead(const World& world, const store::Caller& reader, std::string* leak) {
  FhirResponse response = world.Send(&reader, "GET", "Observation/obs-a/_history/1");
  if (response.status != 200 && response.status != 404)
    *leak = "vread answered " + std::to_string(response.status);
  return response.status == 200;
}

bool Search(const World& world, const store::Caller& reader, std::string* leak) {
  FhirResponse response =
      world.Send(&reader, "GET", "Observation?subject=Patient/pat-a&_total=accurate");
  int64_t total = BundleTotal(response);
  if (total != static_cast<int64_t>(BundleEntries(response)))
    *leak = "total " + std::to_string(total) + " differs from the visible matches";
  // Paging must not leak either: a one-row page reports more only when more are visible.
  FhirResponse paged = world.Send(&reader, "GET", "Observation?subject=Patient/pat-a&_count=1");
  bool has_next = paged.body.find("\"relation\":\"next\"") != std::string::npos;
  if (has_next != (BundleEntries(response) > 1))
    *leak = "paging reveals hidden rows";
  return BundleHas(response, "Observation", "obs-a");
}

bool Include(const World& world, const store::Caller& reader, std::string* /*leak*/) {
  FhirResponse response =
      world.Send(&reader, "GET", "Observation?subject=Patient/pat-a&_include=Observation:subject");
  return BundleHas(response, "Patient", "pat-a");
}

bool RevInclude(const World& world, const store::Caller& reader, std::string* /*leak*/) {
  FhirResponse patients =
      world.Send(&reader, "GET", "Patient?_id=pat-a&_revinclude=Observation:subject");
  return BundleHas(patients, "Observation", "obs-a");
}

bool History(const World& world, const store::Caller& reader, std::string* leak) {
  FhirResponse instance = world.Send(&reader, "GET", "Observation/obs-a/_history");
  FhirResponse type = world.Send(&reader, "GET", "Observation/_history");
  bool in_type = BundleHas(type, "Observation", "obs-a");
  if ((instance.status == 200) != in_type)
    *leak = "instance and type history disagree";
  if (BundleTotal(type) != static_cast<int64_t>(BundleEntries(type, "")))
    *leak = "history total counts hidden versions";
  return instance.status == 200 && BundleHas(instance, "Observation", "obs-a");
}

bool Everything(const World& world, const store::Caller& reader, std::string* /*leak*/) {
  FhirResponse response = world.Send(&reader, "GET", "Patient/pat-a/$everything?_count=1000");
  return response.status == 200 && BundleHas(response, "Observation", "obs-a");
}

bool Match(const World& world, const store::Caller& reader, std::string* /*leak*/) {
  std::string body =
      R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","identifier":[{"system":"https://fhir.medalliance.cn/sid/resident-id","value":")" +
      std::string(kResidentId) +
      R"("}],"name":[{"family":"张","given":["丽"]}],"gender":"female","birthDate":"1949-12-31"}}]})";
  FhirResponse response = world.Send(&reader, "POST", "Patient/$match", body);
  return BundleHas(response, "Patient", "pat-a");
}

TEST(AccessMatrixTest, EveryCellAllowsOrDeniesAsSpecified) {
  const std::vector<std::pair<const char*, Interaction>> interactions = {
      {"read", Read},
      {"vread", VersionRead},
      {"search", Search},
      {"_include", Include},
      {"_revinclude", RevInclude},
      {"history", History},
      {"$everything", Everything},
      {"$match", Match}};
  const std::vector<std::string> roles = {"clinician", "referral-coordinator", "researcher",
                                          "data-steward", "system"};
  int cells = 0;
  for (Relationship relationship :
       {Relationship::kOwn, Relationship::kReferral, Relationship::kEncounter,
        Relationship::kLinked, Relationship::kNone}) {
    for (Consent consent : {Consent::kDefault, Consent::kOptOut, Consent::kOptIn}) {
      Scenario scenario = Build(relationship, consent);
      ASSERT_TRUE(scenario.setup_errors.empty())
          << Name(relationship) << " / " << Name(consent) << ": " << scenario.setup_errors[0];
      for (const std::string& role : roles) {
        store::Caller reader = Member(relationship == Relationship::kOwn ? "org-a" : "org-b", role);
        bool expected = Expected(relationship, consent);
        for (const auto& [name, interaction] : interactions) {
          std::string leak;
          bool seen = interaction(*scenario.world, reader, &leak);
          std::string cell = std::string("role=") + role + " relationship=" + Name(relationship) +
                             " consent=" + Name(consent) + " interaction=" + name;
          EXPECT_EQ(seen, expected) << cell << ": expected " << (expected ? "allow" : "deny");
          EXPECT_TRUE(leak.empty()) << cell << ": " << leak;
          ++cells;
        }
      }
    }
  }
  EXPECT_EQ(cells, 5 * 3 * 5 * 8);
}

TEST(AccessMatrixTest, OptInAllianceSharesWhenThePatientPermits) {
  Scenario scenario = Build(Relationship::kEncounter, Consent::kOptIn);
  ASSERT_TRUE(scenario.setup_errors.empty()) << scenario.setup_errors[0];
  store::Caller a = Member("org-a", "system");
  std::string permit = DenyConsentJson("consent-permit", "pat-a");
  permit.replace(permit.find("\"deny\""), 6, "\"permit\"");
  ASSERT_EQ(scenario.world->Put(&a, "Consent", "consent-permit", permit), "");
  store::Caller b = Member("org-b", "clinician");
  std::string leak;
  EXPECT_TRUE(Read(*scenario.world, b, &leak));
}

TEST(AccessMatrixTest, UnauthenticatedCallersAreNotRestricted) {
  Scenario scenario = Build(Relationship::kNone, Consent::kOptOut);
  FhirResponse response = scenario.world->Send(nullptr, "GET", "Observation/obs-a");
  EXPECT_EQ(response.status, 200);
}

TEST(AccessMatrixTest, ConsentNamingAnotherMemberDoesNotApplyToTheReader) {
  Scenario scenario = Build(Relationship::kEncounter, Consent::kDefault);
  store::Caller a = Member("org-a", "system");
  std::string deny = DenyConsentJson("consent-c", "pat-a");
  deny.replace(
      deny.find("{\"type\":\"deny\"}"), 15,
      R"({"type":"deny","actor":[{"role":{"text":"recipient"},"reference":{"reference":"Organization/org-c"}}]})");
  ASSERT_EQ(scenario.world->Put(&a, "Consent", "consent-c", deny), "");
  std::string leak;
  EXPECT_TRUE(Read(*scenario.world, Member("org-b", "clinician"), &leak));
  EXPECT_FALSE(Read(*scenario.world, Member("org-c", "clinician"), &leak));
}

}  // namespace
}  // namespace medalliance::access_test
