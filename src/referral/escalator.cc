#include "referral/escalator.h"

#include <algorithm>
#include <optional>

#include "core/time.h"
#include "referral/codes.h"
#include "referral/internal/json_util.h"
#include "referral/members.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"

namespace medalliance::referral {
namespace {

using fhir::Json;
using internal::Str;

struct PastStep {
  std::string action;
  std::string from;  // the owner member before a reassignment
};

std::vector<PastStep> PastSteps(const Json& task) {
  std::vector<PastStep> out;
  for (const Json* extension : internal::FindExtensions(task, kEscalationExtension)) {
    PastStep step;
    if (const Json* action = internal::FindSubExtension(*extension, "action"))
      step.action = std::string(action->GetStringMember("valueCode"));
    if (const Json* from = internal::FindSubExtension(*extension, "from"))
      step.from = std::string(internal::ReferenceOf(from->Find("valueReference")));
    out.push_back(std::move(step));
  }
  return out;
}

void AddNote(Json& task, core::EpochMillis now, std::string text) {
  Json note = Json::MakeObject();
  note.Set("time", Str(core::FormatInstant(now)));
  note.Set("text", Str(text));
  Json* notes = task.Find("note");
  if (notes == nullptr || !notes->IsArray())
    notes = &task.Set("note", Json::MakeArray());
  notes->PushBack(std::move(note));
}

Json MakeStep(int level, core::EpochMillis now, std::string_view action, std::string_view target,
              std::string_view from) {
  Json extension = Json::MakeObject();
  extension.Set("url", Str(kEscalationExtension));
  Json& parts = extension.Set("extension", Json::MakeArray());
  parts.PushBack(internal::SubExtension("level", "valueInteger", Json::MakeNumber(level)));
  parts.PushBack(internal::SubExtension("at", "valueDateTime", Str(core::FormatInstant(now))));
  parts.PushBack(internal::SubExtension("action", "valueCode", Str(action)));
  if (!target.empty())
    parts.PushBack(internal::SubExtension("target", "valueReference", internal::Reference(target)));
  if (!from.empty())
    parts.PushBack(internal::SubExtension("from", "valueReference", internal::Reference(from)));
  return extension;
}

// The duty coordinator at the member or at the owning department; empty when none.
core::Result<std::string> FindCoordinator(store::ReadTx& tx, const search::Searcher& searcher,
                                          const Member& member) {
  for (const std::string& organization : member.chain) {
    MA_ASSIGN_OR_RETURN(std::vector<Json> roles,
                        internal::SearchJson(tx, searcher, "PractitionerRole",
                                             {{"organization", "Organization/" + organization},
                                              {"role", std::string(kReferralSystem) + "|" +
                                                           std::string(kCoordinatorRoleCode)},
                                              {"_sort", "_id"}}));
    for (const Json& role : roles) {
      const Json* active = role.Find("active");
      if (active != nullptr && active->IsBool() && !active->GetBool())
        continue;
      return "PractitionerRole/" + std::string(role.GetStringMember("id"));
    }
  }
  return std::string();
}

// Members able to take the condition, nearest first (see the header).
core::Result<std::vector<Member>> CapableMembers(store::ReadTx& tx,
                                                 const search::Searcher& searcher,
                                                 std::optional<Condition> condition,
                                                 const std::string& near_city) {
  MA_ASSIGN_OR_RETURN(std::vector<Member> members, ListMembers(tx, searcher));
  std::vector<std::string> providers;
  bool declared = false;
  if (condition.has_value()) {
    MA_ASSIGN_OR_RETURN(
        std::vector<Json> services,
        internal::SearchJson(tx, searcher, "HealthcareService",
                             {{"service-type", std::string(kGreenChannelSystem) + "|" +
                                                   std::string(ToCode(*condition))},
                              {"active", "true"}}));
    declared = !services.empty();
    for (const Json& service : services) {
      MA_ASSIGN_OR_RETURN(
          std::optional<Member> provider,
          ResolveMember(tx, searcher, internal::ReferenceOf(service.Find("providedBy"))));
      if (provider.has_value())
        providers.push_back(provider->id);
    }
  }
  std::vector<Member> out;
  for (Member& member : members) {
    bool capable = declared
                       ? std::find(providers.begin(), providers.end(), member.id) != providers.end()
                       : member.grade == 3;
    if (capable)
      out.push_back(std::move(member));
  }
  std::stable_sort(out.begin(), out.end(), [&near_city](const Member& a, const Member& b) {
    return (a.city == near_city) > (b.city == near_city);
  });
  return out;
}

}  // namespace

Escalator::Escalator(store::Store& store, const store::ResourceWriter& writer,
                     ReferralConfig config)
    : store_(store),
      writer_(writer),
      config_(std::move(config)),
      caller_(store::SystemCaller("referral-escalator")) {}

core::Result<std::vector<EscalationStep>> Escalator::Tick(core::EpochMillis now) {
  std::vector<EscalationStep> steps;
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    steps.clear();  // Write() may re-run this block
    const store::WriteScope scope{&caller_, kWriteOrigin, 1, now, nullptr};
    MA_ASSIGN_OR_RETURN(std::vector<Json> tasks,
                        internal::SearchJson(tx, searcher_, "Task",
                                             {{"code", std::string(kReferralSystem) + "|" +
                                                           std::string(kGreenChannelTaskCode)},
                                              {"status", "requested,received"},
                                              {"_sort", "_id"}}));
    for (Json& task : tasks) {
      const Json* restriction = task.Find("restriction");
      const Json* period = restriction == nullptr ? nullptr : restriction->Find("period");
      std::optional<core::EpochMillis> deadline =
          period == nullptr ? std::nullopt : internal::ParseTime(period->GetStringMember("end"));
      if (!deadline.has_value() || now < *deadline)
        continue;
      std::vector<PastStep> past = PastSteps(task);
      if (static_cast<int>(past.size()) >= config_.max_escalation_steps ||
          (!past.empty() && past.back().action == "exhausted"))
        continue;
      const std::string task_id(task.GetStringMember("id"));
      const std::string request_reference = ServiceRequestOf(task);
      MA_ASSIGN_OR_RETURN(std::optional<Json> request,
                          internal::ReadReference(tx, request_reference));
      if (!request.has_value())
        continue;
      const std::optional<Condition> condition = ConditionOf(*request);
      const std::string owner(internal::ReferenceOf(task.Find("owner")));
      MA_ASSIGN_OR_RETURN(std::optional<Member> receiver, ResolveMember(tx, searcher_, owner));
      MA_ASSIGN_OR_RETURN(
          std::optional<Member> sender,
          ResolveMember(tx, searcher_, internal::ReferenceOf(task.Find("requester"))));

      EscalationStep step;
      step.task_id = task_id;
      step.level = static_cast<int>(past.size()) + 1;
      std::string from;
      std::string note;
      bool request_changed = false;
      if (past.empty() || past.back().action != "coordinator") {
        if (receiver.has_value()) {
          MA_ASSIGN_OR_RETURN(step.target, FindCoordinator(tx, searcher_, *receiver));
        }
        if (!step.target.empty()) {
          step.action = "coordinator";
          note = "超时未接收，已升级至值班协调员 " + step.target +
                 " / not accepted in time: escalated to the duty coordinator " + step.target;
          Json* restriction_json = task.Find("restriction");
          Json* recipients = restriction_json->Find("recipient");
          if (recipients == nullptr || !recipients->IsArray())
            recipients = &restriction_json->Set("recipient", Json::MakeArray());
          recipients->PushBack(internal::Reference(step.target));
        }
      }
      if (step.action.empty()) {
        std::vector<std::string> tried;
        if (sender.has_value())
          tried.push_back(sender->id);
        if (receiver.has_value())
          tried.push_back(receiver->id);
        for (const PastStep& earlier : past) {
          std::string_view type;
          std::string_view id;
          if (internal::SplitReference(earlier.from, &type, &id))
            tried.emplace_back(id);
        }
        MA_ASSIGN_OR_RETURN(
            std::vector<Member> candidates,
            CapableMembers(tx, searcher_, condition, sender.has_value() ? sender->city : ""));
        for (const Member& candidate : candidates) {
          if (std::find(tried.begin(), tried.end(), candidate.id) != tried.end())
            continue;
          // The ServiceRequest moves with the Task; its direction is recomputed.
          Json moved = *request;
          Json& performers = moved.Set("performer", Json::MakeArray());
          performers.PushBack(internal::Reference("Organization/" + candidate.id));
          if (!CheckReferral(tx, searcher_, moved, nullptr).has_value())
            continue;
          *request = std::move(moved);
          request_changed = true;
          step.action = "reassigned";
          step.target = "Organization/" + candidate.id;
          from = receiver.has_value() ? "Organization/" + receiver->id : owner;
          break;
        }
        if (step.action.empty()) {
          step.action = "exhausted";
          note =
              "超时未接收，联盟内暂无其他可接收机构，请人工协调 / not accepted in time and no "
              "other capable member is left: coordinate by hand";
        } else {
          note = "超时未接收，已改派至 " + step.target + "（原接收方 " + from +
                 "） / not accepted in time: offered to " + step.target + " instead of " + from;
          task.Set("owner", internal::Reference(step.target));
          if (task.GetStringMember("status") != "requested") {
            internal::AddExtension(
                task, MakeTransition(ParseTaskState(task.GetStringMember("status")),
                                     TaskState::kRequested, now, nullptr, "escalation"));
            task.Set("status", Str("requested"));
          }
          if (Json* restriction_json = task.Find("restriction"))
            restriction_json->Erase("recipient");
        }
      }
      if (step.action != "exhausted" && condition.has_value()) {
        Json* restriction_json = task.Find("restriction");
        if (restriction_json != nullptr) {
          Json& new_period = restriction_json->Set("period", Json::MakeObject());
          new_period.Set("start", Str(core::FormatInstant(now)));
          new_period.Set("end", Str(core::FormatInstant(now + config_.DeadlineOf(*condition))));
        }
      }
      internal::AddExtension(task, MakeStep(step.level, now, step.action, step.target, from));
      AddNote(task, now, std::move(note));
      task.Set("lastModified", Str(core::FormatInstant(now)));
      MA_RETURN_IF_ERROR(internal::UpdateResource(tx, &writer_, task, scope));
      if (request_changed)
        MA_RETURN_IF_ERROR(internal::UpdateResource(tx, &writer_, *request, scope));
      steps.push_back(std::move(step));
    }
    return {};
  });
  if (!status)
    return std::move(status).error();
  return steps;
}

}  // namespace medalliance::referral
