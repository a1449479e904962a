#include "registry/members_operation.h"

#include <utility>

#include "core/time.h"
#include "fhir/json/json.h"
#include "registry/registry.h"

namespace medalliance::registry {
namespace {

using fhir::Json;

constexpr int kChinaOffsetMinutes = 8 * 60;

// The valueString (or valueDate/valueDateTime/valueCode) of a named input parameter.
std::string_view InputText(const Json& parameters, std::string_view name) {
  const Json* list = parameters.Find("parameter");
  if (list == nullptr || !list->IsArray())
    return {};
  for (const Json& parameter : list->Items()) {
    if (parameter.GetStringMember("name") != name)
      continue;
    for (std::string_view key : {"valueString", "valueDate", "valueDateTime", "valueCode"}) {
      std::string_view value = parameter.GetStringMember(key);
      if (!value.empty())
        return value;
    }
  }
  return {};
}

Json Reference(const std::string& reference, const std::string& display = {}) {
  Json out = Json::MakeObject();
  out.Set("reference", Json::MakeString(reference));
  if (!display.empty())
    out.Set("display", Json::MakeString(display));
  return out;
}

Json Part(std::string_view name, std::string_view value_key, Json value) {
  Json part = Json::MakeObject();
  part.Set("name", Json::MakeString(std::string(name)));
  part.Set(value_key, std::move(value));
  return part;
}

Json MemberParameter(const Member& member) {
  Json parts = Json::MakeArray();
  parts.PushBack(Part("organization", "valueReference",
                      Reference("Organization/" + member.organization_id, member.name)));
  parts.PushBack(Part("affiliation", "valueReference",
                      Reference("OrganizationAffiliation/" + member.affiliation_id)));
  if (!member.city.empty())
    parts.PushBack(Part("city", "valueString", Json::MakeString(member.city)));
  if (!member.grade_code.empty()) {
    Json coding = Json::MakeObject();
    coding.Set("system", Json::MakeString(std::string(kGradeSystem)));
    coding.Set("code", Json::MakeString(member.grade_code));
    if (!member.grade_display.empty())
      coding.Set("display", Json::MakeString(member.grade_display));
    parts.PushBack(Part("grade", "valueCoding", std::move(coding)));
  }
  if (!member.joined.empty())
    parts.PushBack(Part("joined", "valueDateTime", Json::MakeString(member.joined)));
  for (const std::string& id : member.department_ids)
    parts.PushBack(Part("department", "valueReference", Reference("Organization/" + id)));
  for (const std::string& id : member.service_ids)
    parts.PushBack(Part("service", "valueReference", Reference("HealthcareService/" + id)));
  Json parameter = Json::MakeObject();
  parameter.Set("name", Json::MakeString("member"));
  parameter.Set("part", std::move(parts));
  return parameter;
}

}  // namespace

MembersOperation::MembersOperation(const core::Clock* clock)
    : clock_(clock != nullptr ? clock : &core::SystemClock::Get()) {}

core::Result<store::OperationResponse> MembersOperation::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  core::EpochMillis at = clock_->Now();
  if (std::string_view date = InputText(request.parameters, "date"); !date.empty()) {
    core::Result<core::DateRange> range = core::ParseFhirDateTime(date, kChinaOffsetMinutes);
    if (!range.has_value()) {
      return core::Error::BadRequest(
          "$members: date 须为 FHIR 日期 / date must be a FHIR date or dateTime: " +
              std::string(date),
          "Parameters.parameter.where(name='date')");
    }
    at = range->low;
  }
  std::string city(InputText(request.parameters, "city"));
  std::vector<Member> members;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    Registry registry(tx);
    MA_ASSIGN_OR_RETURN(members, registry.Members(at, city));
    return {};
  }));
  Json out = Json::MakeObject();
  out.Set("resourceType", Json::MakeString("Parameters"));
  Json parameters = Json::MakeArray();
  Json total = Json::MakeObject();
  total.Set("name", Json::MakeString("total"));
  total.Set("valueInteger", Json::MakeNumber(static_cast<int64_t>(members.size())));
  parameters.PushBack(std::move(total));
  for (const Member& member : members) parameters.PushBack(MemberParameter(member));
  out.Set("parameter", std::move(parameters));
  store::OperationResponse response;
  response.body = std::move(out);
  return response;
}

}  // namespace medalliance::registry
