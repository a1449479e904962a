#include "recognition/hooks.h"

#include <algorithm>

#include "core/time.h"

namespace medalliance::recognition {
namespace {

using core::Error;
using fhir::Json;

bool IsMark(const Json& coding) {
  return coding.GetStringMember("system") == kRecognitionSystem &&
         coding.GetStringMember("code") == kMarkCode;
}

// Removes every recognition mark from meta.security.
void StripMarks(Json& resource) {
  Json* meta = resource.Find("meta");
  if (meta == nullptr)
    return;
  Json* security = meta->Find("security");
  if (security == nullptr || !security->IsArray())
    return;
  auto& items = security->Items();
  items.erase(std::remove_if(items.begin(), items.end(), IsMark), items.end());
  if (items.empty())
    meta->Erase("security");
}

bool HasCoding(const Json* concept_json, std::string_view system, std::string_view code) {
  if (concept_json == nullptr)
    return false;
  const Json* codings = concept_json->Find("coding");
  if (codings == nullptr || !codings->IsArray())
    return false;
  return std::any_of(codings->Items().begin(), codings->Items().end(), [&](const Json& coding) {
    return coding.GetStringMember("system") == system &&
           (code.empty() || coding.GetStringMember("code") == code);
  });
}

}  // namespace

bool HasMark(const Json& resource) {
  const Json* meta = resource.Find("meta");
  const Json* security = meta != nullptr ? meta->Find("security") : nullptr;
  if (security == nullptr || !security->IsArray())
    return false;
  return std::any_of(security->Items().begin(), security->Items().end(), IsMark);
}

core::Status MarkHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr)
    return {};
  Json& resource = *event.resource;
  StripMarks(resource);
  MA_ASSIGN_OR_RETURN(auto catalogue, engine_.GetCatalogue(tx));
  const Item* item = Engine::ItemOf(*catalogue, resource);
  if (item == nullptr)
    return {};
  Prior prior;
  std::optional<core::EpochMillis> issued = Engine::IssuedAt(resource, &prior.issued_text);
  if (!issued.has_value())
    return {};
  prior.issued = *issued;
  MA_ASSIGN_OR_RETURN(auto findings, engine_.IntrinsicFindings(tx, resource, *item, prior));
  if (!findings.empty())
    return {};
  Json* meta = resource.Find("meta");
  if (meta == nullptr || !meta->IsObject())
    meta = &resource.SetAt(2, "meta", Json::MakeObject());
  Json* security = meta->Find("security");
  if (security == nullptr || !security->IsArray())
    security = &meta->Set("security", Json::MakeArray());
  Json mark = Json::MakeObject();
  mark.Set("system", Json::MakeString(std::string(kRecognitionSystem)));
  mark.Set("code", Json::MakeString(std::string(kMarkCode)));
  mark.Set("display", Json::MakeString(options_.mark_display));
  security->PushBack(std::move(mark));
  return {};
}

core::Status OrderAlertHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind != store::WriteKind::kCreate || event.resource == nullptr ||
      event.warnings == nullptr) {
    return {};
  }
  const Json& order = *event.resource;
  const Json* subject = order.Find("subject");
  std::string_view patient = subject != nullptr ? subject->GetStringMember("reference") : "";
  const Json* code = order.Find("code");
  if (patient.rfind("Patient/", 0) != 0 || code == nullptr)
    return {};
  MA_ASSIGN_OR_RETURN(auto catalogue, engine_.GetCatalogue(tx));
  const Item* item = catalogue->FindConcept(*code);
  if (item == nullptr)
    return {};
  const core::Clock& clock = options_.clock != nullptr ? *options_.clock : core::SystemClock::Get();
  MA_ASSIGN_OR_RETURN(auto patients, engine_.LinkedPatients(tx, patient));
  MA_ASSIGN_OR_RETURN(
      Answer answer,
      engine_.Evaluate(tx, patients, {{std::string(kItemSystem), item->code}}, clock.Now()));
  for (const ItemAnswer& item_answer : answer.items) {
    if (item_answer.reusable.empty())
      continue;
    const Prior& newest = item_answer.reusable.front();
    std::string last_day =
        newest.last_valid_day.has_value() ? FormatDay(*newest.last_valid_day) : std::string();
    event.warnings->push_back(
        {core::Severity::kWarning, "informational",
         "检查检验结果互认：" + item->display + " 已有可互认结果 " + newest.reference + "（" +
             newest.issued_text + "，" + newest.issuer + "，有效至 " + last_day +
             "），请考虑互认 / a reusable result exists for " + item->display_en + ": " +
             newest.reference + " (issued " + newest.issued_text + " by " + newest.issuer +
             ", valid through " + last_day + "); " + std::to_string(item_answer.reusable.size()) +
             " reusable in all, see $recognize",
         "ServiceRequest.code"});
  }
  return {};
}

core::Status DecisionHook::BeforeWrite(store::WriteTx& /*tx*/, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr)
    return {};
  const Json& task = *event.resource;
  if (!HasCoding(task.Find("code"), kRecognitionSystem, kDecisionCode))
    return {};
  const Json* status = task.Find("businessStatus");
  bool reused = HasCoding(status, kRecognitionSystem, "reused");
  bool repeated = HasCoding(status, kRecognitionSystem, "repeated");
  if (reused == repeated) {
    return Error::Unprocessable(
        "互认决定须在 businessStatus 注明 reused（互认）或 repeated（重新检查）/ a recognition "
        "decision needs businessStatus " +
            std::string(kRecognitionSystem) + "#reused or #repeated",
        "Task.businessStatus");
  }
  if (reused) {
    const Json* focus = task.Find("focus");
    std::string_view reference = focus != nullptr ? focus->GetStringMember("reference") : "";
    if (reference.rfind("Observation/", 0) != 0 && reference.rfind("DiagnosticReport/", 0) != 0 &&
        reference.rfind("ImagingStudy/", 0) != 0) {
      return Error::Unprocessable(
          "互认决定须在 focus 引用被互认的结果 / a reuse decision needs focus: the reused "
          "Observation, DiagnosticReport or ImagingStudy",
          "Task.focus");
    }
    return {};
  }
  const Json* reasons = task.Find("reasonCode");
  const Json* codings = reasons != nullptr ? reasons->Find("coding") : nullptr;
  if (codings != nullptr && codings->IsArray()) {
    for (const Json& coding : codings->Items()) {
      if (coding.GetStringMember("system") != kRepeatReasonSystem)
        continue;
      std::string_view code = coding.GetStringMember("code");
      if (std::find(std::begin(kRepeatReasons), std::end(kRepeatReasons), code) ==
          std::end(kRepeatReasons)) {
        break;
      }
      if (code == "other" && reasons->GetStringMember("text").empty()) {
        return Error::Unprocessable(
            "重新检查理由为“其他”时须在 reasonCode.text 写明理由 / repeating for reason "
            "'other' needs the reason written in reasonCode.text",
            "Task.reasonCode.text");
      }
      return {};
    }
  }
  return Error::Unprocessable(
      "重新检查须注明允许的理由（病情变化、变化快的项目、重大措施前、急诊抢救、鉴定、其他）/ "
      "repeating needs an allowed reason in Task.reasonCode (" +
          std::string(kRepeatReasonSystem) +
          ": condition-changed, fast-changing, critical-before-major-measure, emergency, "
          "appraisal, other)",
      "Task.reasonCode");
}

}  // namespace medalliance::recognition
