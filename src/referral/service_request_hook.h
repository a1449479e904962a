#pragma once
// ServiceRequestHook: the referral ServiceRequest on the write path (issue 7).
//
// A referral is a ServiceRequest with category SNOMED CT 3457005 (Patient referral), a
// subject, a requester (PractitionerRole, Practitioner or Organization of the sending member)
// and a performer (the receiving member Organization or one of its departments). On every
// create, update and patch of one, inside the write transaction:
//   1. subject, requester and performer must be present and resolve to member hospitals
//      (members.h); else kUnprocessable (422) with the location.
//   2. The direction is computed from the two members' grades: up (to a higher grade), down
//      (to a lower grade) or lateral, plus across-city when their cities differ. It is written
//      as one category CodeableConcept of kDirectionSystem; a direction the client sent that
//      disagrees is refused with kUnprocessable.
//   3. A down referral should be based on an earlier referral (basedOn): it must go back to
//      the member that sent that referral, or to a community health centre; a down referral
//      without basedOn is let through with a warning.
//   4. A green-channel referral (category kGreenChannelSystem|green-channel) must have
//      priority stat and exactly one condition coding (stroke, chest-pain, ...).
//   5. Once a Task is based on the referral, an update may not change its status, subject,
//      requester or performer (kConflict): they follow the Task (task_hook.h).
// Other ServiceRequests, deletes and the referral module's own writes (origin kWriteOrigin:
// the status following the Task, the escalator's reassignment) are let through untouched.

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "referral/codes.h"
#include "referral/members.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::referral {

bool IsReferral(const fhir::Json& service_request);
bool IsGreenChannel(const fhir::Json& service_request);
// The green-channel condition of a referral (the first one found).
std::optional<Condition> ConditionOf(const fhir::Json& service_request);
std::optional<Direction> DirectionOf(const fhir::Json& service_request);

// Direction from the sending to the receiving member.
Direction ComputeDirection(const Member& from, const Member& to);

// Checks a referral ServiceRequest and sets its direction (steps 1 to 4 above).
// Errors: kUnprocessable; the store's.
core::Status CheckReferral(store::ReadTx& tx, const search::Searcher& searcher,
                           fhir::Json& service_request, std::vector<core::Issue>* warnings);

class ServiceRequestHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"ServiceRequest"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  search::Searcher searcher_;
};

}  // namespace medalliance::referral
