#pragma once
// Patient/$match (http://hl7.org/fhir/OperationDefinition/Patient-match), type level.
//
// Input Parameters: `resource` (a Patient, required; may be partial), `onlyCertainMatches`
// (boolean, default false), `count` (positiveInt, default kDefaultCount, at most kMaxCount).
// GET carries only text parameters, so it cannot name a resource: use POST.
// Output: a searchset Bundle of current Patients graded possible or better, best first,
// each entry with search.mode "match", search.score in [0, 1] (MatchScore) and the
// extension http://hl7.org/fhir/StructureDefinition/match-grade (certain, probable,
// possible), plus the Fellegi–Sunter weight in the extension kMatchWeightExtension.
// With onlyCertainMatches only certain matches are returned, and none when there are several
// (the specification: a client asking for certainty must not be handed a choice); an
// OperationOutcome entry then says why. The input Patient's own id, when it names a stored
// Patient, is left out of the answer.
//
// Errors: kBadRequest for a missing or non-Patient resource, or a malformed
// onlyCertainMatches/count; the store's. Thread-safe.

#include <string>
#include <vector>

#include "mpi/matcher.h"
#include "mpi/patient_index.h"
#include "store/hooks.h"

namespace medalliance::mpi {

inline constexpr std::string_view kMatchGradeExtension =
    "http://hl7.org/fhir/StructureDefinition/match-grade";
inline constexpr std::string_view kMatchWeightExtension =
    "https://fhir.medalliance.cn/StructureDefinition/match-weight";

// entry.search.score of a comparison: the grade's band, and the weight's place within the
// band's weights, linearly: certain 0.95–1.0 (weights certain_threshold … +20), probable
// 0.80–0.949 (probable … certain threshold), possible 0.50–0.799 (possible … probable),
// certainly-not 0–0.499 (possible − 20 … possible). A grade capped by a rule keeps its band,
// so the score never contradicts the grade and sorting by score sorts by grade first.
double MatchScore(const Comparison& comparison, const MatchConfig& config);

class MatchOperation : public store::Operation {
 public:
  static constexpr int kDefaultCount = 10;
  static constexpr int kMaxCount = 100;

  // `index` is not owned and must outlive the operation.
  explicit MatchOperation(const PatientIndex& index) : index_(index) {}

  std::string Name() const override { return "match"; }
  std::string Definition() const override {
    return "http://hl7.org/fhir/OperationDefinition/Patient-match";
  }
  std::vector<std::string> Types() const override { return {"Patient"}; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  const PatientIndex& index_;
};

}  // namespace medalliance::mpi
