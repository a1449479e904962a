// Green channel: acceptance deadlines from the configuration, escalation driven by a fake clock,
// time-point derivations and the running board.

#include "core/config.h"
#include "referral/escalator.h"
#include "referral/referral_fixture.h"
#include "referral/time_points.h"

namespace medalliance::referral {
namespace {

constexpr core::EpochMillis kMinute = 60'000;
constexpr const char* kTimePoint =
    "https://fhir.medalliance.cn/StructureDefinition/green-channel-time-";

using GreenChannelTest = ReferralTest;

std::string Deadline(const Json& task) {
  return task["restriction"]["period"]["end"];
}

TEST_F(GreenChannelTest, DeadlineDependsOnTheCondition) {
  std::string stroke = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke"));
  std::string tumour = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "tumour-fast-track"));
  std::string failure = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "heart-failure"));
  EXPECT_EQ(Deadline(Read("Task/" + stroke)), "2026-11-26T08:10:00.000Z");
  EXPECT_EQ(Deadline(Read("Task/" + failure)), "2026-11-26T08:30:00.000Z");
  EXPECT_EQ(Deadline(Read("Task/" + tumour)), "2026-11-27T08:00:00.000Z");
  Json task = Read("Task/" + stroke);
  EXPECT_EQ(task["priority"], "stat");
  EXPECT_EQ(task["code"]["coding"][1]["code"], "green-channel");
  // A routine referral has no deadline.
  std::string routine =
      StartReferral(MakeReferral("Organization/sz-nanshan", "Organization/sz-heart"));
  EXPECT_FALSE(Read("Task/" + routine).contains("restriction"));
}

TEST(ReferralConfigTest, DeadlinesAndTargetsComeFromTheConfiguration) {
  core::Config config;
  config.Set("green-channel-deadline-stroke", "15");
  config.Set("green-channel-target-door-to-needle", "45");
  ReferralConfig parsed = ParseReferralConfig(config).value();
  EXPECT_EQ(parsed.DeadlineOf(Condition::kStroke), 15 * kMinute);
  EXPECT_EQ(parsed.DeadlineOf(Condition::kChestPain), 10 * kMinute);
  EXPECT_EQ(parsed.DeadlineOf(Condition::kTumourFastTrack), 24 * 60 * kMinute);
  EXPECT_EQ(parsed.door_to_needle_minutes, 45);
  EXPECT_EQ(parsed.door_to_balloon_minutes, 90);
  config.Set("green-channel-deadline-chest-pain", "ten");
  EXPECT_FALSE(ParseReferralConfig(config).has_value());
}

TEST_F(GreenChannelTest, OverdueReferralEscalatesToTheCoordinatorThenTheNearestCapableMember) {
  std::string task_id = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke"));
  Escalator escalator(*store_, service_->Writer(), config_);
  EXPECT_TRUE(escalator.Tick(kStart + 9 * kMinute).value().empty());

  // 1. past the deadline: the duty coordinator of sz-heart.
  std::vector<EscalationStep> steps = escalator.Tick(kStart + 11 * kMinute).value();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].action, "coordinator");
  EXPECT_EQ(steps[0].target, "PractitionerRole/coordinator-sz-heart");
  Json task = Read("Task/" + task_id);
  EXPECT_EQ(task["restriction"]["recipient"][0]["reference"],
            "PractitionerRole/coordinator-sz-heart");
  EXPECT_EQ(Deadline(task), "2026-11-26T08:21:00.000Z");
  ASSERT_EQ(task["note"].size(), 1u);
  EXPECT_NE(task["note"][0]["text"].get<std::string>().find("duty coordinator"), std::string::npos);
  EXPECT_TRUE(escalator.Tick(kStart + 15 * kMinute).value().empty());

  // 2. still not accepted: offered to the nearest other 三级 member, same city first.
  steps = escalator.Tick(kStart + 22 * kMinute).value();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].action, "reassigned");
  EXPECT_EQ(steps[0].target, "Organization/sz-people");
  task = Read("Task/" + task_id);
  EXPECT_EQ(task["owner"]["reference"], "Organization/sz-people");
  EXPECT_EQ(task["status"], "requested");
  Json request = Read(task["basedOn"][0]["reference"]);
  EXPECT_EQ(request["performer"][0]["reference"], "Organization/sz-people");

  // 3. sz-people has no coordinator: straight on to gz-central, across the cities.
  steps = escalator.Tick(kStart + 33 * kMinute).value();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].target, "Organization/gz-central");
  request = Read(Read("Task/" + task_id)["basedOn"][0]["reference"]);
  EXPECT_NE(request.dump().find("across-city"), std::string::npos) << request.dump();

  // 4. nobody left.
  steps = escalator.Tick(kStart + 44 * kMinute).value();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].action, "exhausted");
  EXPECT_TRUE(escalator.Tick(kStart + 120 * kMinute).value().empty());

  // Each step is a version in the Task's history.
  api::rest::FhirResponse history = Send("GET", "Task/" + task_id + "/_history");
  EXPECT_EQ(Json::parse(history.body)["entry"].size(), 5u);
  // The new receiver may now accept it; the old one may not.
  EXPECT_EQ(Move(task_id, "received", As("sz-heart")).status, 403);
  EXPECT_EQ(Move(task_id, "received", As("gz-central")).status, 200);
}

TEST_F(GreenChannelTest, ADeclaredHealthcareServiceDecidesWhoIsCapable) {
  Put({{"resourceType", "HealthcareService"},
       {"id", "gz-stroke"},
       {"active", true},
       {"providedBy", {{"reference", "Organization/gz-central"}}},
       {"type", Json::array({{{"coding",
                               Json::array({{{"system", kGreenSystem}, {"code", "stroke"}}})}}})}});
  std::string task_id = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-people", "stroke"));
  Escalator escalator(*store_, service_->Writer(), config_);
  std::vector<EscalationStep> steps = escalator.Tick(kStart + 11 * kMinute).value();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].action, "reassigned");  // sz-people has no coordinator
  EXPECT_EQ(steps[0].target, "Organization/gz-central");
}

TEST_F(GreenChannelTest, AcceptedReferralIsNotEscalated) {
  std::string task_id = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "chest-pain"));
  clock_.Advance(3 * kMinute);
  ASSERT_EQ(Move(task_id, "received").status, 200);
  ASSERT_EQ(Move(task_id, "accepted").status, 200);
  Escalator escalator(*store_, service_->Writer(), config_);
  EXPECT_TRUE(escalator.Tick(kStart + 60 * kMinute).value().empty());
  // The acceptance delay is derived: 3 minutes against the 10-minute deadline.
  Json task = Read("Task/" + task_id);
  bool found = false;
  for (const Json& extension : task["extension"]) {
    if (extension["url"] !=
            "https://fhir.medalliance.cn/StructureDefinition/green-channel-metric" ||
        extension["extension"][0]["valueCode"] != "acceptance-delay")
      continue;
    found = true;
    EXPECT_EQ(extension["extension"][1]["valueDuration"]["value"].dump(), "3.0");
    EXPECT_EQ(extension["extension"][3]["valueBoolean"], true);
  }
  EXPECT_TRUE(found) << task.dump();
}

TEST(TimePointsTest, DerivesIntervalsAndFlagsMissedTargets) {
  TimePoints points;
  const core::EpochMillis door = kStart;
  points.first_medical_contact = door - 40 * kMinute;
  points.symptom_onset = door - 100 * kMinute;
  points.door = door;
  points.needle = door + 61 * kMinute;
  points.balloon = door + 75 * kMinute;
  ReferralConfig config;
  std::vector<Metric> metrics = DeriveMetrics(points, config, std::nullopt);
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics[0].code, "door-to-needle");
  EXPECT_EQ(metrics[0].millis, 61 * kMinute);
  EXPECT_FALSE(metrics[0].met);
  EXPECT_EQ(metrics[1].code, "door-to-balloon");
  EXPECT_TRUE(metrics[1].met);
  EXPECT_EQ(metrics[2].code, "first-contact-to-balloon");
  EXPECT_EQ(metrics[2].millis, 115 * kMinute);
  EXPECT_TRUE(metrics[2].met);
  EXPECT_EQ(metrics[3].code, "onset-to-door");
  EXPECT_FALSE(metrics[3].target_minutes.has_value());

  config.first_contact_to_balloon_minutes = 100;
  metrics = DeriveMetrics(points, config, std::nullopt);
  EXPECT_FALSE(metrics[2].met);
  EXPECT_EQ(FormatMinutes(61 * kMinute + 30'000), "61.5");
  EXPECT_EQ(FormatMinutes(-90'000), "-1.5");
}

TEST_F(GreenChannelTest, TimePointsOnTheTaskAreDerivedOnWrite) {
  std::string task_id = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "chest-pain"));
  Json patch =
      Json::array({{{"op", "add"},
                    {"path", "/extension"},
                    {"value", Json::array({{{"url", std::string(kTimePoint) + "door"},
                                            {"valueDateTime", "2026-11-26T17:00:00+08:00"}},
                                           {{"url", std::string(kTimePoint) + "balloon"},
                                            {"valueDateTime", "2026-11-26T18:45:00+08:00"}}})}}});
  api::rest::FhirResponse response =
      Send("PATCH", "Task/" + task_id, patch.dump(), "application/json-patch+json", {}, true);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find("door-to-balloon 105.0 min > 90 min"), std::string::npos)
      << response.body;
  Json task = Read("Task/" + task_id);
  bool found = false;
  for (const Json& extension : task["extension"]) {
    if (extension["url"] ==
            "https://fhir.medalliance.cn/StructureDefinition/green-channel-metric" &&
        extension["extension"][0]["valueCode"] == "door-to-balloon") {
      found = true;
      EXPECT_EQ(extension["extension"][3]["valueBoolean"], false);
    }
  }
  EXPECT_TRUE(found) << task.dump();
}

TEST_F(GreenChannelTest, BoardListsOpenGreenChannelReferralsMostUrgentFirst) {
  std::string tumour = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "tumour-fast-track"));
  std::string stroke = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke"));
  std::string done = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "stroke"));
  ASSERT_EQ(Move(done, "cancelled").status, 200);
  StartReferral(MakeReferral("Organization/sz-nanshan", "Organization/sz-heart"));
  clock_.Advance(12 * kMinute);
  api::rest::FhirResponse response = Send("GET", "$green-channel-board");
  ASSERT_EQ(response.status, 200) << response.body;
  Json board = Json::parse(response.body);
  ASSERT_EQ(board["parameter"].size(), 3u) << board.dump();
  EXPECT_EQ(board["parameter"][0]["name"], "generated");
  Json first = board["parameter"][1]["part"];
  EXPECT_EQ(first[0]["valueReference"]["reference"], "Task/" + stroke);
  std::map<std::string, Json> parts;
  for (const Json& part : first) parts[part["name"]] = part;
  EXPECT_EQ(parts["condition"]["valueCoding"]["code"], "stroke");
  EXPECT_EQ(parts["elapsed"]["valueDuration"]["value"].dump(), "12.0");
  EXPECT_EQ(parts["remaining"]["valueDuration"]["value"].dump(), "-2.0");
  EXPECT_EQ(parts["overdue"]["valueBoolean"], true);
  EXPECT_EQ(board["parameter"][2]["part"][0]["valueReference"]["reference"], "Task/" + tumour);

  response = Send("GET", "$green-channel-board?owner=Organization/gz-central");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Json::parse(response.body)["parameter"].size(), 1u);
}

}  // namespace
}  // namespace medalliance::referral
