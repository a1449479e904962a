#include "recognition/recognize_operation.h"

#include "core/time.h"
#include "recognition/internal/operation_definition.h"
#include "recognition/metrics_operation.h"

namespace medalliance::recognition {
namespace {

using core::Error;
using fhir::Json;

Json String(std::string_view text) {
  return Json::MakeString(std::string(text));
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

// The answer is written straight as JSON text: building it as a Json tree and serializing
// that cost as much as judging the candidates (~100 results × ~8 parts, each a few
// allocations). The output is what fhir::WriteJson would write for the same Parameters.
class AnswerWriter {
 public:
  explicit AnswerWriter(std::string& out) : out_(out) {}

  void Quoted(std::string_view text) { fhir::AppendJsonString(text, out_); }

  // {"name":"<name>","<value_key>": — the caller writes the value and Close()s.
  void Open(std::string_view name, std::string_view value_key) {
    Comma();
    out_ += "{\"name\":";
    Quoted(name);
    out_ += ",\"";
    out_ += value_key;
    out_ += "\":";
  }
  void Close() { out_ += '}'; }

  void StringPart(std::string_view name, std::string_view value_key, std::string_view value) {
    Open(name, value_key);
    Quoted(value);
    Close();
  }
  void NumberPart(std::string_view name, std::string_view value_key, std::string_view number) {
    Open(name, value_key);
    out_ += number;
    Close();
  }
  void ReferencePart(std::string_view name, std::string_view reference) {
    Open(name, "valueReference");
    out_ += "{\"reference\":";
    Quoted(reference);
    out_ += '}';
    Close();
  }
  void CodingPart(std::string_view name, std::string_view system, std::string_view code,
                  std::string_view display) {
    Open(name, "valueCoding");
    out_ += '{';
    if (!system.empty()) {
      out_ += "\"system\":";
      Quoted(system);
      out_ += ',';
    }
    out_ += "\"code\":";
    Quoted(code);
    if (!display.empty()) {
      out_ += ",\"display\":";
      Quoted(display);
    }
    out_ += '}';
    Close();
  }
  // {"name":"<name>","part":[ ... ]}: parts written between BeginParts and EndParts.
  void BeginParts(std::string_view name) {
    Comma();
    out_ += "{\"name\":";
    Quoted(name);
    out_ += ",\"part\":[";
    first_ = true;
  }
  void EndParts() {
    out_ += "]}";
    first_ = false;
  }
  // Entries of a list: the first without a comma.
  void StartList() { first_ = true; }

  void Prior(std::string_view name, const recognition::Prior& prior) {
    BeginParts(name);
    if (!prior.reference.empty())
      ReferencePart("reference", prior.reference);
    if (!prior.patient.empty())
      ReferencePart("patient", prior.patient);
    if (!prior.issued_text.empty())
      StringPart("issued", "valueDateTime", prior.issued_text);
    if (!prior.issuer.empty())
      ReferencePart("issuer", prior.issuer);
    if (prior.last_valid_day.has_value())
      StringPart("last-valid-day", "valueDate", FormatDay(*prior.last_valid_day));
    for (const Finding& finding : prior.findings) {
      CodingPart("reason", kReasonSystem, ReasonCode(finding.reason),
                 ReasonDisplay(finding.reason));
      StringPart("explanation", "valueString", finding.explanation);
      if (finding.reason == Reason::kExpired)
        NumberPart("expired-days", "valueInteger", std::to_string(finding.days));
    }
    EndParts();
  }

 private:
  void Comma() {
    if (!first_)
      out_ += ',';
    first_ = false;
  }

  std::string& out_;
  bool first_ = true;
};

// The answer as a Parameters resource, in JSON.
std::string WriteAnswer(const Answer& answer, const std::string& orderer, core::EpochMillis at,
                        const std::string& patient) {
  size_t priors = 0;
  for (const ItemAnswer& item_answer : answer.items)
    priors += item_answer.reusable.size() + item_answer.refused.size();
  std::string out;
  out.reserve(1024 + 512 * answer.items.size() + 900 * priors);
  out += "{\"resourceType\":\"Parameters\",\"parameter\":[";
  AnswerWriter writer(out);
  writer.ReferencePart("orderer", orderer);
  writer.StringPart("at", "valueDateTime", core::FormatInstant(at));
  if (answer.sharing_refused) {
    // The other members' records of the patient are not named either.
    if (!patient.empty())
      writer.ReferencePart("patient", patient);
  } else {
    for (const std::string& linked : answer.patients) writer.ReferencePart("patient", linked);
  }
  for (const ItemAnswer& item_answer : answer.items) {
    writer.BeginParts("result");
    const Item* item = item_answer.item;
    writer.CodingPart("item", item_answer.system, item_answer.code,
                      item != nullptr ? std::string_view(item->display) : std::string_view());
    if (item != nullptr) {
      writer.CodingPart("catalogue-code", kItemSystem, item->code, item->display);
      writer.NumberPart("validity-days", "valueInteger", std::to_string(item->validity_days));
      if (!item->price_yuan.empty())
        writer.NumberPart("price-yuan", "valueDecimal", item->price_yuan);
    } else {
      writer.CodingPart("reason", kReasonSystem, ReasonCode(Reason::kNotInCatalogue),
                        ReasonDisplay(Reason::kNotInCatalogue));
    }
    for (const Prior& prior : item_answer.reusable) writer.Prior("reusable", prior);
    for (const Prior& prior : item_answer.refused) writer.Prior("not-reusable", prior);
    writer.EndParts();
  }
  out += "]}";
  return out;
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

  store::OperationResponse response;
  response.body_text = WriteAnswer(answer, orderer, at, patient);
  return response;
}

Json RecognizeOperationDefinition() {
  return internal::OperationDefinition(
      {.id = "recognize",
       .url = kRecognizeDefinition,
       .name = "Recognize",
       .title = "检查检验结果互认 / Mutual recognition of results",
       .description = "Which prior examination and laboratory results of a patient (and of its "
                      "linked identities) may be reused for the ordered items, and why the "
                      "others may not. See doc/recognition.md.",
       .parameters = {
           {"patient", "in", 0, "1", "Reference", "The patient (or give identifier)"},
           {"identifier", "in", 0, "1", "Identifier",
            "Any identity of the patient; linked identities are searched too"},
           {"orderer", "in", 1, "1", "Reference", "The ordering member's Organization"},
           {"item", "in", 1, "*", "Coding",
            "Ordered item: catalogue code, LOINC code or a member's local code"},
           {"at", "in", 0, "1", "dateTime",
            "Moment of ordering; default now (Asia/Shanghai when no zone)"},
           {"patient", "out", 0, "*", "Reference",
            "The linked Patients searched (only the one asked for when sharing is refused)"},
           {"result", "out", 1, "*", "",
            "Per item: reusable and not-reusable prior results with reasons"},
       }});
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
