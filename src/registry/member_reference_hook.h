#pragma once
// MemberReferenceHook: writes that name a member are checked against the registry (issue 5).
//
// Checked elements (literal references only, relative or absolute: an absolute URL is read by
// its trailing Type/id; a Reference with only an identifier or display is not checked):
//
//   ServiceRequest     requester, performer
//   DiagnosticReport   performer, resultsInterpreter
//   Observation        performer
//   ImagingStudy       series.performer.actor
//   Task               requester, owner
//   Patient            managingOrganization; identifier.system .../sid/mrn/<id> (the record
//                      number's member, which must be a member itself, not a department)
//
// What a reference must name, at the time of the write:
//   Organization/<id>      a current member, or a department (partOf chain) of one;
//   PractitionerRole/<id>  an existing role, not active=false, whose organization is a current
//                          member or a department of one;
//   Practitioner/<id>      someone with at least one such role (PractitionerRole.practitioner);
//   "#contained" Organization or PractitionerRole: refused (a contained copy is in no registry);
//   other types (Patient, RelatedPerson, Device, CareTeam, HealthcareService, ...): not checked.
// Otherwise the write is refused with kUnprocessable (422): one issue per bad reference, Chinese
// then English, naming the Organization and why (unknown, not a member, membership ended, ...),
// with the FHIRPath location (DiagnosticReport.performer[0]).
//
// When the check is on: only when the store holds an alliance Organization (see registry.h).
// A server without an alliance (a plain FHIR server, the Synthea test imports) accepts
// everything. Deletes are never checked. On an update, a reference already in the previous
// version is not checked again, so a departed member's old records stay correctable.
//
// Nothing that can go stale is cached: every check reads through the write transaction, so a
// registry change in the same transaction (a Bundle that adds a member and its reports) is seen
// at once; only parsed trees are shared, keyed by their exact JSON text (internal/parse_cache.h),
// and that the store holds no alliance, for the rest of the transaction that found it as long
// as it writes no Organization (store::ReadTx::CacheStamp). Thread-safe.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::registry {

struct MemberReferenceHookOptions {
  const core::Clock* clock = nullptr;  // the system clock when null
};

class MemberReferenceHook : public store::WriteHook {
 public:
  explicit MemberReferenceHook(MemberReferenceHookOptions options = {});

  std::vector<std::string> Types() const override;
  // Errors: kUnprocessable naming each reference that is not a current member; the store's.
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  MemberReferenceHookOptions options_;
  std::mutex mutex_;
  // The CacheStamp("Organization") of the transaction that last found no alliance.
  std::optional<uint64_t> no_alliance_stamp_;
};

}  // namespace medalliance::registry
