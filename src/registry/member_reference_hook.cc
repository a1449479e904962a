#include "registry/member_reference_hook.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "fhir/json/json.h"
#include "registry/internal/parse_cache.h"
#include "registry/registry.h"
#include "store/sql/schema.h"

namespace medalliance::registry {
namespace {

using fhir::Json;

// One checked element: a path of JSON member names below the resource, each step may repeat.
struct CheckedElement {
  std::string_view type;
  std::vector<std::string_view> path;
};

const std::vector<CheckedElement>& CheckedElements() {
  static const std::vector<CheckedElement> kElements = {
      {"ServiceRequest", {"requester"}},
      {"ServiceRequest", {"performer"}},
      {"DiagnosticReport", {"performer"}},
      {"DiagnosticReport", {"resultsInterpreter"}},
      {"Observation", {"performer"}},
      {"ImagingStudy", {"series", "performer", "actor"}},
      {"Task", {"requester"}},
      {"Task", {"owner"}},
      {"Patient", {"managingOrganization"}},
  };
  return kElements;
}

// A reference the written resource makes to something the registry must know.
struct Named {
  std::string location;      // FHIRPath, e.g. "DiagnosticReport.performer[0]"
  std::string reference;     // as written, e.g. "Organization/gz-central" or "#org1"
  bool member_only = false;  // a record-number system: a member, not a department
};

void Walk(const Json& node, const std::vector<std::string_view>& path, size_t step,
          const std::string& location, std::vector<Named>& out) {
  if (step == path.size()) {
    std::string_view reference = node.GetStringMember("reference");
    if (!reference.empty())
      out.push_back({location, std::string(reference), false});
    return;
  }
  const Json* child = node.Find(path[step]);
  if (child == nullptr)
    return;
  std::string here = location + "." + std::string(path[step]);
  if (child->IsArray()) {
    for (size_t i = 0; i < child->Size(); ++i) {
      Walk(child->Items()[i], path, step + 1, here + "[" + std::to_string(i) + "]", out);
    }
  } else if (child->IsObject()) {
    Walk(*child, path, step + 1, here, out);
  }
}

std::vector<Named> NamedReferences(std::string_view type, const Json& resource) {
  std::vector<Named> out;
  for (const CheckedElement& element : CheckedElements()) {
    if (element.type == type)
      Walk(resource, element.path, 0, std::string(type), out);
  }
  if (type == "Patient") {
    if (const Json* identifiers = resource.Find("identifier");
        identifiers != nullptr && identifiers->IsArray()) {
      for (size_t i = 0; i < identifiers->Size(); ++i) {
        std::string_view system = identifiers->Items()[i].GetStringMember("system");
        if (system.size() > kMrnSystemPrefix.size() && system.starts_with(kMrnSystemPrefix)) {
          out.push_back({"Patient.identifier[" + std::to_string(i) + "].system",
                         "Organization/" + std::string(system.substr(kMrnSystemPrefix.size())),
                         true});
        }
      }
    }
  }
  return out;
}

// (type, id) of a literal reference: "Type/id", "Type/id/_history/n" or an absolute URL ending
// so. Empty type when it is none of these.
std::pair<std::string_view, std::string_view> SplitReference(std::string_view reference) {
  if (size_t history = reference.find("/_history/"); history != std::string_view::npos)
    reference = reference.substr(0, history);
  size_t slash = reference.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == reference.size())
    return {};
  std::string_view id = reference.substr(slash + 1);
  std::string_view before = reference.substr(0, slash);
  size_t type_start = before.rfind('/');
  std::string_view type =
      type_start == std::string_view::npos ? before : before.substr(type_start + 1);
  return {type, id};
}

std::string Describe(const OrganizationStanding& standing) {
  std::string text = "Organization/" + standing.organization_id;
  if (!standing.name.empty())
    text += " (" + standing.name + ")";
  return text;
}

struct Problem {
  std::string code;  // FHIR issue type
  std::string message;
};

// Why `standing` does not satisfy a reference (nullopt when it does).
std::optional<Problem> OrganizationProblem(const OrganizationStanding& standing, bool member_only) {
  const std::string who = Describe(standing);
  switch (standing.standing) {
    case Standing::kMember:
      return std::nullopt;
    case Standing::kDepartment:
      if (!member_only)
        return std::nullopt;
      return Problem{"business-rule",
                     "病历号系统须指向成员医院而非科室 " + who +
                         " / a record-number system must name a member hospital, not the "
                         "department " +
                         who};
    case Standing::kInactive:
      return Problem{"business-rule",
                     "联盟成员资格无效 / inactive alliance member " + who + ": " + standing.reason};
    case Standing::kNotMember:
      return Problem{"business-rule",
                     "机构 " + who + " 不是联盟成员 / " + who + " is not a member of the alliance"};
    case Standing::kUnknown:
      return Problem{"not-found", "未知机构 " + who +
                                      "：本服务器上不存在，不是联盟成员 / unknown " +
                                      "organization " + who +
                                      ": it does not exist on this server and is not an "
                                      "alliance member"};
  }
  return std::nullopt;
}

class Checker {
 public:
  Checker(store::WriteTx& tx, core::EpochMillis now) : tx_(tx), registry_(tx), now_(now) {}

  Registry& GetRegistry() { return registry_; }

  core::Result<std::optional<Problem>> Check(const Named& named, const Json& resource) {
    if (named.reference[0] == '#')
      return CheckContained(named.reference.substr(1), resource);
    auto [type, id] = SplitReference(named.reference);
    if (type == "Organization")
      return CheckOrganization(id, named.member_only);
    if (type == "PractitionerRole")
      return CheckRole(id);
    if (type == "Practitioner")
      return CheckPractitioner(id);
    return std::optional<Problem>();
  }

 private:
  core::Result<std::optional<Problem>> CheckOrganization(std::string_view id, bool member_only) {
    MA_ASSIGN_OR_RETURN(OrganizationStanding standing, StandingOf(id));
    return OrganizationProblem(standing, member_only);
  }

  core::Result<OrganizationStanding> StandingOf(std::string_view id) {
    auto it = standings_.find(std::string(id));
    if (it != standings_.end())
      return it->second;
    MA_ASSIGN_OR_RETURN(OrganizationStanding standing, registry_.Check(id, now_));
    standings_.emplace(std::string(id), standing);
    return standing;
  }

  // Nullopt when `role` is in force at a current member (or a department of one); else why not.
  core::Result<std::optional<Problem>> RoleProblem(std::string_view role_id, const Json& role) {
    const std::string who = "PractitionerRole/" + std::string(role_id);
    const Json* active = role.Find("active");
    if (active != nullptr && active->IsBool() && !active->GetBool()) {
      return std::optional<Problem>(
          Problem{"business-rule",
                  "执业角色 " + who + " 已停用 / " + who + " is inactive (active = false)"});
    }
    auto [type, organization_id] =
        SplitReference(role.Find("organization") == nullptr
                           ? std::string_view()
                           : role.Find("organization")->GetStringMember("reference"));
    if (type != "Organization") {
      return std::optional<Problem>(
          Problem{"business-rule", "执业角色 " + who + " 未注明所属联盟成员机构 / " + who +
                                       " names no organization of the alliance"});
    }
    MA_ASSIGN_OR_RETURN(OrganizationStanding standing, StandingOf(organization_id));
    std::optional<Problem> problem = OrganizationProblem(standing, false);
    if (problem.has_value()) {
      problem->message = "执业角色 " + who + " 所属机构无效 / the organization of " + who +
                         " is not a current member: " + problem->message;
      problem->code = "business-rule";
    }
    return problem;
  }

  core::Result<std::optional<Problem>> CheckRole(std::string_view id) {
    MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored,
                        tx_.ReadCurrent("PractitionerRole", id));
    if (!stored.has_value() || stored->deleted) {
      const std::string who = "PractitionerRole/" + std::string(id);
      return std::optional<Problem>(Problem{
          "not-found",
          "未知执业角色 " + who + " / unknown " + who + ": it does not exist on this server"});
    }
    MA_ASSIGN_OR_RETURN(std::shared_ptr<const Json> role, internal::ParseCached(stored->json));
    return RoleProblem(id, *role);
  }

  core::Result<std::optional<Problem>> CheckPractitioner(std::string_view id) {
    const std::string who = "Practitioner/" + std::string(id);
    const store::Dialect& dialect = tx_.GetDialect();
    store::SqlQuery query;
    query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
                std::string(store::sql::kCurrentTable) + " c JOIN " +
                std::string(store::sql::kResourcesTable) +
                " r ON r.sequence = c.sequence WHERE c.type = 'PractitionerRole' AND c.deleted = 0"
                " AND c.id IN (SELECT x.id FROM " +
                std::string(store::sql::kReferenceIndexTable) +
                " x WHERE x.type = 'PractitionerRole' AND x.param = 'practitioner' AND x.value = " +
                dialect.Placeholder(1) + ") ORDER BY c.id";
    query.params = {who};
    MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> roles, tx_.QueryResources(query));
    for (const store::StoredResource& stored : roles) {
      MA_ASSIGN_OR_RETURN(std::shared_ptr<const Json> role, internal::ParseCached(stored.json));
      MA_ASSIGN_OR_RETURN(std::optional<Problem> problem, RoleProblem(stored.id, *role));
      if (!problem.has_value())
        return std::optional<Problem>();
    }
    return std::optional<Problem>(Problem{
        "business-rule", "医务人员 " + who + " 在联盟成员机构中没有有效的执业角色 / " + who +
                             " has no active PractitionerRole at an alliance member"});
  }

  core::Result<std::optional<Problem>> CheckContained(std::string_view id, const Json& resource) {
    const Json* contained = resource.Find("contained");
    if (contained == nullptr || !contained->IsArray())
      return std::optional<Problem>();
    for (const Json& item : contained->Items()) {
      if (item.GetStringMember("id") != id)
        continue;
      std::string_view type = item.GetStringMember("resourceType");
      if (type == "Organization" || type == "PractitionerRole" || type == "Practitioner") {
        return std::optional<Problem>(
            Problem{"business-rule", "内含的 " + std::string(type) + " #" + std::string(id) +
                                         " 不在联盟登记中，请引用成员机构 / the contained " +
                                         std::string(type) + " #" + std::string(id) +
                                         " is in no registry: reference the member's resource"});
      }
    }
    return std::optional<Problem>();
  }

  store::WriteTx& tx_;
  Registry registry_;
  core::EpochMillis now_;
  std::map<std::string, OrganizationStanding> standings_;  // within this write only
};

}  // namespace

MemberReferenceHook::MemberReferenceHook(MemberReferenceHookOptions options) : options_(options) {
  if (options_.clock == nullptr)
    options_.clock = &core::SystemClock::Get();
}

std::vector<std::string> MemberReferenceHook::Types() const {
  std::vector<std::string> types;
  for (const CheckedElement& element : CheckedElements()) {
    if (std::find(types.begin(), types.end(), element.type) == types.end())
      types.emplace_back(element.type);
  }
  return types;
}

core::Status MemberReferenceHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr)
    return {};
  std::vector<Named> named = NamedReferences(event.type, *event.resource);
  if (named.empty())
    return {};
  if (event.previous != nullptr && !event.previous->deleted && !event.previous->json.empty()) {
    core::Result<Json> previous = fhir::ParseJson(event.previous->json);
    if (previous.has_value()) {
      std::set<std::pair<std::string, bool>> kept;
      for (const Named& old : NamedReferences(event.type, *previous))
        kept.emplace(old.reference, old.member_only);
      std::erase_if(named, [&](const Named& n) {
        return kept.contains({n.reference, n.member_only}) && n.reference[0] != '#';
      });
      if (named.empty())
        return {};
    }
  }
  // Off on a server without an alliance (see the header). Whether there is one is read once
  // per transaction while it writes no Organization.
  const std::optional<uint64_t> stamp = tx.CacheStamp("Organization");
  {
    std::lock_guard lock(mutex_);
    if (stamp.has_value() && stamp == no_alliance_stamp_)
      return {};
  }
  Checker checker(tx, options_.clock->Now());
  MA_ASSIGN_OR_RETURN(std::vector<std::string> alliances, checker.GetRegistry().AllianceIds());
  if (alliances.empty()) {
    std::lock_guard lock(mutex_);
    no_alliance_stamp_ = stamp;
    return {};
  }
  std::vector<core::Issue> issues;
  for (const Named& reference : named) {
    MA_ASSIGN_OR_RETURN(std::optional<Problem> problem, checker.Check(reference, *event.resource));
    if (problem.has_value()) {
      issues.push_back({core::Severity::kError, std::move(problem->code),
                        std::move(problem->message), reference.location});
    }
  }
  if (!issues.empty())
    return core::Error(core::ErrorCode::kUnprocessable, std::move(issues));
  return {};
}

}  // namespace medalliance::registry
