#pragma once
// [base]/$recognize: which prior results may be reused instead of a new test or examination
// (issue 6, doc/recognition.md). System level, GET or POST; reads only.
//
// Input Parameters:
//   patient     valueReference (or valueString "Patient/<id>") — or —
//   identifier  valueIdentifier (or valueString "system|value"): any identity of the patient;
//               every Patient linked to it through a Person is searched as well
//   orderer     valueReference: the ordering member's Organization (required)
//   item        valueCoding (repeating; or valueString "system|code" / a bare catalogue or
//               LOINC code): the ordered items
//   at          valueDateTime: the moment of ordering (default now), read in Asia/Shanghai
//               when it has no zone
// Output Parameters: `orderer`, `at`, one `patient` per linked identity searched, and one
// `result` per item, in the order asked (when the patient refused sharing: only the patient
// asked for by reference, and per item only the orderer's own results plus one not-reusable
// entry with reason sharing-refused and nothing else), with parts `item` (valueCoding, with the
// catalogue display), `catalogue-code`, `validity-days`, `price-yuan` (absent when the item is not
// in the catalogue), `reason` (valueCoding not-in-catalogue, then), one `reusable` per reusable
// prior result, newest first (parts reference, issued, issuer, last-valid-day), and one
// `not-reusable` per other prior result, newest first (the same parts plus one `reason`
// valueCoding and `explanation` valueString per finding, and `expired-days`).
//
// Errors: kBadRequest for missing or malformed parameters; kNotFound when the patient is
// unknown; the store's. Thread-safe.

#include <string>
#include <vector>

#include "core/clock.h"
#include "fhir/json/json.h"
#include "recognition/engine.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::recognition {

inline constexpr std::string_view kRecognizeDefinition =
    "https://fhir.medalliance.cn/OperationDefinition/recognize";

class RecognizeOperation : public store::Operation {
 public:
  // `engine` is not owned and must outlive the operation. `clock`: the system clock when null.
  explicit RecognizeOperation(Engine& engine, const core::Clock* clock = nullptr)
      : engine_(engine), clock_(clock) {}

  std::string Name() const override { return "recognize"; }
  std::string Definition() const override { return std::string(kRecognizeDefinition); }
  bool System() const override { return true; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  Engine& engine_;
  const core::Clock* clock_;
};

// The OperationDefinition of $recognize (id "recognize", url kRecognizeDefinition).
fhir::Json RecognizeOperationDefinition();

// Writes what the recognition engine needs when the store lacks it: the seeded catalogue
// (CodeSystem/recognition-item), OperationDefinition/recognize and
// OperationDefinition/recognition-metrics. Returns how many resources
// it wrote. Errors: the store's.
core::Result<int> SeedRecognitionData(store::Store& store, const search::Searcher& searcher,
                                      core::EpochMillis now);

}  // namespace medalliance::recognition
