#include "referral/board_operation.h"

#include <algorithm>
#include <optional>

#include "core/time.h"
#include "fhir/json/parameters.h"
#include "referral/codes.h"
#include "referral/internal/json_util.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"
#include "referral/time_points.h"

namespace medalliance::referral {
namespace {

using fhir::Json;
using internal::Str;

Json Part(std::string_view name, std::string_view value_key, Json value) {
  Json part = Json::MakeObject();
  part.Set("name", Str(name));
  part.Set(value_key, std::move(value));
  return part;
}

Json Minutes(core::EpochMillis millis) {
  Json duration = Json::MakeObject();
  duration.Set("value", Json::MakeNumber(FormatMinutes(millis)));
  duration.Set("unit", Str("min"));
  duration.Set("system", Str("http://unitsofmeasure.org"));
  duration.Set("code", Str("min"));
  return duration;
}

struct Row {
  core::EpochMillis sort_key = 0;
  Json parameter;
};

}  // namespace

GreenChannelBoard::GreenChannelBoard(const core::Clock* clock)
    : clock_(clock != nullptr ? clock : &core::SystemClock::Get()) {}

core::Result<store::OperationResponse> GreenChannelBoard::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const core::EpochMillis now = clock_->Now();
  const std::string owner_filter = fhir::ParameterText(request.parameters, "owner");
  std::vector<Row> rows;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    rows.clear();
    search::Params params = {
        {"code", std::string(kReferralSystem) + "|" + std::string(kGreenChannelTaskCode)},
        {"status", "requested,received,accepted,in-progress"},
        {"_sort", "_id"}};
    if (!owner_filter.empty())
      params.emplace_back("owner", owner_filter);
    MA_ASSIGN_OR_RETURN(std::vector<Json> tasks,
                        internal::SearchJson(tx, searcher_, "Task", std::move(params)));
    for (const Json& task : tasks) {
      const std::string request_reference = ServiceRequestOf(task);
      MA_ASSIGN_OR_RETURN(std::optional<Json> service_request,
                          internal::ReadReference(tx, request_reference));
      Json entry = Json::MakeObject();
      entry.Set("name", Str("referral"));
      Json& parts = entry.Set("part", Json::MakeArray());
      parts.PushBack(Part("task", "valueReference",
                          internal::Reference("Task/" + std::string(task.GetStringMember("id")))));
      parts.PushBack(
          Part("serviceRequest", "valueReference", internal::Reference(request_reference)));
      for (std::string_view key : {"for", "requester", "owner"}) {
        if (const Json* reference = task.Find(key); reference != nullptr)
          parts.PushBack(
              Part(std::string_view(key) == "for" ? "patient" : key, "valueReference", *reference));
      }
      const std::string_view status = task.GetStringMember("status");
      parts.PushBack(Part("status", "valueCode", Str(status)));
      if (service_request.has_value()) {
        if (std::optional<Condition> condition = ConditionOf(*service_request)) {
          parts.PushBack(Part(
              "condition", "valueCoding",
              internal::Coding(kGreenChannelSystem, ToCode(*condition), DisplayOf(*condition))));
        }
      }
      std::optional<core::EpochMillis> authored =
          internal::ParseTime(task.GetStringMember("authoredOn"));
      if (authored.has_value()) {
        parts.PushBack(Part("authored", "valueDateTime", Str(core::FormatInstant(*authored))));
        parts.PushBack(Part("elapsed", "valueDuration", Minutes(now - *authored)));
      }
      const Json* restriction = task.Find("restriction");
      const Json* period = restriction == nullptr ? nullptr : restriction->Find("period");
      std::optional<core::EpochMillis> deadline =
          period == nullptr ? std::nullopt : internal::ParseTime(period->GetStringMember("end"));
      Row row;
      row.sort_key = INT64_MAX;
      if (deadline.has_value()) {
        parts.PushBack(Part("deadline", "valueDateTime", Str(core::FormatInstant(*deadline))));
        parts.PushBack(Part("remaining", "valueDuration", Minutes(*deadline - now)));
        const bool waiting = status == "requested" || status == "received";
        parts.PushBack(Part("overdue", "valueBoolean", Json::MakeBool(waiting && now > *deadline)));
        row.sort_key = waiting ? *deadline : INT64_MAX - 1;
      }
      parts.PushBack(Part("escalations", "valueInteger",
                          Json::MakeNumber(static_cast<int64_t>(
                              internal::FindExtensions(task, kEscalationExtension).size()))));
      row.parameter = std::move(entry);
      rows.push_back(std::move(row));
    }
    return {};
  }));
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.sort_key < b.sort_key; });
  Json parameters = Json::MakeObject();
  parameters.Set("resourceType", Str("Parameters"));
  Json& list = parameters.Set("parameter", Json::MakeArray());
  list.PushBack(Part("generated", "valueInstant", Str(core::FormatInstant(now))));
  for (Row& row : rows) list.PushBack(std::move(row.parameter));
  store::OperationResponse response;
  response.body = std::move(parameters);
  return response;
}

}  // namespace medalliance::referral
