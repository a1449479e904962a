#pragma once
// The data steward's operations on the master patient index (issue 5): link, unlink, merge,
// unmerge, split and the resolution of review Tasks. Each is a store::Operation (POST only)
// whose whole effect is one store::Write: the changed Persons, Patients and Tasks get a new
// version each, and one Provenance records the change (target = the new versions, entity
// role "revision" = the versions before, activity = the operation, agent = the caller,
// reason = the `reason` parameter), so `Provenance?target=Patient/123` and each resource's
// _history show who did what. See doc/mpi.md §8 for the parameters and semantics.
//
//   Person/$mpi-link, Person/[id]/$mpi-link   patient (1..*), person (0..1), assurance, reason
//       every named Patient ends up in one Person (the named one, else the first Patient's,
//       else a new one); a Patient leaves its former Person (a Person left with no link
//       becomes inactive).
//   Person/$mpi-unlink, Person/[id]/$mpi-unlink   patient (1..1), person (0..1), reason
//       the Patient leaves its Person for a new Person of its own, and each pair (patient,
//       patient left behind) gets a rejected review Task, so neither the write hook nor a
//       review proposes the pair again. Unlinking the only Patient of a Person is refused.
//   Person/[id]/$mpi-split   patient (1..*), reason
//       the named Patients move together to a new Person; pairs across the cut are rejected.
//   Patient/$merge   source-patient, target-patient (R5 $merge as guide), reason
//       source: active=false, link replaced-by target; target: link replaces source; the
//       source joins the target's Person. References elsewhere are not rewritten.
//   Patient/$mpi-unmerge   provenance (the merge's Provenance) or source-patient (its newest
//       merge), reason
//       undoes the change recorded by the Provenance (any MPI operation's, not only a merge):
//       a resource unchanged since is restored to its version before, byte for byte except
//       meta; a resource changed since gets only the operation's own change reversed (its
//       active flag and the links the operation added or removed). An operation is undone at
//       most once (kConflict).
//   Task/[id]/$mpi-resolve   decision (accept | reject), reason
//       accept: the Persons of the pair become one (the candidate's Person's links move to the
//       patient's Person), Task completed; reject: Task rejected with output match-grade
//       certainly-not, which the write hook never reopens.
//
// Errors: kBadRequest for missing or malformed parameters; kNotFound for unknown resources;
// kUnprocessable when the operation makes no sense on the data (not linked, already merged);
// kConflict for a Task already resolved or a record already undone; the store's.
// Thread-safe: no mutable state; the write function may be re-run and has no outside effects.

#include <string>
#include <vector>

#include "core/clock.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::mpi {

inline constexpr std::string_view kMpiOperationDefinitionBase =
    "https://fhir.medalliance.cn/OperationDefinition/";

enum class LinkAction { kLink, kUnlink, kSplit, kMerge, kUnmerge, kResolve };

class LinkOperation : public store::Operation {
 public:
  explicit LinkOperation(LinkAction action, const core::Clock* clock = nullptr);

  std::string Name() const override;
  std::string Definition() const override;
  std::vector<std::string> Types() const override;
  bool Instance() const override;
  bool AffectsState() const override { return true; }
  // Answers Parameters: "provenance" (the Provenance written; absent when nothing changed)
  // and one "result" per changed resource, as written.
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  LinkAction action_;
  const core::Clock* clock_;
  search::Searcher searcher_;
};

// Every Patient reference of every Person that links `patient_reference` ("Patient/<id>"),
// the reference itself included, sorted, without duplicates. Errors: the store's.
core::Result<std::vector<std::string>> LinkedPatients(store::ReadTx& tx,
                                                      std::string_view patient_reference);

// The ids of the current Persons whose Person.link.target is `patient_reference`, oldest first.
core::Result<std::vector<std::string>> PersonIdsOf(store::ReadTx& tx,
                                                   std::string_view patient_reference);

}  // namespace medalliance::mpi
