#pragma once
// RecognitionMetrics: GET/POST [base]/$recognition-metrics?member=Organization/<id>&period=YYYY-MM
// [&item=<catalogue code>] (issue 6, doc/recognition.md §9), a MeasureReport (type summary) of
// one member's recognition decisions and alerted orders in one month (Asia/Shanghai), one
// group per catalogue item (code kItemSystem#<item>), after a first group "total"
// (kMetricSystem#total) over every item. Per group:
//   population opportunity  decisions (Task coded kDecisionCode) whose recorded
//                           kReusableInput is at least 1, plus orders (ServiceRequest tagged
//                           kAlertTag) that no decision names in basedOn;
//   population decision     decisions; reuse, repeat: decisions by businessStatus;
//   measureScore            yuan saved: catalogue price-yuan × reuses (unit CNY);
//   stratifier repeat-reason         stratum value kRepeatReasonSystem#<code>, repeats;
//   stratifier refused-issuer        stratum components issuer (text "Organization/<id>")
//                                    and reason (kRepeatReasonSystem#<code>): reusable results
//                                    of that issuer not reused, most first.
// The member's decisions are those whose requester is the member or one of its departments
// (directly or through a PractitionerRole); orders likewise. The month is authoredOn.
// Errors: kBadRequest (missing or malformed member, period or item); the store's.
//
// Reads the month's decisions and alerted orders of the whole alliance through one read
// transaction and keeps the member's: fine for a month; a metrics table would come next.

#include <string>

#include "core/clock.h"
#include "fhir/json/json.h"
#include "recognition/engine.h"
#include "store/hooks.h"

namespace medalliance::recognition {

inline constexpr std::string_view kMetricsDefinition =
    "https://fhir.medalliance.cn/OperationDefinition/recognition-metrics";
inline constexpr std::string_view kMetricSystem =
    "https://fhir.medalliance.cn/CodeSystem/recognition-metric";

class RecognitionMetrics : public store::Operation {
 public:
  // `engine` is not owned and must outlive the operation. `clock`: the system clock when null.
  explicit RecognitionMetrics(Engine& engine, const core::Clock* clock = nullptr)
      : engine_(engine), clock_(clock != nullptr ? clock : &core::SystemClock::Get()) {}

  std::string Name() const override { return "recognition-metrics"; }
  std::string Definition() const override { return std::string(kMetricsDefinition); }
  bool System() const override { return true; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  Engine& engine_;
  const core::Clock* clock_;
  search::Searcher searcher_;
};

// The OperationDefinition of $recognition-metrics (id "recognition-metrics").
fhir::Json RecognitionMetricsDefinition();

}  // namespace medalliance::recognition
