#include "recognition/recognize_operation.h"

#include "core/time.h"
#include "recognition/metrics_operation.h"

namespace medalliance::recognition {
namespace {

using core::Error;
using fhir::Json;

Json String(std::string_view text) {
  return Json::MakeString(std::string(text));
}

// Members are appended directly: the keys are distinct, and reserving saves the reallocations
// that dominated building the answer (~100 results × ~8 parts).
Json Part(std::string_view name, std::string_view value_key, Json value) {
  Json part = Json::MakeObject();
  Json::Object& members = part.Members();
  members.reserve(2);
  members.emplace_back("name", String(name));
  members.emplace_back(std::string(value_key), std::move(value));
  return part;
}

Json ReferenceJson(std::string_view reference) {
  Json out = Json::MakeObject();
  out.Members().emplace_back("reference", String(reference));
  return out;
}

Json CodingJson(std::string_view system, std::string_view code, std::string_view display) {
  Json coding = Json::MakeObject();
  coding.Members().reserve(3);
  if (!system.empty())
    coding.Set("system", String(system));
  coding.Set("code", String(code));
  if (!display.empty())
    coding.Set("display", String(display));
  return coding;
}

std::string Where(std::string_view name) {
  return "Parameters.parameter.where(name='" + std::string(name) + "')";
}

// The text of a string-like value of a parameter (valueString, valueCode, valueUri ...).
std::string_view TextValue(const Json& parameter) {
  for (std::string_view key :
       {"valueString", "valueCode", "valueUri", "valueDateTime", "valueInstant", "valueDate"}) {
    std::string_view text = parameter.GetStringMember(key);
    if (!text.empty())
      return text;
  }
  return {};
}

std::string ReferenceOf(const Json& parameter) {
  if (const Json* reference = parameter.Find("valueReference"); reference != nullptr)
    return std::string(reference->GetStringMember("reference"));
  return std::string(TextValue(parameter));
}

std::pair<std::string, std::string> SplitBar(std::string_view text) {
  size_t bar = text.find('|');
  if (bar == std::string_view::npos)
    return {std::string(), std::string(text)};
  return {std::string(text.substr(0, bar)), std::string(text.substr(bar + 1))};
}

Json PriorPart(std::string_view name, const Prior& prior) {
  Json part = Json::MakeObject();
  part.Set("name", String(name));
  Json parts = Json::MakeArray();
  parts.Items().reserve(6 + 3 * prior.findings.size());
  if (!prior.reference.empty())
    parts.PushBack(Part("reference", "valueReference", ReferenceJson(prior.reference)));
  if (!prior.patient.empty())
    parts.PushBack(Part("patient", "valueReference", ReferenceJson(prior.patient)));
  if (!prior.issued_text.empty())
    parts.PushBack(Part("issued", "valueDateTime", String(prior.issued_text)));
  if (!prior.issuer.empty())
    parts.PushBack(Part("issuer", "valueReference", ReferenceJson(prior.issuer)));
  if (prior.last_valid_day.has_value())
    parts.PushBack(Part("last-valid-day", "valueDate", String(FormatDay(*prior.last_valid_day))));
  for (const Finding& finding : prior.findings) {
    parts.PushBack(
        Part("reason", "valueCoding",
             CodingJson(kReasonSystem, ReasonCode(finding.reason), ReasonDisplay(finding.reason))));
    parts.PushBack(Part("explanation", "valueString", String(finding.explanation)));
    if (finding.reason == Reason::kExpired)
      parts.PushBack(Part("expired-days", "valueInteger", Json::MakeNumber(finding.days)));
  }
  part.Set("part", std::move(parts));
  return part;
}

}  // namespace

core::Result<store::OperationResponse> RecognizeOperation::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const Json* list = request.parameters.Find("parameter");
  std::string patient;
  std::string identifier_system;
  std::string identifier_value;
  std::string orderer;
  std::vector<RequestedItem> items;
  core::EpochMillis at = (clock_ != nullptr ? *clock_ : core::SystemClock::Get()).Now();
  std::string at_text;
  if (list != nullptr && list->IsArray()) {
    for (const Json& parameter : list->Items()) {
      std::string_view name = parameter.GetStringMember("name");
      if (name == "patient") {
        patient = ReferenceOf(parameter);
      } else if (name == "identifier") {
        if (const Json* identifier = parameter.Find("valueIdentifier"); identifier != nullptr) {
          identifier_system = std::string(identifier->GetStringMember("system"));
          identifier_value = std::string(identifier->GetStringMember("value"));
        } else {
          std::tie(identifier_system, identifier_value) = SplitBar(TextValue(parameter));
        }
      } else if (name == "orderer") {
        orderer = ReferenceOf(parameter);
      } else if (name == "item") {
        RequestedItem item;
        if (const Json* coding = parameter.Find("valueCoding"); coding != nullptr) {
          item.system = std::string(coding->GetStringMember("system"));
          item.code = std::string(coding->GetStringMember("code"));
        } else {
          std::tie(item.system, item.code) = SplitBar(TextValue(parameter));
        }
        if (item.code.empty()) {
          return Error::BadRequest("$recognize: item 需要 code / item needs a code", Where("item"));
        }
        items.push_back(std::move(item));
      } else if (name == "at") {
        at_text = std::string(TextValue(parameter));
        core::Result<core::DateRange> range = core::ParseFhirDateTime(at_text, 480);
        if (!range) {
          return Error::BadRequest(
              "$recognize: at 不是有效的 dateTime / at is not a dateTime: " + at_text, Where("at"));
        }
        at = range->low;
      }
    }
  }
  if (patient.empty() == identifier_value.empty()) {
    return Error::BadRequest(
        "$recognize 需要 patient 或 identifier 之一 / $recognize needs either patient (a "
        "reference) or identifier",
        Where("patient"));
  }
  if (!patient.empty() && patient.rfind("Patient/", 0) != 0) {
    return Error::BadRequest("$recognize: patient must reference a Patient: " + patient,
                             Where("patient"));
  }
  if (orderer.rfind("Organization/", 0) != 0) {
    return Error::BadRequest(
        "$recognize 需要 orderer（开单机构 Organization）/ $recognize needs orderer, the ordering "
        "member's Organization reference",
        Where("orderer"));
  }
  if (items.empty()) {
    return Error::BadRequest("$recognize 需要至少一个 item / $recognize needs at least one item",
                             Where("item"));
  }

  Answer answer;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    std::vector<std::string> patients;
    if (!patient.empty()) {
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("Patient", patient.substr(8)));
      if (!current.has_value() || current->deleted)
        return Error::NotFound("$recognize: " + patient + " 不存在 / does not exist");
      MA_ASSIGN_OR_RETURN(patients, engine_.LinkedPatients(tx, patient));
    } else {
      MA_ASSIGN_OR_RETURN(patients,
                          engine_.PatientsByIdentifier(tx, identifier_system, identifier_value));
      if (patients.empty()) {
        return Error::NotFound("$recognize: 无此标识的患者 / no patient has the identifier " +
                               identifier_system + "|" + identifier_value);
      }
    }
    MA_ASSIGN_OR_RETURN(answer,
                        engine_.Evaluate(tx, patients, items, at, orderer, request.visible));
    return {};
  }));

  Json out = Json::MakeObject();
  out.Set("resourceType", String("Parameters"));
  Json parameters = Json::MakeArray();
  parameters.PushBack(Part("orderer", "valueReference", ReferenceJson(orderer)));
  parameters.PushBack(Part("at", "valueDateTime", String(core::FormatInstant(at))));
  if (answer.sharing_refused) {
    // The other members' records of the patient are not named either.
    if (!patient.empty())
      parameters.PushBack(Part("patient", "valueReference", ReferenceJson(patient)));
  } else {
    for (const std::string& linked : answer.patients)
      parameters.PushBack(Part("patient", "valueReference", ReferenceJson(linked)));
  }
  for (const ItemAnswer& item_answer : answer.items) {
    Json result = Json::MakeObject();
    result.Set("name", String("result"));
    Json parts = Json::MakeArray();
    parts.Items().reserve(5 + item_answer.reusable.size() + item_answer.refused.size());
    const Item* item = item_answer.item;
    parts.PushBack(Part(
        "item", "valueCoding",
        CodingJson(item_answer.system, item_answer.code, item != nullptr ? item->display : "")));
    if (item != nullptr) {
      parts.PushBack(Part("catalogue-code", "valueCoding",
                          CodingJson(kItemSystem, item->code, item->display)));
      parts.PushBack(Part("validity-days", "valueInteger", Json::MakeNumber(item->validity_days)));
      if (!item->price_yuan.empty())
        parts.PushBack(Part("price-yuan", "valueDecimal", Json::MakeNumber(item->price_yuan)));
    } else {
      parts.PushBack(Part("reason", "valueCoding",
                          CodingJson(kReasonSystem, ReasonCode(Reason::kNotInCatalogue),
                                     ReasonDisplay(Reason::kNotInCatalogue))));
    }
    for (const Prior& prior : item_answer.reusable) parts.PushBack(PriorPart("reusable", prior));
    for (const Prior& prior : item_answer.refused) parts.PushBack(PriorPart("not-reusable", prior));
    result.Set("part", std::move(parts));
    parameters.PushBack(std::move(result));
  }
  out.Set("parameter", std::move(parameters));
  store::OperationResponse response;
  response.body = std::move(out);
  return response;
}

Json RecognizeOperationDefinition() {
  Json definition = Json::MakeObject();
  definition.Set("resourceType", String("OperationDefinition"));
  definition.Set("id", String("recognize"));
  definition.Set("url", String(kRecognizeDefinition));
  definition.Set("version", String("0.1.0"));
  definition.Set("name", String("Recognize"));
  definition.Set("title", String("检查检验结果互认 / Mutual recognition of results"));
  definition.Set("status", String("active"));
  definition.Set("kind", String("operation"));
  definition.Set("publisher", String("广深医疗联盟 / Guangzhou-Shenzhen medical alliance"));
  definition.Set("description",
                 String("Which prior examination and laboratory results of a patient (and of its "
                        "linked identities) may be reused for the ordered items, and why the "
                        "others may not. See doc/recognition.md."));
  definition.Set("affectsState", Json::MakeBool(false));
  definition.Set("code", String("recognize"));
  definition.Set("system", Json::MakeBool(true));
  definition.Set("type", Json::MakeBool(false));
  definition.Set("instance", Json::MakeBool(false));
  Json parameters = Json::MakeArray();
  auto add = [&](std::string_view name, std::string_view use, int min, std::string_view max,
                 std::string_view type, std::string_view documentation) {
    Json parameter = Json::MakeObject();
    parameter.Set("name", String(name));
    parameter.Set("use", String(use));
    parameter.Set("min", Json::MakeNumber(min));
    parameter.Set("max", String(max));
    parameter.Set("documentation", String(documentation));
    if (!type.empty())
      parameter.Set("type", String(type));
    parameters.PushBack(std::move(parameter));
  };
  add("patient", "in", 0, "1", "Reference", "The patient (or give identifier)");
  add("identifier", "in", 0, "1", "Identifier",
      "Any identity of the patient; linked identities are searched too");
  add("orderer", "in", 1, "1", "Reference", "The ordering member's Organization");
  add("item", "in", 1, "*", "Coding",
      "Ordered item: catalogue code, LOINC code or a member's local code");
  add("at", "in", 0, "1", "dateTime",
      "Moment of ordering; default now (Asia/Shanghai when no zone)");
  add("patient", "out", 0, "*", "Reference",
      "The linked Patients searched (only the one asked for when sharing is refused)");
  add("result", "out", 1, "*", "",
      "Per item: reusable and not-reusable prior results with reasons");
  definition.Set("parameter", std::move(parameters));
  return definition;
}

core::Result<int> SeedRecognitionData(store::Store& store, const search::Searcher& searcher,
                                      core::EpochMillis now) {
  int wrote = 0;
  MA_ASSIGN_OR_RETURN(bool catalogue, SeedCatalogue(store, searcher, now));
  wrote += catalogue ? 1 : 0;
  for (Json definition : {RecognizeOperationDefinition(), RecognitionMetricsDefinition()}) {
    bool definition_written = false;
    std::string id(definition.GetStringMember("id"));
    MA_RETURN_IF_ERROR(store.Write([&](store::WriteTx& tx) -> core::Status {
      definition_written = false;
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("OperationDefinition", id));
      if (current.has_value())
        return {};
      Json meta = Json::MakeObject();
      meta.Set("versionId", String("1"));
      meta.Set("lastUpdated", String(core::FormatInstant(now)));
      Json stamped = definition;
      stamped.SetAt(2, "meta", std::move(meta));
      store::StoredResource stored;
      stored.type = "OperationDefinition";
      stored.id = id;
      stored.version = 1;
      stored.last_updated = now;
      stored.method = "PUT";
      stored.json = fhir::WriteJson(stamped);
      definition_written = true;
      return tx.PutVersion(stored, searcher.Index(stamped));
    }));
    wrote += definition_written ? 1 : 0;
  }
  return wrote;
}

}  // namespace medalliance::recognition
