// Referral ServiceRequests: direction from grades and cities, down-referral rules, green-channel
// requirements, search by direction.

#include "referral/service_request_hook.h"

#include "referral/members.h"
#include "referral/referral_fixture.h"

namespace medalliance::referral {
namespace {

using ServiceRequestHookTest = ReferralTest;

std::vector<std::string> Directions(const Json& request) {
  std::vector<std::string> out;
  for (const Json& concept_json : request["category"]) {
    for (const Json& coding : concept_json.value("coding", Json::array())) {
      if (coding["system"] == kDirection)
        out.push_back(coding["code"]);
    }
  }
  return out;
}

TEST(GradeLevelTest, ReadsTheGradeText) {
  EXPECT_EQ(GradeLevel("三级甲等"), 3);
  EXPECT_EQ(GradeLevel("二级"), 2);
  EXPECT_EQ(GradeLevel("一级"), 1);
  EXPECT_EQ(GradeLevel("社区卫生服务中心"), 0);
  EXPECT_EQ(GradeLevel("grade-3"), 3);
  EXPECT_EQ(GradeLevel("unknown"), -1);
}

TEST_F(ServiceRequestHookTest, DirectionFollowsGradesAndCities) {
  struct Case {
    std::string requester;
    std::string performer;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"Organization/gz-tianhe-chc", "Organization/gz-central", {"up"}},
      {"Organization/gz-tianhe-chc", "Organization/sz-heart", {"up", "across-city"}},
      {"PractitionerRole/role-nanshan", "Organization/sz-heart-card", {"up"}},
      {"Practitioner/pr-nanshan", "Organization/sz-heart", {"up"}},
      {"Organization/gz-central", "Organization/sz-heart", {"lateral", "across-city"}},
      {"Organization/sz-heart", "Organization/sz-nanshan", {"down"}},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.requester + " -> " + test_case.performer);
    api::rest::FhirResponse response = Send(
        "POST", "ServiceRequest", MakeReferral(test_case.requester, test_case.performer).dump(),
        "application/fhir+json", {}, true);
    ASSERT_EQ(response.status, 201) << response.body;
    std::string location = response.headers.Get("Location").empty()
                               ? ""
                               : std::string(response.headers.Get("Location"));
    size_t start = location.find("ServiceRequest/");
    size_t history = location.find("/_history");
    Json stored = Read(location.substr(start, history - start));
    EXPECT_EQ(Directions(stored), test_case.expected) << stored.dump();
  }
}

TEST_F(ServiceRequestHookTest, ADirectionThatContradictsTheGradesIsRefused) {
  Json request = MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central");
  request["category"].push_back(
      {{"coding", Json::array({{{"system", kDirection}, {"code", "down"}}})}});
  api::rest::FhirResponse response = Send("POST", "ServiceRequest", request.dump());
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_NE(response.body.find("the direction is up"), std::string::npos) << response.body;
}

TEST_F(ServiceRequestHookTest, UnknownPartiesAreRefused) {
  EXPECT_EQ(Send("POST", "ServiceRequest",
                 MakeReferral("Organization/nowhere", "Organization/gz-central").dump())
                .status,
            422);
  EXPECT_EQ(Send("POST", "ServiceRequest",
                 MakeReferral("Organization/gz-central", "Organization/nowhere").dump())
                .status,
            422);
  Json no_subject = MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central");
  no_subject["subject"] = {{"reference", "Group/g1"}};
  EXPECT_EQ(Send("POST", "ServiceRequest", no_subject.dump()).status, 422);
}

TEST_F(ServiceRequestHookTest, DownReferralGoesBackToTheSenderOrACommunityCentre) {
  std::string up = Create(MakeReferral("Organization/sz-nanshan", "Organization/sz-heart"));
  Json back = MakeReferral("Organization/sz-heart", "Organization/sz-nanshan");
  back["basedOn"] = Json::array({{{"reference", "ServiceRequest/" + up}}});
  EXPECT_EQ(Send("POST", "ServiceRequest", back.dump()).status, 201);

  Json to_chc = MakeReferral("Organization/sz-heart", "Organization/gz-tianhe-chc");
  to_chc["basedOn"] = Json::array({{{"reference", "ServiceRequest/" + up}}});
  EXPECT_EQ(Send("POST", "ServiceRequest", to_chc.dump()).status, 201);

  std::string up_from_chc =
      Create(MakeReferral("Organization/gz-tianhe-chc", "Organization/sz-heart"));
  Json elsewhere = MakeReferral("Organization/sz-heart", "Organization/sz-nanshan");
  elsewhere["basedOn"] = Json::array({{{"reference", "ServiceRequest/" + up_from_chc}}});
  api::rest::FhirResponse response = Send("POST", "ServiceRequest", elsewhere.dump());
  EXPECT_EQ(response.status, 422) << response.body;

  Json without_basis = MakeReferral("Organization/sz-heart", "Organization/sz-nanshan");
  response =
      Send("POST", "ServiceRequest", without_basis.dump(), "application/fhir+json", {}, true);
  EXPECT_EQ(response.status, 201) << response.body;
  EXPECT_NE(response.body.find("basedOn"), std::string::npos) << response.body;
}

TEST_F(ServiceRequestHookTest, GreenChannelNeedsStatAndACondition) {
  Json request = MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke");
  request["priority"] = "urgent";
  EXPECT_EQ(Send("POST", "ServiceRequest", request.dump()).status, 422);
  request = MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "flu");
  EXPECT_EQ(Send("POST", "ServiceRequest", request.dump()).status, 422);
  request = MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke");
  EXPECT_EQ(Send("POST", "ServiceRequest", request.dump()).status, 201);
}

TEST_F(ServiceRequestHookTest, ReferralsAreSearchableByDirectionAndParties) {
  Create(MakeReferral("Organization/gz-tianhe-chc", "Organization/sz-heart"));
  Create(MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central"));
  Create(MakeReferral("Organization/gz-central", "Organization/sz-heart"));
  EXPECT_EQ(Search(std::string("ServiceRequest?category=") + kDirection + "|up").size(), 2u);
  EXPECT_EQ(Search(std::string("ServiceRequest?category=") + kDirection + "|across-city").size(),
            2u);
  EXPECT_EQ(Search("ServiceRequest?performer=Organization/sz-heart&category=http://snomed.info/"
                   "sct|3457005")
                .size(),
            2u);
  EXPECT_EQ(Search("ServiceRequest?requester=Organization/gz-tianhe-chc&status=active&priority="
                   "routine&authored=ge2026-11-26")
                .size(),
            2u);
  // By member hospital and city, from the referral-route extension the hook sets: a referral
  // to a department (sz-heart-card) counts for its hospital.
  Create(MakeReferral("Organization/gz-central", "Organization/sz-heart-card"));
  EXPECT_EQ(Search("ServiceRequest?to-member=Organization/sz-heart").size(), 3u);
  EXPECT_EQ(Search("ServiceRequest?from-member=Organization/gz-tianhe-chc").size(), 2u);
  EXPECT_EQ(Search("ServiceRequest?from-city=广州&to-city=深圳").size(), 3u);
  EXPECT_EQ(Search("ServiceRequest?from-city=深圳").size(), 0u);
  EXPECT_EQ(Search("ServiceRequest?to-city=广州市&from-member=Organization/gz-tianhe-chc").size(),
            1u);
}

TEST_F(ServiceRequestHookTest, StatusAndPartiesFollowTheTaskOnceThereIsOne) {
  std::string request_id =
      Create(MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central"));
  Json patch = Json::array({{{"op", "replace"}, {"path", "/priority"}, {"value", "urgent"}}});
  EXPECT_EQ(
      Send("PATCH", "ServiceRequest/" + request_id, patch.dump(), "application/json-patch+json")
          .status,
      200);
  Json task = {{"resourceType", "Task"},
               {"status", "requested"},
               {"intent", "order"},
               {"basedOn", Json::array({{{"reference", "ServiceRequest/" + request_id}}})}};
  Create(task);
  patch = Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "completed"}}});
  api::rest::FhirResponse response =
      Send("PATCH", "ServiceRequest/" + request_id, patch.dump(), "application/json-patch+json");
  EXPECT_EQ(response.status, 409) << response.body;
  patch = Json::array({{{"op", "replace"},
                        {"path", "/performer/0/reference"},
                        {"value", "Organization/sz-heart"}}});
  EXPECT_EQ(
      Send("PATCH", "ServiceRequest/" + request_id, patch.dump(), "application/json-patch+json")
          .status,
      409);
  patch = Json::array({{{"op", "replace"}, {"path", "/priority"}, {"value", "routine"}}});
  EXPECT_EQ(
      Send("PATCH", "ServiceRequest/" + request_id, patch.dump(), "application/json-patch+json")
          .status,
      200);
}

}  // namespace
}  // namespace medalliance::referral
