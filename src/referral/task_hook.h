#pragma once
// TaskHook: the referral Task's state machine on the write path (issue 7).
//
// A referral Task is a Task whose basedOn names a referral ServiceRequest
// (service_request_hook.h); a Task coded kReferralSystem|referral without one is refused.
// Other Tasks (e.g. the MPI's review items) are let through untouched.
//
// Create: the status must be requested; for, requester, owner and focus are filled from the
// ServiceRequest when absent (subject, requester, performer[0], the ServiceRequest itself);
// Task.code gets kReferralSystem|referral (and |green-channel); authoredOn defaults to now.
// A green-channel Task gets priority stat and its acceptance deadline in
// restriction.period.end (now + the condition's deadline from ReferralConfig).
//
// Update and patch: for, requester, owner and basedOn cannot change (the escalator alone moves
// a referral to another member). A change of status must be a legal transition made by the
// right side (state_machine.h): the side is known from WriteEvent.caller->organization_id
// compared with the members of Task.requester and Task.owner; without an authenticated caller
// the side is not checked, legality always is. Per target state:
//   rejected     statusReason is required (kUnprocessable);
//   in-progress  the patient arrived: an Encounter (in-progress, basedOn the ServiceRequest,
//                serviceProvider the receiving member) is written in the same transaction and
//                linked from Task.encounter;
//   completed    an output must reference the discharge summary (Composition,
//                DocumentReference or DiagnosticReport), else kUnprocessable; the Encounter
//                is finished; an up referral without a down referral yet gets a warning;
// and the ServiceRequest follows: completed → completed; rejected, cancelled, failed → revoked.
// Every transition is kept as a kTransitionExtension (from, to, at, by) and
// Task.lastModified; they and the escalation steps are server-managed: a client's version of
// them is replaced by the stored one. The green-channel intervals (time_points.h) are
// recomputed on every write; a missed target is also a warning.
//
// Thread-safe: no mutable state. Everything happens inside the write transaction.

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "referral/config.h"
#include "referral/state_machine.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::referral {

struct TaskHookOptions {
  const core::Clock* clock = nullptr;  // the system clock when null
  ReferralConfig config;
};

class TaskHook : public store::WriteHook {
 public:
  explicit TaskHook(TaskHookOptions options = {});

  std::vector<std::string> Types() const override { return {"Task"}; }
  // Errors: kConflict (illegal transition), kForbidden (wrong side), kUnprocessable (a missing
  // reason or discharge summary, a changed party, a referral Task without its ServiceRequest);
  // the store's.
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  core::Status OnCreate(store::WriteTx& tx, store::WriteEvent& event, fhir::Json& request,
                        core::EpochMillis now) const;
  core::Status OnChange(store::WriteTx& tx, store::WriteEvent& event, fhir::Json& request,
                        const fhir::Json& previous, core::EpochMillis now) const;
  core::Result<CallerSides> SidesOf(store::ReadTx& tx, const store::Caller* caller,
                                    const fhir::Json& task) const;
  void Finish(store::WriteEvent& event, const fhir::Json& request, core::EpochMillis now) const;

  TaskHookOptions options_;
  search::Searcher searcher_;
};

// The referral ServiceRequest reference in Task.basedOn ("ServiceRequest/<id>"), or empty.
std::string ServiceRequestOf(const fhir::Json& task);

// A transition record (kTransitionExtension): from (absent for the creation), to, at, by.
fhir::Json MakeTransition(std::optional<TaskState> from, TaskState to, core::EpochMillis at,
                          const store::Caller* caller, std::string_view reason);

}  // namespace medalliance::referral
