#include "recognition/hooks.h"

#include <algorithm>

#include "core/time.h"
#include "search/search.h"

namespace medalliance::recognition {
namespace {

using core::Error;
using fhir::Json;

bool IsMark(const Json& coding) {
  return coding.GetStringMember("system") == kRecognitionSystem &&
         coding.GetStringMember("code") == kMarkCode;
}

bool HasCoding(const Json* concept_json, std::string_view system, std::string_view code);

// The first Task.input whose type is kRecognitionSystem#`code`; null when none.
const Json* InputOf(const Json& task, std::string_view code) {
  const Json* inputs = task.Find("input");
  if (inputs == nullptr || !inputs->IsArray())
    return nullptr;
  for (const Json& input : inputs->Items()) {
    if (HasCoding(input.Find("type"), kRecognitionSystem, code))
      return &input;
  }
  return nullptr;
}

Json TypedInput(std::string_view code, std::string_view value_key, Json value) {
  Json coding = Json::MakeObject();
  coding.Set("system", Json::MakeString(std::string(kRecognitionSystem)));
  coding.Set("code", Json::MakeString(std::string(code)));
  Json type = Json::MakeObject();
  type.Set("coding", Json::MakeArray()).PushBack(std::move(coding));
  Json input = Json::MakeObject();
  input.Set("type", std::move(type));
  input.Set(value_key, std::move(value));
  return input;
}

std::vector<store::StoredResource> All(store::ReadTx& tx, const std::string& type,
                                       search::Params params, core::Status& status) {
  static const search::Searcher searcher;
  std::vector<store::StoredResource> out;
  std::optional<std::string> cursor;
  do {
    search::SearchRequest request;
    request.type = type;
    request.params = params;
    request.params.emplace_back("_count", "1000");
    if (cursor.has_value())
      request.params.emplace_back("_cursor", *cursor);
    core::Result<search::SearchPage> page = searcher.Search(tx, request);
    if (!page) {
      status = page.error();
      return {};
    }
    for (auto& match : page->matches) out.push_back(std::move(match));
    cursor = page->has_more ? page->next_cursor : std::nullopt;
  } while (cursor.has_value());
  return out;
}

}  // namespace

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

void AddMark(Json& resource, const std::string& display) {
  Json* meta = resource.Find("meta");
  if (meta == nullptr || !meta->IsObject())
    meta = &resource.SetAt(2, "meta", Json::MakeObject());
  Json* security = meta->Find("security");
  if (security == nullptr || !security->IsArray())
    security = &meta->Set("security", Json::MakeArray());
  Json mark = Json::MakeObject();
  mark.Set("system", Json::MakeString(std::string(kRecognitionSystem)));
  mark.Set("code", Json::MakeString(std::string(kMarkCode)));
  mark.Set("display", Json::MakeString(display));
  security->PushBack(std::move(mark));
}

namespace {

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
  if (event.origin == kWriteOrigin)
    return {};  // Remark() judged it, with the qualification being written
  Json& resource = *event.resource;
  StripMarks(resource);
  // The rules are read only for a final result naming a catalogue item, and once per
  // transaction (Engine::StartCache).
  MA_ASSIGN_OR_RETURN(bool deserves, engine_.Deserves(tx, resource));
  if (deserves)
    AddMark(resource, options_.mark_display);
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
  const Json* requester = order.Find("requester");
  MA_ASSIGN_OR_RETURN(
      std::string orderer,
      engine_.MemberOf(
          tx, requester != nullptr ? requester->GetStringMember("reference") : std::string_view()));
  if (orderer.empty() && event.caller != nullptr && !event.caller->organization_id.empty())
    orderer = "Organization/" + event.caller->organization_id;
  MA_ASSIGN_OR_RETURN(Answer answer,
                      engine_.Evaluate(tx, patients, {{std::string(kItemSystem), item->code}},
                                       clock.Now(), orderer));
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
    // Stored with the order: the metrics count it as a recognition opportunity.
    Json& resource = *event.resource;
    Json* meta = resource.Find("meta");
    if (meta == nullptr || !meta->IsObject())
      meta = &resource.SetAt(2, "meta", Json::MakeObject());
    Json* tags = meta->Find("tag");
    if (tags == nullptr || !tags->IsArray())
      tags = &meta->Set("tag", Json::MakeArray());
    Json tag = Json::MakeObject();
    tag.Set("system", Json::MakeString(std::string(kRecognitionSystem)));
    tag.Set("code", Json::MakeString(std::string(kAlertTag)));
    tags->PushBack(std::move(tag));
  }
  return {};
}

core::Status DecisionHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr)
    return {};
  MA_RETURN_IF_ERROR(Check(*event.resource));
  if (!HasCoding(event.resource->Find("code"), kRecognitionSystem, kDecisionCode))
    return {};
  Json& task = *event.resource;
  // What the server found is recorded by the server: drop what the writer sent.
  if (Json* inputs = task.Find("input"); inputs != nullptr && inputs->IsArray()) {
    auto& list = inputs->Items();
    list.erase(std::remove_if(
                   list.begin(), list.end(),
                   [](const Json& input) {
                     return HasCoding(input.Find("type"), kRecognitionSystem, kReusableInput) ||
                            HasCoding(input.Find("type"), kRecognitionSystem, kRefusedIssuerInput);
                   }),
               list.end());
  }
  const Json* item_input = InputOf(task, kItemInput);
  const Json* coding = item_input != nullptr ? item_input->Find("valueCoding") : nullptr;
  const Json* for_patient = task.Find("for");
  std::string_view patient =
      for_patient != nullptr ? for_patient->GetStringMember("reference") : "";
  if (coding == nullptr || patient.rfind("Patient/", 0) != 0)
    return {};
  MA_ASSIGN_OR_RETURN(auto catalogue, engine_.GetCatalogue(tx));
  const Item* item =
      catalogue->Find(coding->GetStringMember("system"), coding->GetStringMember("code"));
  if (item == nullptr)
    return {};
  const core::Clock& clock = options_.clock != nullptr ? *options_.clock : core::SystemClock::Get();
  core::EpochMillis at = clock.Now();
  if (auto authored = core::ParseFhirDateTime(task.GetStringMember("authoredOn"), 480))
    at = std::min(at, authored->low);
  const Json* requester = task.Find("requester");
  MA_ASSIGN_OR_RETURN(
      std::string member,
      engine_.MemberOf(
          tx, requester != nullptr ? requester->GetStringMember("reference") : std::string_view()));
  MA_ASSIGN_OR_RETURN(auto patients, engine_.LinkedPatients(tx, patient));
  MA_ASSIGN_OR_RETURN(
      Answer answer,
      engine_.Evaluate(tx, patients, {{std::string(kItemSystem), item->code}}, at, member));
  const ItemAnswer& found = answer.items.front();
  Json* inputs = task.Find("input");
  if (inputs == nullptr || !inputs->IsArray())
    inputs = &task.Set("input", Json::MakeArray());
  inputs->PushBack(TypedInput(kReusableInput, "valueInteger",
                              Json::MakeNumber(static_cast<int64_t>(found.reusable.size()))));
  if (HasCoding(task.Find("businessStatus"), kRecognitionSystem, "repeated")) {
    for (const Prior& prior : found.reusable) {
      if (prior.issuer.empty())
        continue;
      Json reference = Json::MakeObject();
      reference.Set("reference", Json::MakeString(prior.issuer));
      inputs->PushBack(TypedInput(kRefusedIssuerInput, "valueReference", std::move(reference)));
    }
  }
  return {};
}

core::Status DecisionHook::Check(const Json& task) {
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

core::Result<int> Remark(store::WriteTx& tx, Engine& engine, const std::string& member,
                         OrganizationCache& cache, const HookOptions& options,
                         const store::WriteEvent& event, core::EpochMillis now) {
  if (event.writer == nullptr)
    return Error::Internal("recognition: no ResourceWriter is wired for re-marking");
  core::Status status;
  std::string issuers = member;
  for (const store::StoredResource& department :
       All(tx, "Organization", {{"partof", member}}, status)) {
    issuers += ",Organization/" + department.id;
  }
  MA_RETURN_IF_ERROR(status);
  // Collected first: the new versions must not move under the search's cursor.
  std::vector<store::StoredResource> results;
  for (const char* type : {"Observation", "DiagnosticReport", "ImagingStudy"}) {
    for (store::StoredResource& stored : All(tx, type, {{"performer", issuers}}, status))
      results.push_back(std::move(stored));
    MA_RETURN_IF_ERROR(status);
  }
  int changed = 0;
  for (const store::StoredResource& stored : results) {
    MA_ASSIGN_OR_RETURN(Json resource, fhir::ParseJson(stored.json));
    MA_ASSIGN_OR_RETURN(bool deserves, engine.Deserves(tx, resource, &cache));
    if (deserves == HasMark(resource))
      continue;
    StripMarks(resource);
    if (deserves)
      AddMark(resource, options.mark_display);
    // A new version through the whole write pipeline (indexed, hooked, audited as made by
    // this module for the caller of the qualification write); `stored.version` is the one
    // judged, so a concurrent change is a conflict rather than overwritten.
    store::WriteScope scope = event.Nested(kWriteOrigin);
    scope.now = std::max(now, stored.last_updated);
    MA_ASSIGN_OR_RETURN(store::StoredResource written,
                        event.writer->Update(tx, resource, scope, stored.version));
    (void)written;
    ++changed;
  }
  return changed;
}

core::Status QualificationHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  // The qualifications before and after this write, per member it names.
  std::vector<Qualification> before;
  std::vector<Qualification> after;
  std::string old_member;
  std::string new_member;
  auto subject_of = [](const Json& basic) {
    const Json* subject = basic.Find("subject");
    std::string_view text = subject != nullptr ? subject->GetStringMember("reference") : "";
    return text.rfind("Organization/", 0) == 0 ? std::string(text) : std::string();
  };
  if (event.previous != nullptr && !event.previous->deleted) {
    MA_ASSIGN_OR_RETURN(Json previous, fhir::ParseJson(event.previous->json));
    before = Engine::ParseQualifications(previous, event.id);
    old_member = subject_of(previous);
  }
  if (event.kind != store::WriteKind::kDelete && event.resource != nullptr) {
    after = Engine::ParseQualifications(*event.resource, event.id);
    new_member = subject_of(*event.resource);
  }
  if (before.empty() && after.empty())
    return {};
  const core::Clock& clock = options_.clock != nullptr ? *options_.clock : core::SystemClock::Get();
  std::vector<std::string> members;
  for (const std::string& member : {old_member, new_member}) {
    if (!member.empty() && std::find(members.begin(), members.end(), member) == members.end())
      members.push_back(member);
  }
  for (const std::string& member : members) {
    // The member's rules as they will be once this write is stored (it is not yet).
    OrganizationCache cache;
    MA_ASSIGN_OR_RETURN(const OrganizationRules* loaded, engine_.Rules(tx, member, &cache));
    OrganizationRules rules = *loaded;
    auto& list = rules.qualifications;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const Qualification& q) { return q.source == event.id; }),
               list.end());
    if (member == new_member)
      list.insert(list.end(), after.begin(), after.end());
    cache.local[member] = std::move(rules);
    MA_ASSIGN_OR_RETURN(int changed,
                        Remark(tx, engine_, member, cache, options_, event, clock.Now()));
    if (changed > 0 && event.warnings != nullptr) {
      event.warnings->push_back({core::Severity::kInformation, "informational",
                                 "检查检验结果互认：已按新的室间质评资质重新标记 " +
                                     std::to_string(changed) + " 份报告 / re-marked " +
                                     std::to_string(changed) + " published result(s) of " + member +
                                     " for the changed qualification",
                                 "Basic"});
    }
  }
  return {};
}

}  // namespace medalliance::recognition
