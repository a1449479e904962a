// $referral-metrics: one member's month as a MeasureReport.

#include "referral/metrics_operation.h"

#include <map>

#include "referral/referral_fixture.h"

namespace medalliance::referral {
namespace {

using MetricsOperationTest = ReferralTest;

// group code -> group
std::map<std::string, Json> Groups(const Json& report) {
  std::map<std::string, Json> out;
  for (const Json& group : report["group"]) out[group["code"]["coding"][0]["code"]] = group;
  return out;
}

int64_t Count(const Json& group, const std::string& code) {
  for (const Json& population : group["population"]) {
    if (population["code"]["coding"][0]["code"] == code)
      return population["count"];
  }
  return -1;
}

TEST_F(MetricsOperationTest, CountsRatesAndComplianceOfOneMemberAndMonth) {
  // Received by sz-heart: one completed up referral with its down referral, one rejected,
  // one green-channel chest pain accepted after 4 minutes with door-to-balloon 100 min.
  std::string done =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  for (const char* step : {"received", "accepted", "in-progress", "completed"})
    ASSERT_EQ(Move(done, step).status, 200);
  Json down = MakeReferral("Organization/sz-heart", "Organization/sz-nanshan");
  down["basedOn"] = Json::array({Read("Task/" + done)["basedOn"][0]});
  Create(down);  // sent by sz-heart
  std::string rejected =
      StartReferral(MakeReferral("Organization/gz-tianhe-chc", "Organization/sz-heart"));
  ASSERT_EQ(Move(rejected, "received").status, 200);
  ASSERT_EQ(Move(rejected, "rejected").status, 200);
  std::string green = StartReferral(
      MakeGreenReferral("Organization/sz-nanshan", "Organization/sz-heart", "chest-pain"));
  clock_.Advance(4 * 60'000);
  ASSERT_EQ(Move(green, "received").status, 200);
  ASSERT_EQ(Move(green, "accepted").status, 200);
  const std::string point = "https://fhir.medalliance.cn/StructureDefinition/green-channel-time-";
  Json patch = Json::array(
      {{{"op", "add"},
        {"path", "/extension/-"},
        {"value", {{"url", point + "door"}, {"valueDateTime", "2026-11-26T17:00:00+08:00"}}}},
       {{"op", "add"},
        {"path", "/extension/-"},
        {"value", {{"url", point + "balloon"}, {"valueDateTime", "2026-11-26T18:40:00+08:00"}}}}});
  ASSERT_EQ(Send("PATCH", "Task/" + green, patch.dump(), "application/json-patch+json").status,
            200);
  // Not sz-heart's: gz-tianhe-chc → gz-central.
  StartReferral(MakeReferral("Organization/gz-tianhe-chc", "Organization/gz-central"));

  api::rest::FhirResponse response =
      Send("GET", "$referral-metrics?member=Organization/sz-heart&period=2026-11");
  ASSERT_EQ(response.status, 200) << response.body;
  Json report = Json::parse(response.body);
  EXPECT_EQ(report["resourceType"], "MeasureReport");
  EXPECT_EQ(report["reporter"]["reference"], "Organization/sz-heart");
  std::map<std::string, Json> groups = Groups(report);
  EXPECT_EQ(Count(groups["received"], "initial-population"), 3);
  EXPECT_EQ(Count(groups["sent"], "initial-population"), 1);
  EXPECT_NE(groups["received"].dump().find("广州市→深圳市"), std::string::npos);
  EXPECT_NE(groups["received"].dump().find("across-city"), std::string::npos);
  EXPECT_EQ(Count(groups["acceptance-rate"], "denominator"), 3);
  EXPECT_EQ(Count(groups["acceptance-rate"], "numerator"), 2);
  EXPECT_EQ(groups["acceptance-rate"]["measureScore"]["value"].dump(), "0.667");
  EXPECT_EQ(Count(groups["completion-rate"], "numerator"), 1);
  EXPECT_EQ(Count(groups["down-referral-rate"], "denominator"), 1);
  EXPECT_EQ(Count(groups["down-referral-rate"], "numerator"), 1);
  EXPECT_EQ(Count(groups["acceptance-time"], "initial-population"), 2);
  // door-to-balloon missed (100 > 90); acceptance-delay of the green referral met (4 <= 10).
  EXPECT_EQ(Count(groups["green-channel-compliance"], "denominator"), 2);
  EXPECT_EQ(Count(groups["green-channel-compliance"], "numerator"), 1);

  response = Send("GET", "$referral-metrics?member=Organization/sz-heart&period=2026-10");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(Count(Groups(Json::parse(response.body))["received"], "initial-population"), 0);
}

TEST_F(MetricsOperationTest, MemberAndMonthAreRequired) {
  EXPECT_EQ(Send("GET", "$referral-metrics?period=2026-11").status, 400);
  EXPECT_EQ(Send("GET", "$referral-metrics?member=Organization/sz-heart&period=2026").status, 400);
}

}  // namespace
}  // namespace medalliance::referral
