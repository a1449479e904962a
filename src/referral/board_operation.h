#pragma once
// GreenChannelBoard: GET [base]/$green-channel-board (issue 7), the running board of open
// green-channel referrals (Task.code kReferralSystem|green-channel, status requested,
// received, accepted or in-progress).
//
// Answers a Parameters resource: "generated" (valueInstant) and one "referral" per Task, the
// most urgent deadline first, with parts task, serviceRequest, patient, requester, owner
// (valueReference), status (valueCode), condition (valueCoding), authored and deadline
// (valueDateTime), elapsed and remaining (valueDuration, minutes; remaining is negative when
// overdue), overdue (valueBoolean, only while not yet accepted), escalations (valueInteger).
// Input "owner" (Organization/<id>) keeps the referrals of one receiving member.
//
// Thread-safe: reads through the store only.

#include <string>
#include <vector>

#include "core/clock.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::referral {

class GreenChannelBoard : public store::Operation {
 public:
  explicit GreenChannelBoard(const core::Clock* clock = nullptr);

  std::string Name() const override { return "green-channel-board"; }
  std::string Definition() const override {
    return "https://fhir.medalliance.cn/OperationDefinition/green-channel-board";
  }
  bool System() const override { return true; }
  // Errors: the store's.
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  const core::Clock* clock_;
  search::Searcher searcher_;
};

}  // namespace medalliance::referral
