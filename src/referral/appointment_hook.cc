#include "referral/appointment_hook.h"

#include <optional>

#include "referral/internal/json_util.h"
#include "referral/members.h"
#include "referral/service_request_hook.h"

namespace medalliance::referral {

using fhir::Json;

core::Status AppointmentHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr ||
      (event.previous != nullptr && !event.previous->deleted))
    return {};
  Json& appointment = *event.resource;
  std::string request_reference;
  if (const Json* based_on = appointment.Find("basedOn");
      based_on != nullptr && based_on->IsArray()) {
    for (const Json& reference : based_on->Items()) {
      std::string_view text = internal::ReferenceOf(&reference);
      if (text.rfind("ServiceRequest/", 0) == 0) {
        request_reference = std::string(text);
        break;
      }
    }
  }
  if (request_reference.empty())
    return {};
  MA_ASSIGN_OR_RETURN(std::optional<Json> request, internal::ReadReference(tx, request_reference));
  if (!request.has_value() || !IsReferral(*request))
    return {};
  MA_ASSIGN_OR_RETURN(std::vector<Json> tasks,
                      internal::SearchJson(tx, searcher_, "Task",
                                           {{"based-on", request_reference}, {"_sort", "_id"}}));
  const Json* task = tasks.empty() ? nullptr : &tasks.front();
  const std::string_view status = task == nullptr ? "" : task->GetStringMember("status");
  if (status != "accepted" && status != "in-progress") {
    return core::Error::Conflict(
        "转诊接收后才能预约 / a slot is offered once the referral is accepted (the Task of " +
            request_reference + " is " + (status.empty() ? "missing" : std::string(status)) + ")",
        "Appointment.basedOn");
  }
  if (event.caller != nullptr && event.caller->authenticated) {
    MA_ASSIGN_OR_RETURN(std::optional<Member> receiver,
                        ResolveMember(tx, searcher_, internal::ReferenceOf(task->Find("owner"))));
    if (!receiver.has_value() || event.caller->organization_id.empty() ||
        !receiver->Contains(event.caller->organization_id)) {
      return core::Error::Forbidden(
          "只有接收方可以提供预约 / only the receiving side offers the slot", "Appointment");
    }
  }
  const std::string_view subject = internal::ReferenceOf(request->Find("subject"));
  Json* participants = appointment.Find("participant");
  if (participants == nullptr || !participants->IsArray())
    participants = &appointment.Set("participant", Json::MakeArray());
  bool has_patient = false;
  size_t index = 0;
  for (const Json& participant : participants->Items()) {
    std::string_view actor = internal::ReferenceOf(participant.Find("actor"));
    if (actor.rfind("Patient/", 0) == 0) {
      if (actor != subject) {
        return core::Error::Unprocessable(
            "预约患者与转诊患者不符 / the Appointment's patient is not the referral's " +
                std::string(subject),
            "Appointment.participant[" + std::to_string(index) + "].actor");
      }
      has_patient = true;
    }
    ++index;
  }
  if (!has_patient) {
    Json participant = Json::MakeObject();
    participant.Set("actor", internal::Reference(subject));
    participant.Set("status", internal::Str("needs-action"));
    participants->PushBack(std::move(participant));
  }
  return {};
}

}  // namespace medalliance::referral
