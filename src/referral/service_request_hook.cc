#include "referral/service_request_hook.h"

#include "referral/internal/json_util.h"

namespace medalliance::referral {
namespace {

using fhir::Json;
using internal::Str;

core::Error Unprocessable(std::string message, std::string expression) {
  return core::Error::Unprocessable(std::move(message), std::move(expression));
}

// Removes the direction codings (and a category left empty by that).
void EraseDirection(Json& service_request) {
  Json* categories = service_request.Find("category");
  if (categories == nullptr || !categories->IsArray())
    return;
  Json::Array kept;
  for (Json& concept_json : categories->Items()) {
    if (!internal::CodesOf(&concept_json, kDirectionSystem).empty())
      continue;
    kept.push_back(std::move(concept_json));
  }
  categories->Items() = std::move(kept);
}

}  // namespace

bool IsReferral(const Json& service_request) {
  return internal::HasCoding(service_request.Find("category"), kSnomedSystem,
                             kReferralCategoryCode);
}

bool IsGreenChannel(const Json& service_request) {
  return internal::HasCoding(service_request.Find("category"), kGreenChannelSystem,
                             kGreenChannelCode);
}

std::optional<Condition> ConditionOf(const Json& service_request) {
  for (const std::string& code :
       internal::CodesOf(service_request.Find("category"), kGreenChannelSystem)) {
    if (std::optional<Condition> condition = ParseCondition(code); condition.has_value())
      return condition;
  }
  return std::nullopt;
}

std::optional<Direction> DirectionOf(const Json& service_request) {
  for (const std::string& code :
       internal::CodesOf(service_request.Find("category"), kDirectionSystem)) {
    for (Direction direction : {Direction::kUp, Direction::kDown, Direction::kLateral}) {
      if (ToCode(direction) == code)
        return direction;
    }
  }
  return std::nullopt;
}

Direction ComputeDirection(const Member& from, const Member& to) {
  if (from.grade >= 0 && to.grade >= 0) {
    if (to.grade > from.grade)
      return Direction::kUp;
    if (to.grade < from.grade)
      return Direction::kDown;
  }
  return Direction::kLateral;
}

core::Status CheckReferral(store::ReadTx& tx, const search::Searcher& searcher,
                           Json& service_request, std::vector<core::Issue>* warnings) {
  std::string_view subject = internal::ReferenceOf(service_request.Find("subject"));
  if (subject.rfind("Patient/", 0) != 0) {
    return Unprocessable("转诊单须指明患者 / a referral needs subject = Patient/<id>",
                         "ServiceRequest.subject");
  }
  std::string_view requester = internal::ReferenceOf(service_request.Find("requester"));
  MA_ASSIGN_OR_RETURN(std::optional<Member> from, ResolveMember(tx, searcher, requester));
  if (!from.has_value()) {
    return Unprocessable(
        "转诊申请方须为联盟成员机构的医师角色、医师或机构 / the requester must be a "
        "PractitionerRole, Practitioner or Organization of a member hospital, not '" +
            std::string(requester) + "'",
        "ServiceRequest.requester");
  }
  const Json* performers = service_request.Find("performer");
  std::string_view performer;
  if (performers != nullptr && performers->IsArray() && performers->Size() > 0)
    performer = internal::ReferenceOf(&performers->Items().front());
  MA_ASSIGN_OR_RETURN(std::optional<Member> to, ResolveMember(tx, searcher, performer));
  if (!to.has_value()) {
    return Unprocessable(
        "转诊接收方须为联盟成员机构或其科室 / the performer must be a member hospital "
        "Organization or one of its departments, not '" +
            std::string(performer) + "'",
        "ServiceRequest.performer[0]");
  }

  const Direction direction = ComputeDirection(*from, *to);
  const bool across_city = !from->city.empty() && !to->city.empty() && from->city != to->city;
  std::optional<Direction> given = DirectionOf(service_request);
  if (given.has_value() && *given != direction) {
    return Unprocessable("转诊方向应为 " + std::string(DisplayOf(direction)) +
                             "（按双方机构等级） / the direction is " +
                             std::string(ToCode(direction)) + " from the members' grades, not " +
                             std::string(ToCode(*given)),
                         "ServiceRequest.category");
  }
  EraseDirection(service_request);
  Json concept_json = Json::MakeObject();
  Json& codings = concept_json.Set("coding", Json::MakeArray());
  codings.PushBack(internal::Coding(kDirectionSystem, ToCode(direction), DisplayOf(direction)));
  std::string text(DisplayOf(direction));
  if (across_city) {
    codings.PushBack(
        internal::Coding(kDirectionSystem, "across-city", "跨城转诊 / across the cities"));
    text += "，跨城 / across the cities";
  }
  concept_json.Set("text", Str(text));
  Json* categories = service_request.Find("category");
  if (categories == nullptr || !categories->IsArray())
    categories = &service_request.Set("category", Json::MakeArray());
  categories->PushBack(std::move(concept_json));

  internal::EraseExtensions(service_request, kRouteExtension);
  Json route = Json::MakeObject();
  route.Set("url", Str(kRouteExtension));
  Json& parts = route.Set("extension", Json::MakeArray());
  parts.PushBack(internal::SubExtension("from", "valueReference",
                                        internal::Reference("Organization/" + from->id)));
  if (!from->city.empty())
    parts.PushBack(internal::SubExtension("from-city", "valueString", Str(from->city)));
  parts.PushBack(internal::SubExtension("to", "valueReference",
                                        internal::Reference("Organization/" + to->id)));
  if (!to->city.empty())
    parts.PushBack(internal::SubExtension("to-city", "valueString", Str(to->city)));
  internal::AddExtension(service_request, std::move(route));

  if (direction == Direction::kDown) {
    std::string_view earlier_reference;
    if (const Json* based_on = service_request.Find("basedOn");
        based_on != nullptr && based_on->IsArray()) {
      for (const Json& reference : based_on->Items()) {
        if (internal::ReferenceOf(&reference).rfind("ServiceRequest/", 0) == 0) {
          earlier_reference = internal::ReferenceOf(&reference);
          break;
        }
      }
    }
    if (earlier_reference.empty()) {
      if (warnings != nullptr) {
        warnings->push_back({core::Severity::kWarning, "informational",
                             "下转单通常基于此前的上转单（basedOn） / a down referral is "
                             "usually based on the earlier referral (basedOn)",
                             "ServiceRequest.basedOn"});
      }
    } else {
      MA_ASSIGN_OR_RETURN(std::optional<Json> earlier,
                          internal::ReadReference(tx, earlier_reference));
      if (!earlier.has_value() || !IsReferral(*earlier)) {
        return Unprocessable("下转单所依据的 " + std::string(earlier_reference) +
                                 " 不是转诊单 / the down referral's basedOn " +
                                 std::string(earlier_reference) + " is not a referral",
                             "ServiceRequest.basedOn");
      }
      MA_ASSIGN_OR_RETURN(
          std::optional<Member> original_sender,
          ResolveMember(tx, searcher, internal::ReferenceOf(earlier->Find("requester"))));
      bool back_to_sender = original_sender.has_value() && original_sender->id == to->id;
      if (!back_to_sender && !to->community) {
        return Unprocessable(
            "下转须回到原转出机构或社区卫生服务中心 / a down referral goes back to the member "
            "that sent " +
                std::string(earlier_reference) + " or to a community health centre",
            "ServiceRequest.performer[0]");
      }
    }
  }

  if (IsGreenChannel(service_request)) {
    if (service_request.GetStringMember("priority") != "stat") {
      return Unprocessable(
          "绿色通道转诊的优先级须为 stat / a green-channel referral has "
          "priority stat",
          "ServiceRequest.priority");
    }
    if (!ConditionOf(service_request).has_value()) {
      return Unprocessable(
          "绿色通道转诊须注明病种（stroke, chest-pain, heart-failure, cardiac-emergency, "
          "tumour-fast-track） / a green-channel referral names its condition in category (" +
              std::string(kGreenChannelSystem) + ")",
          "ServiceRequest.category");
    }
  }
  return {};
}

core::Status ServiceRequestHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  // The module's own writes (status following the Task, the escalator's reassignment, which
  // checked the referral itself) are the workflow's.
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr ||
      event.origin == kWriteOrigin || !IsReferral(*event.resource))
    return {};
  if (event.previous != nullptr && !event.previous->deleted) {
    // Once a Task drives the referral, its status and parties follow the Task.
    MA_ASSIGN_OR_RETURN(Json previous, fhir::ParseJson(event.previous->json));
    for (std::string_view key : {"status", "subject", "requester", "performer"}) {
      const Json* before = previous.Find(key);
      const Json* after = event.resource->Find(key);
      if ((before == nullptr) == (after == nullptr) && (before == nullptr || *before == *after))
        continue;
      MA_ASSIGN_OR_RETURN(std::vector<Json> tasks,
                          internal::SearchJson(tx, searcher_, "Task",
                                               {{"based-on", "ServiceRequest/" + event.id}}));
      if (!tasks.empty()) {
        return core::Error::Conflict(
            "转诊单的 " + std::string(key) + " 由转诊任务驱动，请更新 Task/" +
                std::string(tasks.front().GetStringMember("id")) + " / ServiceRequest." +
                std::string(key) + " follows the referral's Task: update Task/" +
                std::string(tasks.front().GetStringMember("id")) + " instead",
            "ServiceRequest." + std::string(key));
      }
      break;
    }
  }
  return CheckReferral(tx, searcher_, *event.resource, event.warnings);
}

}  // namespace medalliance::referral
