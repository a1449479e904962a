#pragma once
// Organization/$members: the current members of the alliance (issue 5), as the Registry sees
// them: affiliation in force at a time (active, period covering it), Organization not inactive.
// A search cannot say this (OrganizationAffiliation?active=true ignores the period), so the
// console and member systems ask here.
//
//   GET /Organization/$members[?city=广州市][&date=2026-01-01]
//
// Input: `city` (exact Organization.address.city), `date` (a FHIR date or dateTime; now when
// absent). Output: a Parameters resource with `total` (valueInteger) and one `member` per
// member, sorted by Organization id, with parts `organization` and `affiliation`
// (valueReference), `city` (valueString), `grade` (valueCoding in kGradeSystem), `joined`
// (valueDateTime, the affiliation's period.start), and one `department` and `service`
// (valueReference) per department and HealthcareService.
// Errors: kBadRequest for a malformed date; the store's.

#include <string>
#include <vector>

#include "core/clock.h"
#include "store/hooks.h"

namespace medalliance::registry {

class MembersOperation : public store::Operation {
 public:
  explicit MembersOperation(const core::Clock* clock = nullptr);

  std::string Name() const override { return "members"; }
  std::string Definition() const override {
    return "https://fhir.medalliance.cn/OperationDefinition/Organization-members";
  }
  std::vector<std::string> Types() const override { return {"Organization"}; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  const core::Clock* clock_;
};

}  // namespace medalliance::registry
