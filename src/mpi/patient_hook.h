#pragma once
// PatientHook: the master patient index on the write path (issue 5).
//
// On every Patient create, update and patch, inside the write transaction:
//   1. ValidatePatientIdentity(): a problem with an identifier (resident ID, HK/Macau permit,
//      passport, record number) refuses the write with kUnprocessable (422), one issue per
//      problem, Chinese then English, with its FHIRPath location. A malformed phone number
//      (Patient.telecom, Patient.contact.telecom) becomes a warning instead: registration must
//      not stop at a phone written in a foreign local form (Synthea's 555-...), and the phone
//      only weighs in matching when it normalises.
//   2. The Patient is matched against the current Patients of every member (PatientIndex:
//      blocking keys in memory, candidates re-read through the transaction).
//   3. Links, kept as Person resources (design brief): a Person per person, Person.link.target
//      = each linked Patient, assurance level4 for an automatic (certain) link. A Patient that
//      is in no Person yet joins the Person of its best certain match (a new Person over both
//      when that match is in none); when nothing is certain it stays without a Person (unless
//      PatientHookOptions::person_per_patient).
//      A Patient that is already in a Person stays there: an update never moves or removes a
//      link by itself (that is the steward's link/unlink/merge, still to do).
//   4. Review items for the data steward: one Task per pair (code mpi-review, see
//      MakeReviewTask) for every probable or possible match, and for a certain match that sits
//      in another Person than this Patient's (a possible merge of two Persons); at most
//      `max_review_items` per write, best first. A pair's Task has a fixed id derived from the
//      two references, so re-running the transaction, updating the Patient again or writing the
//      other Patient of the pair never makes a second Task, and a Task the steward closed is
//      not reopened.
//   Deletes are let through untouched: the Person keeps its link to the deleted Patient (no
//   link is lost silently; unlinking is the steward's operation).
//
// Person and Task are written through the whole write pipeline (WriteEvent::writer: validation,
// the other hooks, search index, audit), with origin kWriteOrigin, so they are searchable like
// any other resource (Person?link=Patient/123, Task?code=mpi-review&status=requested) and
// audited for the request's caller. Patients written by the MPI itself (origin kWriteOrigin:
// the steward's link operations) are let through untouched: the operation decided the links.
//
// Everything happens inside the transaction, so a re-run or a rollback undoes it; the only
// effect outside is PatientIndex::Note(), which tolerates that (see patient_index.h).
// Thread-safe as far as the store's transactions are: no mutable state of its own.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "mpi/matcher.h"
#include "mpi/patient_index.h"
#include "search/search.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::mpi {

// Code system of the MPI's Task codes, Task.input types and Person tag.
inline constexpr std::string_view kMpiCodeSystem = "https://fhir.medalliance.cn/CodeSystem/mpi";
inline constexpr std::string_view kReviewTaskCode = "mpi-review";
inline constexpr std::string_view kPersonTagCode = "mpi-person";
// WriteEvent::origin / WriteScope::origin of the writes the MPI makes itself (this hook's
// Persons and review Tasks, the steward's operations' Patients, Persons, Tasks, Provenance).
inline constexpr std::string_view kWriteOrigin = "mpi";
// Person.link.assurance of a link made automatically on a certain match.
inline constexpr std::string_view kCertainAssurance = "level4";

struct PatientHookOptions {
  const core::Clock* clock = nullptr;  // the system clock when null
  size_t max_review_items = 10;        // per write
  // A Person for a Patient with no certain match too. Off by default: a Person is made when
  // there is something to link (two Patients, or a steward's operation), which halves the
  // writes of an import of mostly unmatched patients (bench/mpi/import_compare.sh). A Patient
  // without a Person is linked automatically on a later write when a certain match appears;
  // one the steward unlinked has a Person of its own and stays there.
  bool person_per_patient = false;
};

class PatientHook : public store::WriteHook {
 public:
  // `index` is not owned and must outlive the hook.
  explicit PatientHook(PatientIndex& index, PatientHookOptions options = {});

  std::vector<std::string> Types() const override { return {"Patient"}; }
  // Errors: kUnprocessable from identity validation; the store's errors.
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  core::Result<std::string> CreatePerson(store::WriteTx& tx, const store::WriteEvent& event,
                                         const fhir::Json& patient,
                                         const std::vector<std::string>& references,
                                         core::EpochMillis now) const;
  core::Status AddLink(store::WriteTx& tx, const store::WriteEvent& event,
                       const store::StoredResource& person, const std::string& reference,
                       core::EpochMillis now) const;
  // Creates the pair's review Task unless it exists; true when created.
  core::Result<bool> AddReviewItem(store::WriteTx& tx, const store::WriteEvent& event,
                                   const std::string& reference, const PatientMatch& match,
                                   core::EpochMillis now) const;
  // A new resource (`id`, or a fresh one when empty; returns it) or a new version of
  // `resource` (create = false), through event.writer.
  core::Result<std::string> Put(store::WriteTx& tx, const store::WriteEvent& event,
                                fhir::Json& resource, std::string id, bool create,
                                core::EpochMillis now) const;

  PatientIndex& index_;
  PatientHookOptions options_;
  search::Searcher searcher_;
};

// The current Persons linking `patient_reference` ("Patient/<id>") through Person.link.target,
// oldest first, at most `limit` of them (0: all). Errors: the store's.
core::Result<std::vector<store::StoredResource>> PersonsLinking(store::ReadTx& tx,
                                                                std::string_view patient_reference,
                                                                int limit = 0);

// The Person linking `patient_reference` ("Patient/<id>") through Person.link.target, the
// oldest one when several do; nullopt when none. Errors: the store's.
core::Result<std::optional<store::StoredResource>> FindPersonOf(store::ReadTx& tx,
                                                                std::string_view patient_reference);

// The id of the review Task of a pair of Patient references (order does not matter):
// "mpi-review-" + 16 hex digits of a 64-bit FNV-1a hash of the two references.
std::string ReviewTaskId(std::string_view reference_a, std::string_view reference_b);

// The review Task of a pair: status requested, intent proposal, code mpi-review, focus the
// written Patient, input "patient" and "candidate" (references to both), "match-grade"
// (valueCode), "match-weight" (valueDecimal, the Fellegi–Sunter weight) and "match-rule"
// (valueString) when a rule capped the grade. Without id and meta.
fhir::Json MakeReviewTask(std::string_view reference, const PatientMatch& match,
                          core::EpochMillis now);

// The weight as decimal text with two decimals ("23.40").
std::string FormatDecimal(double value, int decimals);

}  // namespace medalliance::mpi
