#pragma once
// Escalator: green-channel referrals not accepted by their deadline (issue 7).
//
// Tick(now) finds the open green-channel Tasks (Task.code kReferralSystem|green-channel,
// status requested or received) whose acceptance deadline (restriction.period.end) has
// passed and escalates each by one step, alternating:
//   1. to the duty coordinator of the receiving member: a PractitionerRole with code
//      kReferralSystem|duty-coordinator at the member (or the owning department), added to
//      restriction.recipient (skipped when the member has none);
//   2. to the nearest other capable member: Task.owner and ServiceRequest.performer move to
//      it (the direction is recomputed), the Task goes back to requested. Capable = provides
//      a HealthcareService typed kGreenChannelSystem|<condition> when any member declares one,
//      else any hospital of grade 三级. Members of the requester's city come first, then by
//      id; members that already had the referral are skipped. With none left the step is
//      "exhausted" and escalation stops.
// Each step starts a new deadline of the condition's length, appends a kEscalationExtension
// (level, at, action, target, from) and a Task.note, and is a new version of the Task, so the
// history shows it. At most ReferralConfig::max_escalation_steps steps per Task.
// The Task and ServiceRequest versions go through the whole write pipeline (ResourceWriter:
// validation, hooks, index, audit) as the system caller "referral-escalator", origin
// kWriteOrigin, so each step is audited as the server's own.
//
// Thread-safety: Tick() runs one store write transaction; call it from one thread (the serve
// timer) at a time.

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "referral/config.h"
#include "search/search.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::referral {

struct EscalationStep {
  std::string task_id;
  int level = 0;       // 1-based step number on that Task
  std::string action;  // "coordinator", "reassigned" or "exhausted"
  std::string target;  // PractitionerRole/.. or Organization/..; empty when exhausted
};

class Escalator {
 public:
  // `store` and `writer` (RestService::Writer()) are not owned and must outlive the escalator.
  Escalator(store::Store& store, const store::ResourceWriter& writer, ReferralConfig config = {});
  Escalator(const Escalator&) = delete;
  Escalator& operator=(const Escalator&) = delete;

  // Errors: the store's (nothing is changed then).
  core::Result<std::vector<EscalationStep>> Tick(core::EpochMillis now);

 private:
  store::Store& store_;
  const store::ResourceWriter& writer_;
  ReferralConfig config_;
  const store::Caller caller_;
  search::Searcher searcher_;
};

}  // namespace medalliance::referral
