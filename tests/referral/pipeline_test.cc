// The referral module's own writes (the Encounter on arrival, the ServiceRequest following its
// Task, the escalator's steps) go through the whole write pipeline: indexed, audited for the
// request's caller (or the system caller of the escalator), seen by the other hooks.

#include "referral/referral_fixture.h"

namespace medalliance::referral {
namespace {

constexpr core::EpochMillis kMinute = 60'000;

class ReferralPipelineTest : public ReferralTest {};

bool Mentions(const Json& event, const std::string& text) {
  return event.dump().find(text) != std::string::npos;
}

TEST_F(ReferralPipelineTest, ArrivalEncounterIsAuditedForTheReceiverAndTheModule) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  const store::Caller receiver = As("sz-heart");
  for (const char* step : {"received", "accepted", "in-progress"})
    ASSERT_EQ(Move(task_id, step, receiver).status, 200) << step;
  Json task = Read("Task/" + task_id);
  std::string encounter = task["encounter"]["reference"];
  EXPECT_EQ(Search("Encounter?based-on=" + task["basedOn"][0]["reference"].get<std::string>() +
                   "&status=in-progress")
                .size(),
            1u);
  std::vector<Json> audits = AuditsOf(encounter);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0]["action"], "C");
  EXPECT_TRUE(Mentions(audits[0], "Organization/sz-heart")) << audits[0].dump();
  EXPECT_TRUE(Mentions(audits[0], "medalliance referral")) << audits[0].dump();
}

TEST_F(ReferralPipelineTest, CompletionAuditsTheServiceRequestAndTheFinishedEncounter) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  for (const char* step : {"received", "accepted", "in-progress", "completed"})
    ASSERT_EQ(Move(task_id, step, As("sz-heart")).status, 200) << step;
  Json task = Read("Task/" + task_id);
  std::string request = task["basedOn"][0]["reference"];
  Json stored = Read(request);
  EXPECT_EQ(stored["status"], "completed");
  std::vector<Json> audits =
      AuditsOf(request + "/_history/" + stored["meta"]["versionId"].get<std::string>());
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0]["action"], "U");
  EXPECT_TRUE(Mentions(audits[0], "medalliance referral"));
  EXPECT_EQ(AuditsOf(task["encounter"]["reference"].get<std::string>() + "/_history/2").size(), 1u);
  EXPECT_EQ(Search(std::string("ServiceRequest?status=completed")).size(), 1u);
}

TEST_F(ReferralPipelineTest, EscalationStepIsAuditedAsTheSystem) {
  std::string task_id = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke"));
  Escalator escalator(*store_, service_->Writer(), config_);
  ASSERT_EQ(escalator.Tick(kStart + 11 * kMinute).value().size(), 1u);
  Json task = Read("Task/" + task_id);
  std::vector<Json> audits =
      AuditsOf("Task/" + task_id + "/_history/" + task["meta"]["versionId"].get<std::string>());
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_TRUE(Mentions(audits[0], "medalliance system: referral-escalator")) << audits[0].dump();
  // Indexed like any write.
  EXPECT_EQ(Search("Task?owner=Organization/sz-heart&status=requested").size(), 1u);
}

}  // namespace
}  // namespace medalliance::referral
