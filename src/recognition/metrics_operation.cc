#include "recognition/metrics_operation.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "core/time.h"
#include "fhir/json/parameters.h"
#include "recognition/hooks.h"
#include "recognition/internal/operation_definition.h"

namespace medalliance::recognition {
namespace {

using fhir::Json;

Json String(std::string_view text) {
  return Json::MakeString(std::string(text));
}

Json Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  Json coding = Json::MakeObject();
  coding.Set("system", String(system));
  coding.Set("code", String(code));
  if (!display.empty())
    coding.Set("display", String(display));
  return coding;
}

Json Concept(Json coding) {
  Json concept_json = Json::MakeObject();
  concept_json.Set("coding", Json::MakeArray()).PushBack(std::move(coding));
  return concept_json;
}

Json Population(std::string_view code, int64_t count) {
  Json population = Json::MakeObject();
  population.Set("code", Concept(Coding(kMetricSystem, code)));
  population.Set("count", Json::MakeNumber(count));
  return population;
}

bool HasCoding(const Json* concept_json, std::string_view system, std::string_view code) {
  const Json* codings = concept_json != nullptr ? concept_json->Find("coding") : nullptr;
  if (codings == nullptr || !codings->IsArray())
    return false;
  return std::any_of(codings->Items().begin(), codings->Items().end(), [&](const Json& coding) {
    return coding.GetStringMember("system") == system && coding.GetStringMember("code") == code;
  });
}

// The code of the first coding of `system` in a CodeableConcept.
std::string CodeOf(const Json* concept_json, std::string_view system) {
  const Json* codings = concept_json != nullptr ? concept_json->Find("coding") : nullptr;
  if (codings == nullptr || !codings->IsArray())
    return {};
  for (const Json& coding : codings->Items()) {
    if (coding.GetStringMember("system") == system)
      return std::string(coding.GetStringMember("code"));
  }
  return {};
}

struct Counts {
  int64_t opportunities = 0;
  int64_t decisions = 0;
  int64_t reuses = 0;
  int64_t repeats = 0;
  double saved = 0;
  std::map<std::string, int64_t> by_reason;                               // repeat reason
  std::map<std::pair<std::string, std::string>, int64_t> refused_issuer;  // issuer, reason
};

Json Group(Json code, const Counts& counts) {
  Json group = Json::MakeObject();
  group.Set("code", std::move(code));
  Json& populations = group.Set("population", Json::MakeArray());
  populations.PushBack(Population("opportunity", counts.opportunities));
  populations.PushBack(Population("decision", counts.decisions));
  populations.PushBack(Population("reuse", counts.reuses));
  populations.PushBack(Population("repeat", counts.repeats));
  Json score = Json::MakeObject();
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", counts.saved);
  score.Set("value", Json::MakeNumber(std::string(text)));
  score.Set("unit", String("元"));
  score.Set("system", String("urn:iso:std:iso:4217"));
  score.Set("code", String("CNY"));
  group.Set("measureScore", std::move(score));
  Json& stratifiers = group.Set("stratifier", Json::MakeArray());
  Json reasons = Json::MakeObject();
  reasons.Set("code", Json::MakeArray()).PushBack(Concept(Coding(kMetricSystem, "repeat-reason")));
  if (!counts.by_reason.empty()) {
    Json& strata = reasons.Set("stratum", Json::MakeArray());
    for (const auto& [reason, count] : counts.by_reason) {
      Json stratum = Json::MakeObject();
      stratum.Set("value", Concept(Coding(kRepeatReasonSystem, reason)));
      stratum.Set("population", Json::MakeArray()).PushBack(Population("repeat", count));
      strata.PushBack(std::move(stratum));
    }
  }
  stratifiers.PushBack(std::move(reasons));
  Json issuers = Json::MakeObject();
  issuers.Set("code", Json::MakeArray()).PushBack(Concept(Coding(kMetricSystem, "refused-issuer")));
  if (!counts.refused_issuer.empty()) {
    std::vector<std::pair<std::pair<std::string, std::string>, int64_t>> sorted(
        counts.refused_issuer.begin(), counts.refused_issuer.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    Json& strata = issuers.Set("stratum", Json::MakeArray());
    for (const auto& [key, count] : sorted) {
      Json stratum = Json::MakeObject();
      Json& components = stratum.Set("component", Json::MakeArray());
      Json issuer = Json::MakeObject();
      issuer.Set("code", Concept(Coding(kMetricSystem, "issuer")));
      Json issuer_value = Json::MakeObject();
      issuer_value.Set("text", String(key.first));
      issuer.Set("value", std::move(issuer_value));
      components.PushBack(std::move(issuer));
      Json reason = Json::MakeObject();
      reason.Set("code", Concept(Coding(kMetricSystem, "reason")));
      reason.Set("value", Concept(Coding(kRepeatReasonSystem, key.second)));
      components.PushBack(std::move(reason));
      stratum.Set("population", Json::MakeArray()).PushBack(Population("refused", count));
      strata.PushBack(std::move(stratum));
    }
  }
  stratifiers.PushBack(std::move(issuers));
  return group;
}

}  // namespace

core::Result<store::OperationResponse> RecognitionMetrics::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const std::string member = fhir::ParameterText(request.parameters, "member");
  if (member.rfind("Organization/", 0) != 0 || member.size() <= 13) {
    return core::Error::BadRequest(
        "$recognition-metrics 需要 member=Organization/<id> / member=Organization/<id> is "
        "required",
        "member");
  }
  const std::string period_text = fhir::ParameterText(request.parameters, "period");
  core::Result<core::DateRange> period = core::ParseFhirDateTime(period_text, 480);
  if (period_text.size() != 7 || !period) {
    return core::Error::BadRequest(
        "$recognition-metrics 需要 period=YYYY-MM / period=YYYY-MM "
        "is required, not '" +
            period_text + "'",
        "period");
  }
  const std::string only_item = fhir::ParameterText(request.parameters, "item");
  std::map<std::string, Counts> by_item;  // catalogue code -> counts
  Counts total;
  std::shared_ptr<const Catalogue> catalogue;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(catalogue, engine_.GetCatalogue(tx));
    const Item* wanted = nullptr;
    if (!only_item.empty()) {
      wanted = catalogue->Find(kItemSystem, only_item);
      if (wanted == nullptr)
        wanted = catalogue->Find(kLoincSystem, only_item);
      if (wanted == nullptr) {
        return core::Error::BadRequest(
            "$recognition-metrics: item 不在互认项目目录中 / item is not in the recognition "
            "catalogue: " +
                only_item,
            "item");
      }
    }
    OrganizationCache organizations;
    auto ours = [&](const Json& resource) -> core::Result<bool> {
      const Json* requester = resource.Find("requester");
      MA_ASSIGN_OR_RETURN(
          std::string organization,
          engine_.MemberOf(tx, requester != nullptr ? requester->GetStringMember("reference")
                                                    : std::string_view()));
      if (organization.empty())
        return false;
      return engine_.WithinMember(tx, organization, member, &organizations);
    };
    auto in_month = [&](const Json& resource) {
      auto authored = core::ParseFhirDateTime(resource.GetStringMember("authoredOn"), 480);
      return authored && authored->low >= period->low && authored->low < period->high;
    };
    auto search = [&](const std::string& type, const std::string& date_param,
                      search::Params params) -> core::Result<std::vector<Json>> {
      params.emplace_back(date_param, "ge" + core::FormatInstant(period->low));
      params.emplace_back(date_param, "lt" + core::FormatInstant(period->high));
      std::vector<Json> out;
      std::optional<std::string> cursor;
      do {
        search::SearchRequest search_request;
        search_request.type = type;
        search_request.params = params;
        search_request.params.emplace_back("_count", "1000");
        if (cursor.has_value())
          search_request.params.emplace_back("_cursor", *cursor);
        MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher_.Search(tx, search_request));
        for (const store::StoredResource& stored : page.matches) {
          MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored.json));
          out.push_back(std::move(json));
        }
        cursor = page.has_more ? page.next_cursor : std::nullopt;
      } while (cursor.has_value());
      return out;
    };
    auto count = [&](const Item* item, const std::function<void(Counts&)>& add) {
      add(total);
      if (item != nullptr)
        add(by_item[item->code]);
    };

    MA_ASSIGN_OR_RETURN(
        std::vector<Json> decisions,
        search("Task", "authored-on",
               {{"code", std::string(kRecognitionSystem) + "|" + std::string(kDecisionCode)}}));
    std::set<std::string> decided_orders;
    for (const Json& task : decisions) {
      if (!in_month(task))
        continue;
      MA_ASSIGN_OR_RETURN(bool mine, ours(task));
      if (!mine)
        continue;
      const Item* item = nullptr;
      int64_t reusable = 0;
      std::vector<std::string> refused_issuers;
      if (const Json* inputs = task.Find("input"); inputs != nullptr && inputs->IsArray()) {
        for (const Json& input : inputs->Items()) {
          const Json* type = input.Find("type");
          if (HasCoding(type, kRecognitionSystem, kItemInput)) {
            if (const Json* coding = input.Find("valueCoding"); coding != nullptr) {
              item = catalogue->Find(coding->GetStringMember("system"),
                                     coding->GetStringMember("code"));
            }
          } else if (HasCoding(type, kRecognitionSystem, kReusableInput)) {
            if (const Json* value = input.Find("valueInteger"); value != nullptr)
              value->GetInt64(&reusable);
          } else if (HasCoding(type, kRecognitionSystem, kRefusedIssuerInput)) {
            if (const Json* value = input.Find("valueReference"); value != nullptr)
              refused_issuers.emplace_back(value->GetStringMember("reference"));
          }
        }
      }
      if (wanted != nullptr && item != wanted)
        continue;
      if (const Json* based_on = task.Find("basedOn"); based_on != nullptr && based_on->IsArray()) {
        for (const Json& reference : based_on->Items())
          decided_orders.emplace(reference.GetStringMember("reference"));
      }
      const Json* status = task.Find("businessStatus");
      const bool reused = HasCoding(status, kRecognitionSystem, "reused");
      const std::string reason = CodeOf(task.Find("reasonCode"), kRepeatReasonSystem);
      const double price = item != nullptr ? std::strtod(item->price_yuan.c_str(), nullptr) : 0;
      count(item, [&](Counts& counts) {
        ++counts.decisions;
        if (reusable > 0 || reused)
          ++counts.opportunities;
        if (reused) {
          ++counts.reuses;
          counts.saved += price;
          return;
        }
        ++counts.repeats;
        ++counts.by_reason[reason];
        for (const std::string& issuer : refused_issuers) ++counts.refused_issuer[{issuer, reason}];
      });
    }

    MA_ASSIGN_OR_RETURN(
        std::vector<Json> orders,
        search("ServiceRequest", "authored",
               {{"_tag", std::string(kRecognitionSystem) + "|" + std::string(kAlertTag)}}));
    for (const Json& order : orders) {
      if (!in_month(order))
        continue;
      std::string reference = "ServiceRequest/" + std::string(order.GetStringMember("id"));
      if (decided_orders.count(reference) > 0)
        continue;  // counted with its decision
      const Json* code = order.Find("code");
      const Item* item = code != nullptr ? catalogue->FindConcept(*code) : nullptr;
      if (item == nullptr || (wanted != nullptr && item != wanted))
        continue;
      MA_ASSIGN_OR_RETURN(bool mine, ours(order));
      if (!mine)
        continue;
      count(item, [](Counts& counts) { ++counts.opportunities; });
    }
    return {};
  }));

  Json report = Json::MakeObject();
  report.Set("resourceType", String("MeasureReport"));
  report.Set("status", String("complete"));
  report.Set("type", String("summary"));
  report.Set("measure", String("https://fhir.medalliance.cn/Measure/recognition-metrics"));
  report.Set("date", String(core::FormatInstant(clock_->Now())));
  Json reporter = Json::MakeObject();
  reporter.Set("reference", String(member));
  report.Set("reporter", std::move(reporter));
  Json& report_period = report.Set("period", Json::MakeObject());
  report_period.Set("start", String(core::FormatInstant(period->low)));
  report_period.Set("end", String(core::FormatInstant(period->high - 1)));
  Json& groups = report.Set("group", Json::MakeArray());
  groups.PushBack(Group(Concept(Coding(kMetricSystem, "total")), total));
  for (const auto& [code, counts] : by_item) {
    const Item* item = catalogue->Find(kItemSystem, code);
    groups.PushBack(
        Group(Concept(Coding(kItemSystem, code, item != nullptr ? item->display : "")), counts));
  }
  store::OperationResponse response;
  response.body = std::move(report);
  return response;
}

Json RecognitionMetricsDefinition() {
  return internal::OperationDefinition(
      {.id = "recognition-metrics",
       .url = kMetricsDefinition,
       .name = "RecognitionMetrics",
       .title = "检查检验结果互认统计 / Recognition metrics",
       .description = "One member's month of mutual recognition as a MeasureReport: "
                      "opportunities, reuses, repeats by reason, yuan saved and the issuers "
                      "whose reusable results were not reused, per item. See "
                      "doc/recognition.md.",
       .parameters = {
           {"member", "in", 1, "1", "Reference", "The member Organization (departments included)"},
           {"period", "in", 1, "1", "string", "The month, YYYY-MM (Asia/Shanghai)"},
           {"item", "in", 0, "1", "string", "Only this catalogue (or LOINC) code"},
           {"return", "out", 1, "1", "MeasureReport",
            "Type summary; groups total and one per item"},
       }});
}

}  // namespace medalliance::recognition
