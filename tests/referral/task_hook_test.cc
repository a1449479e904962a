// The referral Task's state machine on the REST write path: every legal and illegal transition
// for each side, through JSON Patch of Task.status, over an in-memory store.

#include "referral/task_hook.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "referral/referral_fixture.h"

namespace medalliance::referral {
namespace {

// The path of legal steps from requested to each state.
const std::map<std::string, std::vector<std::string>> kPathTo = {
    {"requested", {}},
    {"received", {"received"}},
    {"accepted", {"received", "accepted"}},
    {"rejected", {"received", "rejected"}},
    {"in-progress", {"received", "accepted", "in-progress"}},
    {"completed", {"received", "accepted", "in-progress", "completed"}},
    {"cancelled", {"cancelled"}},
    {"failed", {"received", "accepted", "failed"}},
};

// from, to, side that may make it
const std::set<std::tuple<std::string, std::string, std::string>> kLegal = {
    {"requested", "received", "receiver"},    {"requested", "cancelled", "requester"},
    {"received", "accepted", "receiver"},     {"received", "rejected", "receiver"},
    {"received", "cancelled", "requester"},   {"accepted", "in-progress", "receiver"},
    {"accepted", "cancelled", "requester"},   {"accepted", "failed", "receiver"},
    {"in-progress", "completed", "receiver"},
};

using TaskHookTest = ReferralTest;

// Sending side sz-nanshan (requester PractitionerRole), receiving side a department of sz-heart.
TEST_F(TaskHookTest, EveryTransitionForEachSide) {
  const store::Caller requester = As("sz-nanshan");
  const store::Caller receiver = As("sz-heart");
  int legal_seen = 0;
  int cases = 0;
  for (const auto& [from, path] : kPathTo) {
    for (const auto& [to, unused] : kPathTo) {
      if (from == to)
        continue;
      for (const std::string side : {"requester", "receiver"}) {
        SCOPED_TRACE(from + " -> " + to + " by " + side);
        std::string task_id = StartReferral(
            MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart-card"));
        for (const std::string& step : path) {
          api::rest::FhirResponse moved = Move(task_id, step);
          ASSERT_EQ(moved.status, 200) << moved.body;
        }
        api::rest::FhirResponse response =
            Move(task_id, to, side == "requester" ? requester : receiver);
        const bool legal = kLegal.count({from, to, side}) > 0;
        const bool legal_other =
            kLegal.count({from, to, side == "requester" ? "receiver" : "requester"}) > 0;
        ++cases;
        if (legal) {
          ++legal_seen;
          EXPECT_EQ(response.status, 200) << response.body;
          EXPECT_EQ(Read("Task/" + task_id)["status"], to);
        } else if (legal_other) {
          EXPECT_EQ(response.status, 403) << response.body;
          EXPECT_EQ(Read("Task/" + task_id)["status"], from);
        } else {
          EXPECT_EQ(response.status, 409) << response.body;
          EXPECT_NE(response.body.find("allowed from " + from), std::string::npos) << response.body;
          EXPECT_EQ(Read("Task/" + task_id)["status"], from);
        }
      }
    }
  }
  EXPECT_EQ(cases, 8 * 7 * 2);
  EXPECT_EQ(legal_seen, 9);
}

TEST_F(TaskHookTest, CallerOfAnotherMemberIsOnNeitherSide) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  api::rest::FhirResponse response = Move(task_id, "received", As("gz-central"));
  EXPECT_EQ(response.status, 403) << response.body;
  response = Move(task_id, "cancelled", As("gz-central"));
  EXPECT_EQ(response.status, 403) << response.body;
}

TEST_F(TaskHookTest, UnknownStatusIsRefusedWithTheAllowedTransitions) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  api::rest::FhirResponse response = Move(task_id, "on-hold");
  EXPECT_EQ(response.status, 409) << response.body;
  EXPECT_NE(response.body.find("received (接收方 receiver)"), std::string::npos) << response.body;
}

TEST_F(TaskHookTest, OnlyTheRequesterSideCreatesTheTask) {
  std::string request_id =
      Create(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  Json task = {{"resourceType", "Task"},
               {"status", "requested"},
               {"intent", "order"},
               {"basedOn", Json::array({{{"reference", "ServiceRequest/" + request_id}}})}};
  api::rest::FhirResponse response =
      Send("POST", "Task", task.dump(), "application/fhir+json", As("sz-heart"));
  EXPECT_EQ(response.status, 403) << response.body;
  response = Send("POST", "Task", task.dump(), "application/fhir+json", As("sz-nanshan"));
  EXPECT_EQ(response.status, 201) << response.body;
  Json created = Json::parse(response.body);
  EXPECT_EQ(created["owner"]["reference"], "Organization/sz-heart");
  EXPECT_EQ(created["requester"]["reference"], "PractitionerRole/role-nanshan");
  EXPECT_EQ(created["for"]["reference"], "Patient/p1");
  EXPECT_EQ(created["focus"]["reference"], "ServiceRequest/" + request_id);
  EXPECT_EQ(created["code"]["coding"][0]["code"], "referral");
}

TEST_F(TaskHookTest, TaskMustStartAsRequested) {
  std::string request_id =
      Create(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  Json task = {{"resourceType", "Task"},
               {"status", "accepted"},
               {"intent", "order"},
               {"basedOn", Json::array({{{"reference", "ServiceRequest/" + request_id}}})}};
  EXPECT_EQ(Send("POST", "Task", task.dump()).status, 422);
}

TEST_F(TaskHookTest, RejectionNeedsAReason) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  ASSERT_EQ(Move(task_id, "received").status, 200);
  Json patch = Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "rejected"}}});
  api::rest::FhirResponse response =
      Send("PATCH", "Task/" + task_id, patch.dump(), "application/json-patch+json");
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_NE(response.body.find("Task.statusReason"), std::string::npos);
  ASSERT_EQ(Move(task_id, "rejected").status, 200);
  Json task = Read("Task/" + task_id);
  std::string request = task["basedOn"][0]["reference"];
  EXPECT_EQ(Read(request)["status"], "revoked");
}

TEST_F(TaskHookTest, ArrivalOpensAnEncounterAndCompletionClosesIt) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart-card"));
  ASSERT_EQ(Move(task_id, "received").status, 200);
  ASSERT_EQ(Move(task_id, "accepted").status, 200);
  clock_.Advance(3'600'000);
  ASSERT_EQ(Move(task_id, "in-progress").status, 200);
  Json task = Read("Task/" + task_id);
  ASSERT_TRUE(task.contains("encounter")) << task.dump();
  std::string request = task["basedOn"][0]["reference"];
  Json encounter = Read(task["encounter"]["reference"]);
  EXPECT_EQ(encounter["status"], "in-progress");
  EXPECT_EQ(encounter["basedOn"][0]["reference"], request);
  EXPECT_EQ(encounter["serviceProvider"]["reference"], "Organization/sz-heart");
  EXPECT_EQ(encounter["subject"]["reference"], "Patient/p1");
  EXPECT_EQ(Search("Encounter?based-on=" + request).size(), 1u);

  // Completing needs the discharge summary.
  Json patch = Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "completed"}}});
  EXPECT_EQ(Send("PATCH", "Task/" + task_id, patch.dump(), "application/json-patch+json").status,
            422);
  api::rest::FhirResponse done = Move(task_id, "completed");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(Read(task["encounter"]["reference"])["status"], "finished");
  EXPECT_EQ(Read(request)["status"], "completed");
}

TEST_F(TaskHookTest, CompletingAnUpReferralWarnsThatTheDownReferralIsDue) {
  std::string task_id =
      StartReferral(MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central"));
  for (const char* step : {"received", "accepted", "in-progress"})
    ASSERT_EQ(Move(task_id, step).status, 200);
  api::rest::FhirResponse done = Move(task_id, "completed", {}, true);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("a down referral"), std::string::npos) << done.body;

  // Once the down referral exists, completing another up referral of it does not warn.
  std::string other =
      StartReferral(MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central"));
  std::string request = Read("Task/" + other)["basedOn"][0]["reference"];
  Json down = MakeReferral("Organization/gz-central", "Organization/gz-tianhe-chc");
  down["basedOn"] = Json::array({{{"reference", request}}});
  Create(down);
  for (const char* step : {"received", "accepted", "in-progress"})
    ASSERT_EQ(Move(other, step).status, 200);
  done = Move(other, "completed", {}, true);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.body.find("a down referral"), std::string::npos) << done.body;
}

TEST_F(TaskHookTest, TransitionsKeepTimeAndAuthorInTheTaskAndItsHistory) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  clock_.Advance(60'000);
  ASSERT_EQ(Move(task_id, "received", As("sz-heart")).status, 200);
  clock_.Advance(60'000);
  ASSERT_EQ(Move(task_id, "accepted", As("sz-heart")).status, 200);
  Json task = Read("Task/" + task_id);
  std::vector<Json> transitions;
  for (const Json& extension : task["extension"]) {
    if (extension["url"] == "https://fhir.medalliance.cn/StructureDefinition/referral-transition")
      transitions.push_back(extension);
  }
  ASSERT_EQ(transitions.size(), 3u) << task.dump();
  Json last = transitions.back()["extension"];
  EXPECT_EQ(last[0]["url"], "from");
  EXPECT_EQ(last[0]["valueCode"], "received");
  EXPECT_EQ(last[1]["valueCode"], "accepted");
  EXPECT_EQ(last[2]["valueDateTime"], "2026-11-26T08:02:00.000Z");
  EXPECT_EQ(last[3]["valueReference"]["reference"], "Organization/sz-heart");
  EXPECT_EQ(task["lastModified"], "2026-11-26T08:02:00.000Z");

  // A client cannot rewrite the record: its own version of the extensions is replaced.
  Json forged = task;
  forged.erase("extension");
  forged["note"] = Json::array({{{"text", "bed 12"}}});
  api::rest::FhirResponse put =
      Send("PUT", "Task/" + task_id, forged.dump(), "application/fhir+json", As("sz-heart"));
  ASSERT_EQ(put.status, 200) << put.body;
  int kept = 0;
  const Json rewritten = Json::parse(put.body);
  for (const Json& extension : rewritten["extension"]) {
    if (extension["url"] == "https://fhir.medalliance.cn/StructureDefinition/referral-transition")
      ++kept;
  }
  EXPECT_EQ(kept, 3);

  api::rest::FhirResponse history = Send("GET", "Task/" + task_id + "/_history");
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(Json::parse(history.body)["entry"].size(), 4u);
}

TEST_F(TaskHookTest, PartiesOfTheReferralCannotBeChangedByAClient) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  Json patch = Json::array(
      {{{"op", "replace"}, {"path", "/owner/reference"}, {"value", "Organization/gz-central"}}});
  api::rest::FhirResponse response =
      Send("PATCH", "Task/" + task_id, patch.dump(), "application/json-patch+json");
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_NE(response.body.find("Task.owner"), std::string::npos);
}

TEST_F(TaskHookTest, OtherTasksAreLeftAlone) {
  Json task = {{"resourceType", "Task"}, {"status", "completed"}, {"intent", "order"}};
  std::string id = Create(task);
  Json patch = Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", "requested"}}});
  EXPECT_EQ(Send("PATCH", "Task/" + id, patch.dump(), "application/json-patch+json").status, 200);
}

TEST_F(TaskHookTest, ReferralCodedTaskWithoutServiceRequestIsRefused) {
  Json task = {
      {"resourceType", "Task"},
      {"status", "requested"},
      {"intent", "order"},
      {"code",
       {{"coding", Json::array({{{"system", "https://fhir.medalliance.cn/CodeSystem/referral"},
                                 {"code", "referral"}}})}}}};
  EXPECT_EQ(Send("POST", "Task", task.dump()).status, 422);
}

}  // namespace
}  // namespace medalliance::referral
