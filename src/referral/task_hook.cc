#include "referral/task_hook.h"

#include "core/ids.h"
#include "core/time.h"
#include "referral/codes.h"
#include "referral/internal/json_util.h"
#include "referral/members.h"
#include "referral/service_request_hook.h"
#include "referral/time_points.h"

namespace medalliance::referral {
namespace {

using fhir::Json;
using internal::Str;

// The scope of the hook's own writes (Encounter, ServiceRequest status) at the hook's time.
store::WriteScope Nested(const store::WriteEvent& event, core::EpochMillis now) {
  store::WriteScope scope = event.Nested(kWriteOrigin);
  scope.now = now;
  return scope;
}

// Members a client may not change on a referral Task.
constexpr std::string_view kFixedMembers[] = {"basedOn", "for", "requester", "owner"};

bool SameMember(const Json& a, const Json& b, std::string_view key) {
  const Json* left = a.Find(key);
  const Json* right = b.Find(key);
  if (left == nullptr || right == nullptr)
    return left == right;
  return *left == *right;
}

// Copies `key` from `from` into `to` (or removes it from `to` when `from` has none).
void CopyMember(const Json& from, Json& to, std::string_view key) {
  if (const Json* value = from.Find(key); value != nullptr) {
    to.Set(key, *value);
  } else {
    to.Erase(key);
  }
}

void CopyExtensions(const Json& from, Json& to, std::string_view url) {
  internal::EraseExtensions(to, url);
  for (const Json* extension : internal::FindExtensions(from, url))
    internal::AddExtension(to, *extension);
}

void EnsureCode(Json& task, std::string_view code, std::string_view display) {
  Json* concept_json = task.Find("code");
  if (concept_json == nullptr || !concept_json->IsObject())
    concept_json = &task.Set("code", Json::MakeObject());
  if (internal::HasCoding(concept_json, kReferralSystem, code))
    return;
  Json* codings = concept_json->Find("coding");
  if (codings == nullptr || !codings->IsArray())
    codings = &concept_json->Set("coding", Json::MakeArray());
  codings->PushBack(internal::Coding(kReferralSystem, code, display));
}

bool HasText(const Json* concept_json) {
  if (concept_json == nullptr || !concept_json->IsObject())
    return false;
  if (!concept_json->GetStringMember("text").empty())
    return true;
  const Json* codings = concept_json->Find("coding");
  return codings != nullptr && codings->IsArray() && codings->Size() > 0;
}

std::string ReasonText(const Json* concept_json) {
  if (concept_json == nullptr || !concept_json->IsObject())
    return {};
  if (std::string_view text = concept_json->GetStringMember("text"); !text.empty())
    return std::string(text);
  const Json* codings = concept_json->Find("coding");
  if (codings != nullptr && codings->IsArray() && codings->Size() > 0) {
    const Json& coding = codings->Items().front();
    std::string_view display = coding.GetStringMember("display");
    return std::string(display.empty() ? coding.GetStringMember("code") : display);
  }
  return {};
}

bool HasDischargeSummary(const Json& task) {
  const Json* outputs = task.Find("output");
  if (outputs == nullptr || !outputs->IsArray())
    return false;
  for (const Json& output : outputs->Items()) {
    std::string_view reference = internal::ReferenceOf(output.Find("valueReference"));
    for (std::string_view prefix : {"Composition/", "DocumentReference/", "DiagnosticReport/"}) {
      if (reference.rfind(prefix, 0) == 0)
        return true;
    }
  }
  return false;
}

std::optional<core::EpochMillis> DeadlineLength(const Json& service_request,
                                                const ReferralConfig& config) {
  if (!IsGreenChannel(service_request))
    return std::nullopt;
  std::optional<Condition> condition = ConditionOf(service_request);
  if (!condition.has_value())
    return std::nullopt;
  return config.DeadlineOf(*condition);
}

}  // namespace

std::string ServiceRequestOf(const Json& task) {
  const Json* based_on = task.Find("basedOn");
  if (based_on == nullptr || !based_on->IsArray())
    return {};
  for (const Json& reference : based_on->Items()) {
    std::string_view text = internal::ReferenceOf(&reference);
    if (text.rfind("ServiceRequest/", 0) == 0)
      return std::string(text);
  }
  return {};
}

Json MakeTransition(std::optional<TaskState> from, TaskState to, core::EpochMillis at,
                    const store::Caller* caller, std::string_view reason) {
  Json extension = Json::MakeObject();
  extension.Set("url", Str(kTransitionExtension));
  Json& parts = extension.Set("extension", Json::MakeArray());
  if (from.has_value())
    parts.PushBack(internal::SubExtension("from", "valueCode", Str(ToCode(*from))));
  parts.PushBack(internal::SubExtension("to", "valueCode", Str(ToCode(to))));
  parts.PushBack(internal::SubExtension("at", "valueDateTime", Str(core::FormatInstant(at))));
  if (caller != nullptr && caller->authenticated) {
    if (!caller->organization_id.empty()) {
      parts.PushBack(internal::SubExtension(
          "by", "valueReference", internal::Reference("Organization/" + caller->organization_id)));
    }
    if (!caller->practitioner_id.empty()) {
      parts.PushBack(
          internal::SubExtension("practitioner", "valueReference",
                                 internal::Reference("Practitioner/" + caller->practitioner_id)));
    }
    if (!caller->client_id.empty())
      parts.PushBack(internal::SubExtension("client", "valueString", Str(caller->client_id)));
  }
  if (!reason.empty())
    parts.PushBack(internal::SubExtension("reason", "valueString", Str(reason)));
  return extension;
}

TaskHook::TaskHook(TaskHookOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr)
    options_.clock = &core::SystemClock::Get();
}

core::Result<CallerSides> TaskHook::SidesOf(store::ReadTx& tx, const store::Caller* caller,
                                            const Json& task) const {
  CallerSides sides;
  if (caller == nullptr || !caller->authenticated)
    return sides;
  sides.checked = true;
  auto on_side = [&](std::string_view key) -> core::Result<bool> {
    std::string_view reference = internal::ReferenceOf(task.Find(key));
    if (!caller->practitioner_id.empty() && reference == "Practitioner/" + caller->practitioner_id)
      return true;
    if (caller->organization_id.empty())
      return false;
    MA_ASSIGN_OR_RETURN(std::optional<Member> member, ResolveMember(tx, searcher_, reference));
    return member.has_value() && member->Contains(caller->organization_id);
  };
  MA_ASSIGN_OR_RETURN(sides.requester, on_side("requester"));
  MA_ASSIGN_OR_RETURN(sides.receiver, on_side("owner"));
  return sides;
}

core::Status TaskHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  // The module's own Task writes (the escalator's steps) are already the workflow's.
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr ||
      event.origin == kWriteOrigin)
    return {};
  Json& task = *event.resource;
  std::string request_reference = ServiceRequestOf(task);
  if (request_reference.empty()) {
    if (internal::HasCoding(task.Find("code"), kReferralSystem, kReferralTaskCode)) {
      return core::Error::Unprocessable(
          "转诊任务须基于转诊单 / a referral Task is basedOn its ServiceRequest", "Task.basedOn");
    }
    return {};
  }
  MA_ASSIGN_OR_RETURN(std::optional<Json> request, internal::ReadReference(tx, request_reference));
  if (!request.has_value() || !IsReferral(*request)) {
    if (internal::HasCoding(task.Find("code"), kReferralSystem, kReferralTaskCode)) {
      return core::Error::Unprocessable(request_reference + " 不是转诊单 / " + request_reference +
                                            " is not a referral ServiceRequest",
                                        "Task.basedOn");
    }
    return {};  // a Task based on some other ServiceRequest
  }
  const core::EpochMillis now = options_.clock->Now();
  if (event.previous == nullptr || event.previous->deleted)
    return OnCreate(tx, event, *request, now);
  MA_ASSIGN_OR_RETURN(Json previous, fhir::ParseJson(event.previous->json));
  if (ServiceRequestOf(previous).empty())
    return OnCreate(tx, event, *request, now);
  return OnChange(tx, event, *request, previous, now);
}

core::Status TaskHook::OnCreate(store::WriteTx& tx, store::WriteEvent& event, Json& request,
                                core::EpochMillis now) const {
  Json& task = *event.resource;
  if (task.GetStringMember("status") != "requested") {
    return core::Error::Unprocessable(
        "转诊任务以 requested 状态开始 / a referral Task starts as requested, not " +
            std::string(task.GetStringMember("status")),
        "Task.status");
  }
  const std::string request_reference = ServiceRequestOf(task);
  if (task.Find("focus") == nullptr)
    task.Set("focus", internal::Reference(request_reference));
  if (task.Find("for") == nullptr && request.Find("subject") != nullptr)
    task.Set("for", *request.Find("subject"));
  if (task.Find("requester") == nullptr && request.Find("requester") != nullptr)
    task.Set("requester", *request.Find("requester"));
  if (task.Find("owner") == nullptr) {
    const Json* performers = request.Find("performer");
    if (performers != nullptr && performers->IsArray() && performers->Size() > 0)
      task.Set("owner", performers->Items().front());
  }
  if (internal::ReferenceOf(task.Find("owner")).empty() ||
      internal::ReferenceOf(task.Find("requester")).empty()) {
    return core::Error::Unprocessable(
        "转诊任务须有申请方与接收方 / a referral Task needs requester and owner", "Task.owner");
  }
  MA_ASSIGN_OR_RETURN(CallerSides sides, SidesOf(tx, event.caller, task));
  if (sides.checked && !sides.requester) {
    return core::Error::Forbidden(
        "只有申请方可以发起转诊 / only the requesting side creates a referral Task",
        "Task.requester");
  }
  EnsureCode(task, kReferralTaskCode, "转诊 / referral");
  internal::EraseExtensions(task, kTransitionExtension);
  internal::EraseExtensions(task, kEscalationExtension);
  if (task.GetStringMember("authoredOn").empty())
    task.Set("authoredOn", Str(core::FormatInstant(now)));
  if (std::optional<core::EpochMillis> length = DeadlineLength(request, options_.config)) {
    EnsureCode(task, kGreenChannelTaskCode, "绿色通道 / green channel");
    task.Set("priority", Str("stat"));
    Json restriction = Json::MakeObject();
    Json& period = restriction.Set("period", Json::MakeObject());
    period.Set("start", Str(core::FormatInstant(now)));
    period.Set("end", Str(core::FormatInstant(now + *length)));
    task.Set("restriction", std::move(restriction));
  } else {
    task.Erase("restriction");
  }
  internal::AddExtension(
      task, MakeTransition(std::nullopt, TaskState::kRequested, now, event.caller, {}));
  Finish(event, request, now);
  return {};
}

core::Status TaskHook::OnChange(store::WriteTx& tx, store::WriteEvent& event, Json& request,
                                const Json& previous, core::EpochMillis now) const {
  Json& task = *event.resource;
  for (std::string_view key : kFixedMembers) {
    if (!SameMember(task, previous, key)) {
      return core::Error::Unprocessable("转诊任务的 " + std::string(key) + " 不可更改 / Task." +
                                            std::string(key) + " of a referral cannot be changed",
                                        "Task." + std::string(key));
    }
  }
  // Server-managed parts come from the stored version.
  CopyExtensions(previous, task, kTransitionExtension);
  CopyExtensions(previous, task, kEscalationExtension);
  CopyMember(previous, task, "restriction");
  CopyMember(previous, task, "code");
  CopyMember(previous, task, "authoredOn");
  if (task.Find("encounter") == nullptr)
    CopyMember(previous, task, "encounter");

  const std::string_view old_code = previous.GetStringMember("status");
  const std::string_view new_code = task.GetStringMember("status");
  if (old_code != new_code) {
    std::optional<TaskState> from = ParseTaskState(old_code);
    std::optional<TaskState> to = ParseTaskState(new_code);
    if (!from.has_value()) {
      return core::Error::Conflict("转诊任务处于未知状态 " + std::string(old_code) +
                                       " / the referral Task is in an unknown state",
                                   "Task.status");
    }
    if (!to.has_value())
      return IllegalTransition(*from, new_code);
    MA_ASSIGN_OR_RETURN(CallerSides sides, SidesOf(tx, event.caller, previous));
    MA_RETURN_IF_ERROR(CheckTransition(*from, *to, sides));
    const std::string request_reference = ServiceRequestOf(task);
    std::string reason;
    switch (*to) {
      case TaskState::kRejected:
        if (!HasText(task.Find("statusReason"))) {
          return core::Error::Unprocessable(
              "拒绝转诊须说明理由 / rejecting a referral needs a statusReason",
              "Task.statusReason");
        }
        reason = ReasonText(task.Find("statusReason"));
        break;
      case TaskState::kInProgress: {
        Json encounter = Json::MakeObject();
        encounter.Set("resourceType", Str("Encounter"));
        encounter.Set("status", Str("in-progress"));
        const bool green = IsGreenChannel(request);
        encounter.Set("class",
                      internal::Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       green ? "EMER" : "AMB", green ? "emergency" : "ambulatory"));
        if (const Json* subject = task.Find("for"); subject != nullptr)
          encounter.Set("subject", *subject);
        encounter.Set("basedOn", Json::MakeArray())
            .PushBack(internal::Reference(request_reference));
        MA_ASSIGN_OR_RETURN(
            std::optional<Member> receiver,
            ResolveMember(tx, searcher_, internal::ReferenceOf(task.Find("owner"))));
        if (receiver.has_value()) {
          encounter.Set("serviceProvider", internal::Reference("Organization/" + receiver->id));
        }
        if (const Json* reasons = request.Find("reasonCode"); reasons != nullptr)
          encounter.Set("reasonCode", *reasons);
        encounter.Set("period", Json::MakeObject()).Set("start", Str(core::FormatInstant(now)));
        MA_ASSIGN_OR_RETURN(
            std::string encounter_id,
            internal::CreateResource(tx, event.writer, encounter, Nested(event, now)));
        task.Set("encounter", internal::Reference("Encounter/" + encounter_id));
        if (event.warnings != nullptr) {
          event.warnings->push_back({core::Severity::kInformation, "informational",
                                     "患者已到达，已建立就诊 / the patient arrived: Encounter/" +
                                         encounter_id + " opened",
                                     "Task.encounter"});
        }
        break;
      }
      case TaskState::kCompleted: {
        if (!HasDischargeSummary(task)) {
          return core::Error::Unprocessable(
              "完成转诊须附出院小结 / completing a referral needs an output referencing the "
              "discharge summary (Composition, DocumentReference or DiagnosticReport)",
              "Task.output");
        }
        std::string_view encounter_reference = internal::ReferenceOf(task.Find("encounter"));
        MA_ASSIGN_OR_RETURN(std::optional<Json> encounter,
                            internal::ReadReference(tx, encounter_reference));
        if (encounter.has_value() && encounter->GetStringMember("status") == "in-progress") {
          encounter->Set("status", Str("finished"));
          Json* period = encounter->Find("period");
          if (period == nullptr || !period->IsObject())
            period = &encounter->Set("period", Json::MakeObject());
          period->Set("end", Str(core::FormatInstant(now)));
          MA_RETURN_IF_ERROR(
              internal::UpdateResource(tx, event.writer, *encounter, Nested(event, now)));
        }
        if (DirectionOf(request) == Direction::kUp) {
          MA_ASSIGN_OR_RETURN(std::vector<Json> down,
                              internal::SearchJson(tx, searcher_, "ServiceRequest",
                                                   {{"based-on", request_reference}}));
          if (down.empty() && event.warnings != nullptr) {
            event.warnings->push_back(
                {core::Severity::kWarning, "informational",
                 "上转诊疗已完成，下转单待开具 / the up referral is completed: a down referral "
                 "back to the sending member or a community health centre is due",
                 "Task"});
          }
        }
        break;
      }
      default:
        break;
    }
    // The ServiceRequest follows the Task.
    std::string_view request_status;
    if (*to == TaskState::kCompleted)
      request_status = "completed";
    else if (*to == TaskState::kRejected || *to == TaskState::kCancelled ||
             *to == TaskState::kFailed)
      request_status = "revoked";
    if (!request_status.empty() && request.GetStringMember("status") != request_status) {
      request.Set("status", Str(request_status));
      MA_RETURN_IF_ERROR(internal::UpdateResource(tx, event.writer, request, Nested(event, now)));
    }
    internal::AddExtension(task, MakeTransition(from, *to, now, event.caller, reason));
  }
  Finish(event, request, now);
  return {};
}

void TaskHook::Finish(store::WriteEvent& event, const Json& request, core::EpochMillis now) const {
  Json& task = *event.resource;
  task.Set("lastModified", Str(core::FormatInstant(now)));
  std::vector<Metric> metrics = DeriveMetrics(ReadTimePoints(task), options_.config,
                                              DeadlineLength(request, options_.config));
  WriteMetrics(task, metrics);
  if (event.warnings == nullptr)
    return;
  for (const Metric& metric : metrics) {
    if (metric.met)
      continue;
    event.warnings->push_back({core::Severity::kWarning, "informational",
                               "未达国家目标 / target missed: " + metric.code + " " +
                                   FormatMinutes(metric.millis) + " min > " +
                                   std::to_string(*metric.target_minutes) + " min",
                               "Task.extension"});
  }
}

}  // namespace medalliance::referral
