#include "referral/members.h"

#include <algorithm>

#include "referral/codes.h"
#include "referral/internal/json_util.h"

namespace medalliance::referral {
namespace {

using fhir::Json;

constexpr int kMaxDepth = 8;

// The grade extension's text, or nullopt when the Organization has none.
std::optional<std::string> GradeText(const Json& organization) {
  std::vector<const Json*> found = internal::FindExtensions(organization, kGradeExtension);
  if (found.empty())
    return std::nullopt;
  const Json& extension = *found.front();
  if (const Json* text = extension.Find("valueString"); text != nullptr && text->IsString())
    return text->GetString();
  if (const Json* code = extension.Find("valueCode"); code != nullptr && code->IsString())
    return code->GetString();
  if (const Json* coding = extension.Find("valueCoding"); coding != nullptr) {
    std::string text(coding->GetStringMember("code"));
    text += " ";
    text += coding->GetStringMember("display");
    return text;
  }
  if (const Json* concept_json = extension.Find("valueCodeableConcept"); concept_json != nullptr) {
    std::string text(concept_json->GetStringMember("text"));
    if (const Json* codings = concept_json->Find("coding");
        codings != nullptr && codings->IsArray() && codings->Size() > 0) {
      text += " ";
      text += codings->Items().front().GetStringMember("code");
    }
    return text;
  }
  return std::string();
}

Member MakeMember(const Json& organization, std::string grade_text,
                  std::vector<std::string> chain) {
  Member member;
  member.id = std::string(organization.GetStringMember("id"));
  member.name = std::string(organization.GetStringMember("name"));
  if (const Json* addresses = organization.Find("address");
      addresses != nullptr && addresses->IsArray() && addresses->Size() > 0) {
    member.city = std::string(addresses->Items().front().GetStringMember("city"));
  }
  member.grade = GradeLevel(grade_text);
  member.community = member.grade == 0;
  member.chain = std::move(chain);
  return member;
}

}  // namespace

bool Member::Contains(std::string_view organization_id) const {
  return std::find(chain.begin(), chain.end(), organization_id) != chain.end();
}

int GradeLevel(std::string_view text) {
  auto has = [text](std::string_view part) { return text.find(part) != std::string_view::npos; };
  if (has("社区") || has("community") || has("primary") || has("卫生院"))
    return 0;
  if (has("三级") || has("3"))
    return 3;
  if (has("二级") || has("2"))
    return 2;
  if (has("一级") || has("1"))
    return 1;
  return -1;
}

core::Result<std::optional<Member>> ResolveMember(store::ReadTx& tx,
                                                  const search::Searcher& searcher,
                                                  std::string_view reference) {
  std::string_view type;
  std::string_view id;
  if (!internal::SplitReference(reference, &type, &id))
    return std::optional<Member>();
  std::string organization_id;
  if (type == "Organization") {
    organization_id = std::string(id);
  } else if (type == "PractitionerRole") {
    MA_ASSIGN_OR_RETURN(std::optional<Json> role, internal::ReadJson(tx, type, id));
    if (!role.has_value())
      return std::optional<Member>();
    std::string_view organization = internal::ReferenceOf(role->Find("organization"));
    std::string_view organization_type;
    std::string_view organization_part;
    if (!internal::SplitReference(organization, &organization_type, &organization_part) ||
        organization_type != "Organization")
      return std::optional<Member>();
    organization_id = std::string(organization_part);
  } else if (type == "Practitioner") {
    MA_ASSIGN_OR_RETURN(
        std::vector<Json> roles,
        internal::SearchJson(tx, searcher, "PractitionerRole",
                             {{"practitioner", std::string(reference)}, {"_sort", "_id"}}));
    for (const Json& role : roles) {
      MA_ASSIGN_OR_RETURN(
          std::optional<Member> member,
          ResolveMember(tx, searcher,
                        "PractitionerRole/" + std::string(role.GetStringMember("id"))));
      if (member.has_value())
        return member;
    }
    return std::optional<Member>();
  } else {
    return std::optional<Member>();
  }
  std::vector<std::string> chain;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    MA_ASSIGN_OR_RETURN(std::optional<Json> organization,
                        internal::ReadJson(tx, "Organization", organization_id));
    if (!organization.has_value())
      return std::optional<Member>();
    chain.push_back(organization_id);
    if (std::optional<std::string> grade = GradeText(*organization); grade.has_value())
      return std::optional<Member>(MakeMember(*organization, *grade, std::move(chain)));
    std::string_view parent = internal::ReferenceOf(organization->Find("partOf"));
    std::string_view parent_type;
    std::string_view parent_id;
    if (!internal::SplitReference(parent, &parent_type, &parent_id) ||
        parent_type != "Organization") {
      // Top of the tree without a grade: the Organization itself, grade unknown.
      return std::optional<Member>(MakeMember(*organization, "", std::move(chain)));
    }
    organization_id = std::string(parent_id);
  }
  return std::optional<Member>();
}

core::Result<std::vector<Member>> ListMembers(store::ReadTx& tx, const search::Searcher& searcher) {
  MA_ASSIGN_OR_RETURN(std::vector<Json> organizations,
                      internal::SearchJson(tx, searcher, "Organization", {{"_count", "1000"}}));
  std::vector<Member> out;
  for (const Json& organization : organizations) {
    std::optional<std::string> grade = GradeText(organization);
    if (!grade.has_value())
      continue;
    out.push_back(
        MakeMember(organization, *grade, {std::string(organization.GetStringMember("id"))}));
  }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
  return out;
}

}  // namespace medalliance::referral
