#pragma once
// ReferralMetrics: GET [base]/$referral-metrics?member=Organization/<id>&period=YYYY-MM
// (issue 7), a MeasureReport (type summary) of one member's referrals authored in one month
// (Asia/Shanghai):
//   sent, received          populations "initial-population" (count), each with the
//                           stratifiers "direction" (up/down/lateral/across-city) and
//                           "city-pair" ("广州市→深圳市");
//   acceptance-rate         received referrals accepted (or later) / those decided;
//   acceptance-time         mean minutes from authoredOn to the accepted transition;
//   completion-rate         completed / received;
//   down-referral-rate      completed up referrals received that have a down referral
//                           (ServiceRequest basedOn them) / completed up referrals received;
//   green-channel-compliance  per derived interval with a target (door-to-needle, ...): met /
//                           measured, stratifier "metric".
// Rates are measureScore decimals (0..1); absent when the denominator is 0.
// Errors: kBadRequest (missing or malformed member or period); the store's.
//
// Reads every referral of the month and its Task through one read transaction: fine for a
// member's month; a metrics table would be the next step for years of data.

#include <string>

#include "core/clock.h"
#include "referral/config.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::referral {

class ReferralMetrics : public store::Operation {
 public:
  explicit ReferralMetrics(const core::Clock* clock = nullptr, ReferralConfig config = {});

  std::string Name() const override { return "referral-metrics"; }
  std::string Definition() const override {
    return "https://fhir.medalliance.cn/OperationDefinition/referral-metrics";
  }
  bool System() const override { return true; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  const core::Clock* clock_;
  ReferralConfig config_;
  search::Searcher searcher_;
};

}  // namespace medalliance::referral
