// The transition table, pair by pair and side by side, against an expected table written out
// here (not derived from the code under test).

#include "referral/state_machine.h"

#include <set>
#include <string>
#include <tuple>

#include <gtest/gtest.h>

namespace medalliance::referral {
namespace {

const char* const kStates[] = {"requested",   "received",  "accepted",  "rejected",
                               "in-progress", "completed", "cancelled", "failed"};

// from, to, side ("requester" / "receiver")
const std::set<std::tuple<std::string, std::string, std::string>> kLegal = {
    {"requested", "received", "receiver"},    {"requested", "cancelled", "requester"},
    {"received", "accepted", "receiver"},     {"received", "rejected", "receiver"},
    {"received", "cancelled", "requester"},   {"accepted", "in-progress", "receiver"},
    {"accepted", "cancelled", "requester"},   {"accepted", "failed", "receiver"},
    {"in-progress", "completed", "receiver"},
};

bool LegalForSomeone(const std::string& from, const std::string& to) {
  return kLegal.count({from, to, "requester"}) > 0 || kLegal.count({from, to, "receiver"}) > 0;
}

TEST(StateMachineTest, EveryPairAndSideFollowsTheTable) {
  int checked = 0;
  for (const char* from_code : kStates) {
    for (const char* to_code : kStates) {
      if (std::string(from_code) == to_code)
        continue;
      TaskState from = *ParseTaskState(from_code);
      TaskState to = *ParseTaskState(to_code);
      for (const char* side : {"requester", "receiver"}) {
        CallerSides sides{true, std::string(side) == "requester", std::string(side) == "receiver"};
        core::Status status = CheckTransition(from, to, sides);
        const bool legal = kLegal.count({from_code, to_code, side}) > 0;
        SCOPED_TRACE(std::string(from_code) + " -> " + to_code + " by " + side);
        if (legal) {
          EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
        } else if (LegalForSomeone(from_code, to_code)) {
          ASSERT_FALSE(status.has_value());
          EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kForbidden);
        } else {
          ASSERT_FALSE(status.has_value());
          EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kConflict);
          EXPECT_EQ(status.error().GetIssues()[0].expression, "Task.status");
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 8 * 7 * 2);
}

TEST(StateMachineTest, UncheckedCallerMayMakeEveryLegalTransitionButNoIllegalOne) {
  for (const char* from_code : kStates) {
    for (const char* to_code : kStates) {
      if (std::string(from_code) == to_code)
        continue;
      core::Status status =
          CheckTransition(*ParseTaskState(from_code), *ParseTaskState(to_code), CallerSides{});
      EXPECT_EQ(status.has_value(), LegalForSomeone(from_code, to_code))
          << from_code << " -> " << to_code;
    }
  }
}

TEST(StateMachineTest, IllegalTransitionNamesTheAllowedOnesInChineseAndEnglish) {
  core::Status status = CheckTransition(TaskState::kReceived, TaskState::kCompleted, CallerSides{});
  ASSERT_FALSE(status.has_value());
  const std::string& message = status.error().GetMessage();
  EXPECT_NE(message.find("不允许"), std::string::npos) << message;
  EXPECT_NE(message.find("illegal referral transition received → completed"), std::string::npos);
  EXPECT_NE(message.find("accepted (接收方 receiver)"), std::string::npos) << message;
  EXPECT_NE(message.find("rejected (接收方 receiver)"), std::string::npos) << message;
  EXPECT_NE(message.find("cancelled (申请方 requester)"), std::string::npos) << message;
}

TEST(StateMachineTest, FinalStatesAllowNothing) {
  for (TaskState state :
       {TaskState::kRejected, TaskState::kCompleted, TaskState::kCancelled, TaskState::kFailed}) {
    EXPECT_TRUE(IsFinal(state)) << ToCode(state);
    core::Status status = CheckTransition(state, TaskState::kRequested, CallerSides{});
    ASSERT_FALSE(status.has_value());
    EXPECT_NE(status.error().GetMessage().find("none (final state)"), std::string::npos);
  }
  EXPECT_FALSE(IsFinal(TaskState::kAccepted));
  EXPECT_EQ(ParseTaskState("on-hold"), std::nullopt);
}

}  // namespace
}  // namespace medalliance::referral
