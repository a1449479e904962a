#pragma once
// One patient across the alliance (issue 5): $everything over every Patient linked to one
// Person, each entry marked with the member it came from.
//
//   GET Person/[id]/$everything                 the Patients of Person.link.target
//   GET Patient/[id]/$everything?_mpi=linked    the Patients of every Person linking Patient/id
//                                               (api routes Patient/$everything here only when
//                                               `_mpi` is present; without it the plain one runs)
// Other parameters as Patient/$everything: _type, _since, _count, _cursor. The Patients are
// taken in reference order and each one's compartment is read with search::Searcher::
// Everything; a page is filled across Patients, and _cursor is "<patient number>~<that
// Patient's own cursor>", so paging stays stable while data changes. A resource in the
// compartments of two linked Patients appears once per Patient; the Persons (which are in the
// Patient compartment through Person.link) are left out, so a page may hold fewer entries
// than _count while a next link follows.
//
// Each entry carries two extensions on Bundle.entry:
//   kAllianceMemberExtension  valueReference Organization/<member>: the Patient's
//       managingOrganization, else the Organization id of its first record number
//       (identifier system https://fhir.medalliance.cn/sid/mrn/<id>); absent when neither.
//   kLinkedPatientExtension   valueReference Patient/<id>: the linked Patient the entry
//       belongs to.
//
// Errors: kBadRequest (malformed _count/_cursor, `_mpi` other than "linked", an unknown _type);
// kNotFound for an unknown Person or Patient; the store's. Thread-safe.

#include <string>
#include <vector>

#include "fhir/json/json.h"
#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::mpi {

inline constexpr std::string_view kAllianceMemberExtension =
    "https://fhir.medalliance.cn/StructureDefinition/alliance-member";
inline constexpr std::string_view kLinkedPatientExtension =
    "https://fhir.medalliance.cn/StructureDefinition/mpi-linked-patient";

// "Organization/<id>" of the member holding a Patient (see above), or empty.
std::string MemberOf(const fhir::Json& patient);

class LinkedEverythingOperation : public store::Operation {
 public:
  explicit LinkedEverythingOperation(int default_count = 50, int max_count = 1000)
      : default_count_(default_count), max_count_(max_count) {}

  std::string Name() const override { return "everything"; }
  std::string Definition() const override {
    return "https://fhir.medalliance.cn/OperationDefinition/mpi-everything";
  }
  std::vector<std::string> Types() const override { return {"Person", "Patient"}; }
  bool Instance() const override { return true; }
  core::Result<store::OperationResponse> Invoke(store::Store& store,
                                                const store::OperationRequest& request) override;

 private:
  int default_count_;
  int max_count_;
  search::Searcher searcher_;
};

}  // namespace medalliance::mpi
