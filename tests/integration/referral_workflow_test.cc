// A green-channel referral through the whole workflow over HTTP (authentication off, so the
// side check is skipped and legality is not): JSON Patch of the Task from requested to
// completed, the Encounter, the ServiceRequest following, the board, and a 409 for an illegal
// transition.

#include <string>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

Json Member(const std::string& id, const std::string& grade, const std::string& city) {
  return {{"resourceType", "Organization"},
          {"id", id},
          {"extension",
           Json::array({{{"url", "https://fhir.medalliance.cn/StructureDefinition/hospital-grade"},
                         {"valueString", grade}}})},
          {"name", id},
          {"address", Json::array({{{"city", city}}})}};
}

Headers JsonPatch() {
  return {{"Content-Type", "application/json-patch+json"}};
}

class ReferralWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.Path() / "referral.db");
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
    for (const Json& organization :
         {Member("sz-nanshan", "二级", "深圳市"), Member("sz-heart", "三级甲等", "深圳市")}) {
      Response response =
          client_->Send("PUT", "/Organization/" + organization["id"].get<std::string>(),
                        organization.dump(), FhirJson());
      ASSERT_EQ(response.status, 201) << response.body;
    }
    Response patient = client_->Send(
        "PUT", "/Patient/p1", Json{{"resourceType", "Patient"}, {"id", "p1"}}.dump(), FhirJson());
    ASSERT_EQ(patient.status, 201) << patient.body;
  }

  Response Patch(const std::string& path, const Json& patch) {
    return client_->Send("PATCH", path, patch.dump(), JsonPatch());
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ReferralWorkflowTest, GreenChannelReferralFromRequestToCompletion) {
  const std::string green = "https://fhir.medalliance.cn/CodeSystem/green-channel";
  Json request = {
      {"resourceType", "ServiceRequest"},
      {"status", "active"},
      {"intent", "order"},
      {"priority", "stat"},
      {"category",
       Json::array({{{"coding",
                      Json::array({{{"system", "http://snomed.info/sct"}, {"code", "3457005"}}})}},
                    {{"coding", Json::array({{{"system", green}, {"code", "green-channel"}},
                                             {{"system", green}, {"code", "chest-pain"}}})}}})},
      {"reasonCode", Json::array({{{"text", "STEMI"}}})},
      {"subject", {{"reference", "Patient/p1"}}},
      {"requester", {{"reference", "Organization/sz-nanshan"}}},
      {"performer", Json::array({{{"reference", "Organization/sz-heart"}}})}};
  Response created = client_->Send("POST", "/ServiceRequest", request.dump(), FhirJson());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string request_reference =
      "ServiceRequest/" + ParseBody(created)["id"].get<std::string>();
  EXPECT_NE(created.body.find("referral-direction"), std::string::npos) << created.body;

  Json task = {{"resourceType", "Task"},
               {"status", "requested"},
               {"intent", "order"},
               {"basedOn", Json::array({{{"reference", request_reference}}})}};
  created = client_->Send("POST", "/Task", task.dump(), FhirJson());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string task_path = "/Task/" + ParseBody(created)["id"].get<std::string>();
  EXPECT_TRUE(ParseBody(created)["restriction"]["period"].contains("end")) << created.body;

  // The board shows it while it is open.
  Response board = client_->Send("GET", "/$green-channel-board");
  ASSERT_EQ(board.status, 200) << board.body;
  EXPECT_NE(board.body.find(task_path.substr(1)), std::string::npos) << board.body;

  // An illegal jump is refused with the allowed transitions.
  Response illegal = Patch(
      task_path, Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "completed"}}}));
  EXPECT_EQ(illegal.status, 409) << illegal.body;
  EXPECT_NE(illegal.body.find("allowed from requested"), std::string::npos) << illegal.body;

  for (const char* status : {"received", "accepted"}) {
    Response moved = Patch(
        task_path,
        Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", status}},
                     {{"op", "add"}, {"path", "/businessStatus"}, {"value", {{"text", status}}}}}));
    ASSERT_EQ(moved.status, 200) << moved.body;
  }
  const std::string point = "https://fhir.medalliance.cn/StructureDefinition/green-channel-time-";
  Response arrived = Patch(
      task_path,
      Json::array(
          {{{"op", "replace"}, {"path", "/status"}, {"value", "in-progress"}},
           {{"op", "add"},
            {"path", "/extension/-"},
            {"value", {{"url", point + "door"}, {"valueDateTime", "2026-11-26T10:00:00+08:00"}}}},
           {{"op", "add"},
            {"path", "/extension/-"},
            {"value",
             {{"url", point + "balloon"}, {"valueDateTime", "2026-11-26T11:10:00+08:00"}}}}}));
  ASSERT_EQ(arrived.status, 200) << arrived.body;
  Json in_progress = ParseBody(arrived);
  ASSERT_TRUE(in_progress.contains("encounter")) << arrived.body;
  EXPECT_NE(arrived.body.find("door-to-balloon"), std::string::npos) << arrived.body;
  const std::string encounter_path = "/" + in_progress["encounter"]["reference"].get<std::string>();
  EXPECT_EQ(ParseBody(client_->Send("GET", encounter_path))["status"], "in-progress");

  Response done = Patch(
      task_path,
      Json::array(
          {{{"op", "replace"}, {"path", "/status"}, {"value", "completed"}},
           {{"op", "add"},
            {"path", "/output"},
            {"value", Json::array({{{"type", {{"text", "discharge summary"}}},
                                    {"valueReference", {{"reference", "Composition/ds-1"}}}}})}}}));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(ParseBody(client_->Send("GET", encounter_path))["status"], "finished");
  EXPECT_EQ(ParseBody(client_->Send("GET", "/" + request_reference))["status"], "completed");

  // Five versions (create and four transitions), each with its transition record.
  Json history = ParseBody(client_->Send("GET", task_path + "/_history"));
  EXPECT_EQ(history["entry"].size(), 5u);
  Json searched = ParseBody(client_->Send(
      "GET",
      "/Task?code=https://fhir.medalliance.cn/CodeSystem/referral|green-channel&status=completed"));
  EXPECT_EQ(searched["entry"].size(), 1u) << searched.dump();
  board = client_->Send("GET", "/$green-channel-board");
  EXPECT_EQ(board.body.find(task_path.substr(1)), std::string::npos) << board.body;
}

}  // namespace
}  // namespace medalliance::integration
