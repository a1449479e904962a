#include "registry/registry.h"

#include <algorithm>
#include <utility>

#include "core/time.h"
#include "registry/internal/parse_cache.h"
#include "store/sql/schema.h"

namespace medalliance::registry {
namespace {

using fhir::Json;

constexpr std::string_view kOrganizationPrefix = "Organization/";
constexpr int kChinaOffsetMinutes = 8 * 60;
constexpr int kMaxPartOfDepth = 8;

// The id in a relative "Organization/<id>" reference (an absolute URL's trailing part too);
// empty for anything else.
std::string_view OrganizationIdOf(const Json* reference) {
  if (reference == nullptr)
    return {};
  std::string_view text = reference->GetStringMember("reference");
  if (size_t history = text.find("/_history/"); history != std::string_view::npos)
    text = text.substr(0, history);
  size_t at = text.rfind(kOrganizationPrefix);
  if (at == std::string_view::npos || (at > 0 && text[at - 1] != '/'))
    return {};
  std::string_view id = text.substr(at + kOrganizationPrefix.size());
  return id.find('/') == std::string_view::npos ? id : std::string_view();
}

bool ActiveFlagFalse(const Json& resource) {
  const Json* active = resource.Find("active");
  return active != nullptr && active->IsBool() && !active->GetBool();
}

std::string NameOf(const Json& organization) {
  return std::string(organization.GetStringMember("name"));
}

}  // namespace

std::string_view ToString(Standing standing) {
  switch (standing) {
    case Standing::kMember:
      return "member";
    case Standing::kDepartment:
      return "department";
    case Standing::kInactive:
      return "inactive";
    case Standing::kNotMember:
      return "not-member";
    case Standing::kUnknown:
      return "unknown";
  }
  return "unknown";
}

bool AffiliationInForce(const Json& affiliation, core::EpochMillis at, std::string* reason) {
  // The period first: "ended 2025-06-30" says more than "inactive".
  const Json* period = affiliation.Find("period");
  std::string_view start =
      period == nullptr ? std::string_view() : period->GetStringMember("start");
  std::string_view end = period == nullptr ? std::string_view() : period->GetStringMember("end");
  if (!start.empty()) {
    core::Result<core::DateRange> range = core::ParseFhirDateTime(start, kChinaOffsetMinutes);
    if (range.has_value() && at < range->low) {
      if (reason != nullptr) {
        *reason = "尚未加入联盟（" + std::string(start) + " 起）/ not a member before " +
                  std::string(start);
      }
      return false;
    }
  }
  if (!end.empty()) {
    core::Result<core::DateRange> range = core::ParseFhirDateTime(end, kChinaOffsetMinutes);
    if (range.has_value() && at >= range->high) {
      if (reason != nullptr) {
        *reason =
            "成员资格已于 " + std::string(end) + " 终止 / membership ended " + std::string(end);
      }
      return false;
    }
  }
  // active=false without an end is a suspension, in force at no time; with an end, it only
  // says that the membership is over, and the period answers for the past.
  if (ActiveFlagFalse(affiliation) && end.empty()) {
    if (reason != nullptr)
      *reason = "成员资格已停用 (OrganizationAffiliation.active = false) / membership is inactive";
    return false;
  }
  return true;
}

std::pair<std::string, std::string> GradeOf(const Json& organization) {
  const Json* extensions = organization.Find("extension");
  if (extensions == nullptr || !extensions->IsArray())
    return {};
  for (const Json& extension : extensions->Items()) {
    if (extension.GetStringMember("url") != kGradeExtension)
      continue;
    const Json* concept_json = extension.Find("valueCodeableConcept");
    if (concept_json == nullptr)
      continue;
    std::string text(concept_json->GetStringMember("text"));
    if (const Json* codings = concept_json->Find("coding");
        codings != nullptr && codings->IsArray()) {
      for (const Json& coding : codings->Items()) {
        if (coding.GetStringMember("system") == kGradeSystem) {
          std::string display(coding.GetStringMember("display"));
          return {std::string(coding.GetStringMember("code")), display.empty() ? text : display};
        }
      }
    }
    return {std::string(), text};
  }
  return {};
}

core::Result<std::vector<store::StoredResource>> Registry::Referencing(std::string_view type,
                                                                       std::string_view param,
                                                                       std::string_view value) {
  const store::Dialect& dialect = tx_.GetDialect();
  store::SqlQuery query;
  query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
              std::string(store::sql::kCurrentTable) + " c JOIN " +
              std::string(store::sql::kResourcesTable) +
              " r ON r.sequence = c.sequence WHERE c.type = " + dialect.Placeholder(1) +
              " AND c.deleted = 0 AND c.id IN (SELECT x.id FROM " +
              std::string(store::sql::kReferenceIndexTable) +
              " x WHERE x.type = " + dialect.Placeholder(1) +
              " AND x.param = " + dialect.Placeholder(2) +
              " AND x.value = " + dialect.Placeholder(3) + ") ORDER BY c.id";
  query.params = {std::string(type), std::string(param), std::string(value)};
  return tx_.QueryResources(query);
}

core::Result<std::vector<std::string>> Registry::AllianceIds() {
  if (alliance_ids_.has_value())
    return *alliance_ids_;
  const store::Dialect& dialect = tx_.GetDialect();
  store::SqlQuery query;
  query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
              std::string(store::sql::kCurrentTable) + " c JOIN " +
              std::string(store::sql::kResourcesTable) +
              " r ON r.sequence = c.sequence WHERE c.type = 'Organization' AND c.deleted = 0"
              " AND c.id IN (SELECT x.id FROM " +
              std::string(store::sql::kTokenIndexTable) +
              " x WHERE x.type = 'Organization' AND x.param = 'type' AND x.system = " +
              dialect.Placeholder(1) + " AND x.value = " + dialect.Placeholder(2) +
              ") ORDER BY c.id";
  query.params = {std::string(kOrganizationTypeSystem), std::string(kAllianceTypeCode)};
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found, tx_.QueryResources(query));
  std::vector<std::string> ids;
  ids.reserve(found.size());
  for (const store::StoredResource& resource : found) ids.push_back(resource.id);
  alliance_ids_ = ids;
  return ids;
}

core::Result<std::vector<std::shared_ptr<const Json>>> Registry::AffiliationsOf(
    std::string_view organization_id) {
  MA_ASSIGN_OR_RETURN(std::vector<std::string> alliances, AllianceIds());
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found,
                      Referencing("OrganizationAffiliation", "participating-organization",
                                  std::string(kOrganizationPrefix) + std::string(organization_id)));
  std::vector<std::shared_ptr<const Json>> out;
  for (const store::StoredResource& stored : found) {
    MA_ASSIGN_OR_RETURN(std::shared_ptr<const Json> affiliation,
                        internal::ParseCached(stored.json));
    std::string_view alliance = OrganizationIdOf(affiliation->Find("organization"));
    if (std::find(alliances.begin(), alliances.end(), alliance) != alliances.end())
      out.push_back(std::move(affiliation));
  }
  return out;
}

core::Result<OrganizationStanding> Registry::Check(std::string_view organization_id,
                                                   core::EpochMillis at) {
  return CheckDepth(organization_id, at, 0);
}

core::Result<OrganizationStanding> Registry::CheckDepth(std::string_view organization_id,
                                                        core::EpochMillis at, int depth) {
  OrganizationStanding out;
  out.organization_id = std::string(organization_id);
  MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored,
                      tx_.ReadCurrent("Organization", organization_id));
  if (!stored.has_value() || stored->deleted)
    return out;  // kUnknown
  MA_ASSIGN_OR_RETURN(std::shared_ptr<const Json> parsed, internal::ParseCached(stored->json));
  const Json& organization = *parsed;
  out.name = NameOf(organization);
  const bool organization_inactive = ActiveFlagFalse(organization);

  MA_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<const Json>> affiliations,
                      AffiliationsOf(organization_id));
  if (!affiliations.empty()) {
    out.member_id = out.organization_id;
    std::string reason;
    for (const std::shared_ptr<const Json>& affiliation : affiliations) {
      if (AffiliationInForce(*affiliation, at, &reason)) {
        if (organization_inactive) {
          out.standing = Standing::kInactive;
          out.reason = "机构已停用 (Organization.active = false) / organization is inactive";
          return out;
        }
        out.standing = Standing::kMember;
        out.reason.clear();
        return out;
      }
    }
    out.standing = Standing::kInactive;
    out.reason = std::move(reason);  // the last affiliation's reason
    return out;
  }

  // A department: follow partOf to a member.
  std::string_view parent = OrganizationIdOf(organization.Find("partOf"));
  if (!parent.empty() && parent != organization_id && depth < kMaxPartOfDepth) {
    MA_ASSIGN_OR_RETURN(OrganizationStanding above, CheckDepth(parent, at, depth + 1));
    if (above.standing == Standing::kMember || above.standing == Standing::kDepartment) {
      out.member_id = above.member_id;
      if (organization_inactive) {
        out.standing = Standing::kInactive;
        out.reason = "科室已停用 (Organization.active = false) / department is inactive";
      } else {
        out.standing = Standing::kDepartment;
      }
      return out;
    }
    if (above.standing == Standing::kInactive) {
      out.standing = Standing::kInactive;
      out.member_id = above.member_id;
      out.reason = "所属成员 Organization/" + above.member_id + " " + above.reason;
      return out;
    }
  }
  out.standing = Standing::kNotMember;
  return out;
}

core::Result<std::vector<Member>> Registry::Members(core::EpochMillis at, std::string_view city) {
  MA_ASSIGN_OR_RETURN(std::vector<std::string> alliances, AllianceIds());
  std::vector<Member> members;
  for (const std::string& alliance : alliances) {
    MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found,
                        Referencing("OrganizationAffiliation", "primary-organization",
                                    std::string(kOrganizationPrefix) + alliance));
    for (const store::StoredResource& stored : found) {
      MA_ASSIGN_OR_RETURN(Json affiliation, fhir::ParseJson(stored.json));
      if (!AffiliationInForce(affiliation, at))
        continue;
      std::string_view member_id = OrganizationIdOf(affiliation.Find("participatingOrganization"));
      if (member_id.empty())
        continue;
      if (std::any_of(members.begin(), members.end(),
                      [&](const Member& m) { return m.organization_id == member_id; })) {
        continue;  // in force through another affiliation too
      }
      MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> organization_stored,
                          tx_.ReadCurrent("Organization", member_id));
      if (!organization_stored.has_value() || organization_stored->deleted)
        continue;
      MA_ASSIGN_OR_RETURN(Json organization, fhir::ParseJson(organization_stored->json));
      if (ActiveFlagFalse(organization))
        continue;
      Member member;
      member.organization_id = std::string(member_id);
      member.affiliation_id = stored.id;
      member.name = NameOf(organization);
      if (const Json* addresses = organization.Find("address");
          addresses != nullptr && addresses->IsArray() && addresses->Size() > 0) {
        member.city = std::string(addresses->Items().front().GetStringMember("city"));
      }
      if (!city.empty() && member.city != city)
        continue;
      std::tie(member.grade_code, member.grade_display) = GradeOf(organization);
      if (const Json* period = affiliation.Find("period"); period != nullptr)
        member.joined = std::string(period->GetStringMember("start"));
      const std::string reference = std::string(kOrganizationPrefix) + member.organization_id;
      MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> departments,
                          Referencing("Organization", "partof", reference));
      for (const store::StoredResource& department : departments)
        member.department_ids.push_back(department.id);
      MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> services,
                          Referencing("HealthcareService", "organization", reference));
      for (const store::StoredResource& service : services)
        member.service_ids.push_back(service.id);
      members.push_back(std::move(member));
    }
  }
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.organization_id < b.organization_id; });
  return members;
}

}  // namespace medalliance::registry
