#include "referral/metrics_operation.h"

#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "core/time.h"
#include "fhir/json/parameters.h"
#include "referral/codes.h"
#include "referral/internal/json_util.h"
#include "referral/members.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"
#include "referral/time_points.h"

namespace medalliance::referral {
namespace {

using fhir::Json;
using internal::Str;

constexpr std::string_view kMetricSystem = "https://fhir.medalliance.cn/CodeSystem/referral-metric";

Json Concept(std::string_view system, std::string_view code) {
  Json concept_json = Json::MakeObject();
  concept_json.Set("coding", Json::MakeArray()).PushBack(internal::Coding(system, code));
  return concept_json;
}

Json TextConcept(std::string_view text) {
  Json concept_json = Json::MakeObject();
  concept_json.Set("text", Str(text));
  return concept_json;
}

Json Population(std::string_view code, int64_t count) {
  Json population = Json::MakeObject();
  population.Set("code", Concept("http://terminology.hl7.org/CodeSystem/measure-population", code));
  population.Set("count", Json::MakeNumber(count));
  return population;
}

std::string Decimal(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

Json Score(double value, std::string_view unit = {}) {
  Json quantity = Json::MakeObject();
  quantity.Set("value", Json::MakeNumber(Decimal(value, unit.empty() ? 3 : 1)));
  if (!unit.empty()) {
    quantity.Set("unit", Str(unit));
    quantity.Set("system", Str("http://unitsofmeasure.org"));
    quantity.Set("code", Str(unit));
  }
  return quantity;
}

// numerator / denominator as a group with both populations and the rate.
Json RateGroup(std::string_view code, int64_t numerator, int64_t denominator) {
  Json group = Json::MakeObject();
  group.Set("code", Concept(kMetricSystem, code));
  Json& populations = group.Set("population", Json::MakeArray());
  populations.PushBack(Population("denominator", denominator));
  populations.PushBack(Population("numerator", numerator));
  if (denominator > 0)
    group.Set("measureScore",
              Score(static_cast<double>(numerator) / static_cast<double>(denominator)));
  return group;
}

struct Counter {
  int64_t total = 0;
  std::map<std::string, int64_t> by_direction;
  std::map<std::string, int64_t> by_city_pair;
};

Json Stratifier(std::string_view code, const std::map<std::string, int64_t>& counts) {
  Json stratifier = Json::MakeObject();
  stratifier.Set("code", Json::MakeArray()).PushBack(Concept(kMetricSystem, code));
  if (counts.empty())
    return stratifier;
  Json& strata = stratifier.Set("stratum", Json::MakeArray());
  for (const auto& [value, count] : counts) {
    Json stratum = Json::MakeObject();
    stratum.Set("value", TextConcept(value));
    stratum.Set("population", Json::MakeArray()).PushBack(Population("initial-population", count));
    strata.PushBack(std::move(stratum));
  }
  return stratifier;
}

Json CountGroup(std::string_view code, const Counter& counter) {
  Json group = Json::MakeObject();
  group.Set("code", Concept(kMetricSystem, code));
  group.Set("population", Json::MakeArray())
      .PushBack(Population("initial-population", counter.total));
  Json& stratifiers = group.Set("stratifier", Json::MakeArray());
  stratifiers.PushBack(Stratifier("direction", counter.by_direction));
  stratifiers.PushBack(Stratifier("city-pair", counter.by_city_pair));
  return group;
}

}  // namespace

ReferralMetrics::ReferralMetrics(const core::Clock* clock, ReferralConfig config)
    : clock_(clock != nullptr ? clock : &core::SystemClock::Get()), config_(std::move(config)) {}

core::Result<store::OperationResponse> ReferralMetrics::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const std::string member_reference = fhir::ParameterText(request.parameters, "member");
  std::string_view member_type;
  std::string_view member_id;
  if (!internal::SplitReference(member_reference, &member_type, &member_id) ||
      member_type != "Organization") {
    return core::Error::BadRequest("member=Organization/<id> is required", "member");
  }
  const std::string period_text = fhir::ParameterText(request.parameters, "period");
  core::Result<core::DateRange> period = core::ParseFhirDateTime(period_text, 480);
  if (period_text.size() != 7 || !period) {
    return core::Error::BadRequest("period=YYYY-MM is required, not '" + period_text + "'",
                                   "period");
  }
  const ReferralConfig& config = config_;
  Counter sent;
  Counter received;
  int64_t decided = 0, accepted = 0, completed = 0, up_completed = 0, with_down = 0;
  int64_t accepted_timed = 0;
  core::EpochMillis acceptance_total = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> compliance;  // metric -> met, measured
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        std::vector<Json> requests,
        internal::SearchJson(
            tx, searcher_, "ServiceRequest",
            {{"category", std::string(kSnomedSystem) + "|" + std::string(kReferralCategoryCode)}}));
    for (const Json& service_request : requests) {
      std::optional<core::EpochMillis> authored =
          internal::ParseTime(service_request.GetStringMember("authoredOn"));
      if (!authored.has_value()) {
        if (const Json* meta = service_request.Find("meta"))
          authored = internal::ParseTime(meta->GetStringMember("lastUpdated"));
      }
      if (!authored.has_value() || *authored < period->low || *authored >= period->high)
        continue;
      MA_ASSIGN_OR_RETURN(
          std::optional<Member> from,
          ResolveMember(tx, searcher_, internal::ReferenceOf(service_request.Find("requester"))));
      const Json* performers = service_request.Find("performer");
      std::string_view performer;
      if (performers != nullptr && performers->IsArray() && performers->Size() > 0)
        performer = internal::ReferenceOf(&performers->Items().front());
      MA_ASSIGN_OR_RETURN(std::optional<Member> to, ResolveMember(tx, searcher_, performer));
      const bool is_sender = from.has_value() && from->id == member_id;
      const bool is_receiver = to.has_value() && to->id == member_id;
      if (!is_sender && !is_receiver)
        continue;
      std::optional<Direction> direction = DirectionOf(service_request);
      std::string direction_code = direction.has_value() ? std::string(ToCode(*direction)) : "";
      std::string city_pair = (from.has_value() ? from->city : std::string("?")) + "→" +
                              (to.has_value() ? to->city : std::string("?"));
      for (Counter* counter : {is_sender ? &sent : nullptr, is_receiver ? &received : nullptr}) {
        if (counter == nullptr)
          continue;
        ++counter->total;
        if (!direction_code.empty())
          ++counter->by_direction[direction_code];
        if (internal::HasCoding(service_request.Find("category"), kDirectionSystem, "across-city"))
          ++counter->by_direction["across-city"];
        ++counter->by_city_pair[city_pair];
      }
      if (!is_receiver)
        continue;
      const std::string reference =
          "ServiceRequest/" + std::string(service_request.GetStringMember("id"));
      MA_ASSIGN_OR_RETURN(
          std::vector<Json> tasks,
          internal::SearchJson(tx, searcher_, "Task", {{"based-on", reference}, {"_sort", "_id"}}));
      if (tasks.empty())
        continue;
      const Json& task = tasks.front();
      const std::string_view status = task.GetStringMember("status");
      const bool was_accepted = status == "accepted" || status == "in-progress" ||
                                status == "completed" || status == "failed";
      if (was_accepted || status == "rejected")
        ++decided;
      if (was_accepted)
        ++accepted;
      TimePoints points = ReadTimePoints(task);
      if (points.accepted.has_value() && points.authored.has_value()) {
        ++accepted_timed;
        acceptance_total += *points.accepted - *points.authored;
      }
      if (status == "completed") {
        ++completed;
        if (direction == Direction::kUp) {
          ++up_completed;
          MA_ASSIGN_OR_RETURN(
              std::vector<Json> down,
              internal::SearchJson(tx, searcher_, "ServiceRequest", {{"based-on", reference}}));
          if (!down.empty())
            ++with_down;
        }
      }
      if (IsGreenChannel(service_request)) {
        std::optional<Condition> condition = ConditionOf(service_request);
        std::optional<core::EpochMillis> target;
        if (condition.has_value())
          target = config.DeadlineOf(*condition);
        for (const Metric& metric : DeriveMetrics(points, config, target)) {
          if (!metric.target_minutes.has_value())
            continue;
          auto& [met, measured] = compliance[metric.code];
          ++measured;
          if (metric.met)
            ++met;
        }
      }
    }
    return {};
  }));

  Json report = Json::MakeObject();
  report.Set("resourceType", Str("MeasureReport"));
  report.Set("status", Str("complete"));
  report.Set("type", Str("summary"));
  report.Set("measure", Str("https://fhir.medalliance.cn/Measure/referral-metrics"));
  report.Set("date", Str(core::FormatInstant(clock_->Now())));
  report.Set("reporter", internal::Reference(member_reference));
  Json& report_period = report.Set("period", Json::MakeObject());
  report_period.Set("start", Str(core::FormatInstant(period->low)));
  report_period.Set("end", Str(core::FormatInstant(period->high - 1)));
  Json& groups = report.Set("group", Json::MakeArray());
  groups.PushBack(CountGroup("sent", sent));
  groups.PushBack(CountGroup("received", received));
  groups.PushBack(RateGroup("acceptance-rate", accepted, decided));
  Json time_group = Json::MakeObject();
  time_group.Set("code", Concept(kMetricSystem, "acceptance-time"));
  time_group.Set("population", Json::MakeArray())
      .PushBack(Population("initial-population", accepted_timed));
  if (accepted_timed > 0) {
    time_group.Set("measureScore", Score(static_cast<double>(acceptance_total) /
                                             static_cast<double>(accepted_timed) / 60'000.0,
                                         "min"));
  }
  groups.PushBack(std::move(time_group));
  groups.PushBack(RateGroup("completion-rate", completed, received.total));
  groups.PushBack(RateGroup("down-referral-rate", with_down, up_completed));
  int64_t met_total = 0;
  int64_t measured_total = 0;
  Json stratifier = Json::MakeObject();
  stratifier.Set("code", Json::MakeArray()).PushBack(Concept(kMetricSystem, "metric"));
  Json& strata = stratifier.Set("stratum", Json::MakeArray());
  for (const auto& [code, counts] : compliance) {
    met_total += counts.first;
    measured_total += counts.second;
    Json stratum = Json::MakeObject();
    stratum.Set("value", Concept(kMetricSystem, code));
    Json& populations = stratum.Set("population", Json::MakeArray());
    populations.PushBack(Population("denominator", counts.second));
    populations.PushBack(Population("numerator", counts.first));
    if (counts.second > 0)
      stratum.Set("measureScore",
                  Score(static_cast<double>(counts.first) / static_cast<double>(counts.second)));
    strata.PushBack(std::move(stratum));
  }
  Json compliance_group = RateGroup("green-channel-compliance", met_total, measured_total);
  if (strata.Size() > 0)
    compliance_group.Set("stratifier", Json::MakeArray()).PushBack(std::move(stratifier));
  groups.PushBack(std::move(compliance_group));
  store::OperationResponse response;
  response.body = std::move(report);
  return response;
}

}  // namespace medalliance::referral
