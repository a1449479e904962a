#pragma once
// Green-channel time points on the Task and the intervals derived from them (issue 7).
//
// Time points are Task extensions kTimePointPrefix + name with valueDateTime:
//   symptom-onset, first-medical-contact, departure, door, imaging, needle, balloon.
// Derived intervals (kMetricExtension, recomputed on every write of the Task):
//   door-to-needle (target 60 min), door-to-balloon (90), first-contact-to-balloon (120),
//   onset-to-door (no target) and acceptance-delay (target: the condition's deadline).
// Pure logic over the JSON tree.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "fhir/json/json.h"
#include "referral/config.h"

namespace medalliance::referral {

inline constexpr std::string_view kTimePointNames[] = {
    "symptom-onset", "first-medical-contact", "departure", "door", "imaging", "needle", "balloon"};

struct TimePoints {
  std::optional<core::EpochMillis> symptom_onset;
  std::optional<core::EpochMillis> first_medical_contact;
  std::optional<core::EpochMillis> departure;
  std::optional<core::EpochMillis> door;
  std::optional<core::EpochMillis> imaging;
  std::optional<core::EpochMillis> needle;
  std::optional<core::EpochMillis> balloon;
  // From the Task itself: authoredOn and the time of the transition to accepted.
  std::optional<core::EpochMillis> authored;
  std::optional<core::EpochMillis> accepted;
};

struct Metric {
  std::string code;  // door-to-needle, door-to-balloon, first-contact-to-balloon, ...
  core::EpochMillis millis = 0;
  std::optional<int64_t> target_minutes;
  bool met = true;  // true when there is no target
};

// Reads the time points, authoredOn and the accepted transition from a Task.
TimePoints ReadTimePoints(const fhir::Json& task);

// The intervals that both ends are known for. `acceptance_target` is the condition's
// deadline (nullopt for a referral outside the green channel).
std::vector<Metric> DeriveMetrics(const TimePoints& points, const ReferralConfig& config,
                                  std::optional<core::EpochMillis> acceptance_target);

// Replaces the Task's metric extensions with `metrics`.
void WriteMetrics(fhir::Json& task, const std::vector<Metric>& metrics);

// Minutes with one decimal ("42.5").
std::string FormatMinutes(core::EpochMillis millis);

}  // namespace medalliance::referral
