#pragma once
// Alliance settings of the referral module: green-channel acceptance deadlines per condition,
// the national targets of the derived intervals, and escalation limits.

#include <map>

#include "core/clock.h"
#include "core/config.h"
#include "core/result.h"
#include "referral/codes.h"

namespace medalliance::referral {

struct ReferralConfig {
  // Acceptance deadline of a green-channel referral, from the Task's creation.
  std::map<Condition, core::EpochMillis> acceptance_deadline = {
      {Condition::kStroke, 10 * 60'000},
      {Condition::kChestPain, 10 * 60'000},
      {Condition::kHeartFailure, 30 * 60'000},
      {Condition::kCardiacEmergency, 30 * 60'000},
      {Condition::kTumourFastTrack, 24 * 3'600'000},
  };
  // National targets in minutes: door-to-needle, door-to-balloon, first-contact-to-balloon.
  int door_to_needle_minutes = 60;
  int door_to_balloon_minutes = 90;
  int first_contact_to_balloon_minutes = 120;
  // Escalation steps per Task before the escalator gives up (coordinator, next member, ...).
  int max_escalation_steps = 6;

  core::EpochMillis DeadlineOf(Condition condition) const;
};

// Reads the settings from a config (file or environment), keys:
//   green-channel-deadline-<condition> (minutes, e.g. green-channel-deadline-stroke = 10),
//   green-channel-target-door-to-needle, -door-to-balloon, -first-contact-to-balloon (minutes),
//   referral-max-escalation-steps.
// Absent keys keep the defaults. Error: kBadRequest naming a key that is not a positive integer.
core::Result<ReferralConfig> ParseReferralConfig(const core::Config& config);

}  // namespace medalliance::referral
