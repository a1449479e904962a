#pragma once
// The alliance registry (issue 5): who the members are, read from FHIR resources in the store.
//
// Representation (design brief, "Domain model in FHIR R4"):
//   - the alliance: an Organization whose type has the coding
//     kOrganizationTypeSystem|alliance;
//   - a member: an Organization (the hospital) named as participatingOrganization by an
//     OrganizationAffiliation whose organization is an alliance Organization. The member is
//     current at time `at` when the affiliation is in force (AffiliationInForce: its period
//     covers `at` and it is not suspended) and the Organization is not active=false;
//   - city: Organization.address.city; grade: the extension kGradeExtension
//     (valueCodeableConcept in kGradeSystem), searchable as Organization?grade=;
//   - a department: an Organization whose partOf is a member (or a department of one);
//   - services: HealthcareService with providedBy = the member (specialty, type).
//
// Registry is a view over one transaction: it reads through the ReadTx it is given and keeps
// no registry data, so it never goes stale (parsed resources are shared by their exact JSON
// text, see internal/parse_cache.h, which cannot go stale either). Create one per transaction; not
// thread-safe (neither is the transaction). Errors: the store's (kUnavailable, kInternal).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::registry {

inline constexpr std::string_view kOrganizationTypeSystem =
    "https://fhir.medalliance.cn/CodeSystem/organization-type";
inline constexpr std::string_view kAllianceTypeCode = "alliance";
inline constexpr std::string_view kGradeExtension =
    "https://fhir.medalliance.cn/StructureDefinition/hospital-grade";
inline constexpr std::string_view kGradeSystem =
    "https://fhir.medalliance.cn/CodeSystem/hospital-grade";
inline constexpr std::string_view kMrnSystemPrefix = "https://fhir.medalliance.cn/sid/mrn/";

// Where an Organization stands in the registry at a given time.
enum class Standing {
  kMember,      // a current member
  kDepartment,  // a department (partOf chain) of a current member
  kInactive,    // a member, or a department of one, but not at that time (left, not yet
                // joined, affiliation or Organization active=false)
  kNotMember,   // exists, but is in no affiliation with an alliance
  kUnknown,     // no such Organization on this server (or deleted)
};
std::string_view ToString(Standing standing);

struct OrganizationStanding {
  Standing standing = Standing::kUnknown;
  std::string organization_id;  // the Organization asked about
  std::string name;             // its name, when it exists
  std::string member_id;        // the member it is or belongs to (kMember, kDepartment, kInactive)
  // Why it is inactive, Chinese then English ("成员资格已于 2025-06-30 终止 / membership ended
  // 2025-06-30"); empty otherwise.
  std::string reason;
  bool IsCurrent() const {
    return standing == Standing::kMember || standing == Standing::kDepartment;
  }
};

struct Member {
  std::string organization_id;
  std::string affiliation_id;
  std::string name;
  std::string city;                         // first address's city
  std::string grade_code;                   // kGradeSystem code, e.g. "level3-a"
  std::string grade_display;                // e.g. "三级甲等"
  std::string joined;                       // affiliation period.start as written
  std::vector<std::string> department_ids;  // Organizations with partOf = the member
  std::vector<std::string> service_ids;     // HealthcareServices with providedBy = the member
};

class Registry {
 public:
  // `tx` must outlive the Registry.
  explicit Registry(store::ReadTx& tx) : tx_(tx) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The ids of the alliance Organizations (usually one), sorted.
  core::Result<std::vector<std::string>> AllianceIds();

  // The standing of Organization/<id> at `at`.
  core::Result<OrganizationStanding> Check(std::string_view organization_id, core::EpochMillis at);

  // The current members at `at`, sorted by Organization id, with city, grade, departments and
  // services; `city` (exact, e.g. "广州市") narrows them when not empty.
  core::Result<std::vector<Member>> Members(core::EpochMillis at, std::string_view city = {});

 private:
  // Affiliations naming Organization/<id> as participatingOrganization.
  core::Result<std::vector<std::shared_ptr<const fhir::Json>>> AffiliationsOf(
      std::string_view organization_id);
  core::Result<OrganizationStanding> CheckDepth(std::string_view organization_id,
                                                core::EpochMillis at, int depth);
  // Ids of current resources of `type` with a reference-index row (param, value).
  core::Result<std::vector<store::StoredResource>> Referencing(std::string_view type,
                                                               std::string_view param,
                                                               std::string_view value);

  store::ReadTx& tx_;
  std::optional<std::vector<std::string>> alliance_ids_;  // within this transaction only
};

// True when `affiliation` (an OrganizationAffiliation) is in force at `at`: its period covers
// `at` and it is not a suspension (active=false without period.end). A departed member's
// affiliation (active=false with an end) is in force before its end, so questions about the
// past are answered. A period end that is a date covers that whole day (UTC+8). When not in
// force, `reason` (if not null) says why, Chinese then English.
bool AffiliationInForce(const fhir::Json& affiliation, core::EpochMillis at,
                        std::string* reason = nullptr);

// The grade (code, display) of an Organization from kGradeExtension; empty when none.
std::pair<std::string, std::string> GradeOf(const fhir::Json& organization);

}  // namespace medalliance::registry
