#include "referral/time_points.h"

#include <cstdio>
#include <cstdlib>

#include "referral/codes.h"
#include "referral/internal/json_util.h"

namespace medalliance::referral {
namespace {

using fhir::Json;

std::optional<core::EpochMillis> PointOf(const Json& task, std::string_view name) {
  std::vector<const Json*> found =
      internal::FindExtensions(task, std::string(kTimePointPrefix) + std::string(name));
  if (found.empty())
    return std::nullopt;
  return internal::ParseTime(found.front()->GetStringMember("valueDateTime"));
}

Json Duration(core::EpochMillis millis) {
  Json duration = Json::MakeObject();
  duration.Set("value", Json::MakeNumber(FormatMinutes(millis)));
  duration.Set("unit", internal::Str("min"));
  duration.Set("system", internal::Str("http://unitsofmeasure.org"));
  duration.Set("code", internal::Str("min"));
  return duration;
}

}  // namespace

std::string FormatMinutes(core::EpochMillis millis) {
  const bool negative = millis < 0;
  const int64_t tenths = (std::llabs(millis) + 3'000) / 6'000;  // rounded to 0.1 minute
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%s%lld.%lld", negative && tenths > 0 ? "-" : "",
                static_cast<long long>(tenths / 10), static_cast<long long>(tenths % 10));
  return buffer;
}

TimePoints ReadTimePoints(const Json& task) {
  TimePoints points;
  points.symptom_onset = PointOf(task, "symptom-onset");
  points.first_medical_contact = PointOf(task, "first-medical-contact");
  points.departure = PointOf(task, "departure");
  points.door = PointOf(task, "door");
  points.imaging = PointOf(task, "imaging");
  points.needle = PointOf(task, "needle");
  points.balloon = PointOf(task, "balloon");
  points.authored = internal::ParseTime(task.GetStringMember("authoredOn"));
  for (const Json* transition : internal::FindExtensions(task, kTransitionExtension)) {
    const Json* to = internal::FindSubExtension(*transition, "to");
    const Json* at = internal::FindSubExtension(*transition, "at");
    if (to != nullptr && at != nullptr && to->GetStringMember("valueCode") == "accepted") {
      points.accepted = internal::ParseTime(at->GetStringMember("valueDateTime"));
      break;
    }
  }
  return points;
}

std::vector<Metric> DeriveMetrics(const TimePoints& points, const ReferralConfig& config,
                                  std::optional<core::EpochMillis> acceptance_target) {
  std::vector<Metric> out;
  auto add = [&out](std::string code, const std::optional<core::EpochMillis>& from,
                    const std::optional<core::EpochMillis>& to, std::optional<int64_t> target) {
    if (!from.has_value() || !to.has_value())
      return;
    Metric metric;
    metric.code = std::move(code);
    metric.millis = *to - *from;
    metric.target_minutes = target;
    metric.met = !target.has_value() || metric.millis <= *target * 60'000;
    out.push_back(std::move(metric));
  };
  add("door-to-needle", points.door, points.needle, config.door_to_needle_minutes);
  add("door-to-balloon", points.door, points.balloon, config.door_to_balloon_minutes);
  add("first-contact-to-balloon", points.first_medical_contact, points.balloon,
      config.first_contact_to_balloon_minutes);
  add("onset-to-door", points.symptom_onset, points.door, std::nullopt);
  std::optional<int64_t> acceptance_minutes;
  if (acceptance_target.has_value())
    acceptance_minutes = *acceptance_target / 60'000;
  add("acceptance-delay", points.authored, points.accepted, acceptance_minutes);
  return out;
}

void WriteMetrics(Json& task, const std::vector<Metric>& metrics) {
  internal::EraseExtensions(task, kMetricExtension);
  for (const Metric& metric : metrics) {
    Json extension = Json::MakeObject();
    extension.Set("url", internal::Str(kMetricExtension));
    Json& parts = extension.Set("extension", Json::MakeArray());
    parts.PushBack(internal::SubExtension("metric", "valueCode", internal::Str(metric.code)));
    parts.PushBack(internal::SubExtension("value", "valueDuration", Duration(metric.millis)));
    if (metric.target_minutes.has_value()) {
      parts.PushBack(internal::SubExtension("target", "valueDuration",
                                            Duration(*metric.target_minutes * 60'000)));
      parts.PushBack(internal::SubExtension("met", "valueBoolean", Json::MakeBool(metric.met)));
    }
    internal::AddExtension(task, std::move(extension));
  }
}

}  // namespace medalliance::referral
