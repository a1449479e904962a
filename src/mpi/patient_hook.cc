#include "mpi/patient_hook.h"

#include <cstdio>
#include <utility>

#include "core/ids.h"
#include "core/time.h"
#include "mpi/identifiers.h"
#include "store/sql/schema.h"

namespace medalliance::mpi {
namespace {

using fhir::Json;

constexpr std::string_view kPatientPrefix = "Patient/";

Json Coding(std::string_view code, std::string_view display = {}) {
  Json coding = Json::MakeObject();
  coding.Set("system", Json::MakeString(std::string(kMpiCodeSystem)));
  coding.Set("code", Json::MakeString(std::string(code)));
  if (!display.empty())
    coding.Set("display", Json::MakeString(std::string(display)));
  return coding;
}

Json Reference(std::string_view reference) {
  Json out = Json::MakeObject();
  out.Set("reference", Json::MakeString(std::string(reference)));
  return out;
}

Json Input(std::string_view type, std::string_view value_key, Json value) {
  Json input = Json::MakeObject();
  Json concept_json = Json::MakeObject();
  concept_json.Set("coding", Json::MakeArray()).PushBack(Coding(type));
  input.Set("type", std::move(concept_json));
  input.Set(value_key, std::move(value));
  return input;
}

Json Link(std::string_view reference) {
  Json link = Json::MakeObject();
  link.Set("target", Reference(reference));
  link.Set("assurance", Json::MakeString(std::string(kCertainAssurance)));
  return link;
}

// Today in China (UTC+8) as YYYYMMDD, for the birth-date-in-the-future check.
int TodayInChina(core::EpochMillis now) {
  std::string instant = core::FormatInstant(now + 8LL * 3600 * 1000);
  int value = 0;
  for (char c : instant.substr(0, 10)) {
    if (c >= '0' && c <= '9')
      value = value * 10 + (c - '0');
  }
  return value;
}

// A problem in Patient.telecom or Patient.contact.telecom.
bool IsTelecomIssue(const core::Issue& issue) {
  return issue.expression.find(".telecom[") != std::string::npos;
}

std::string ToHex(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[value & 0xF];
    value >>= 4;
  }
  return out;
}

}  // namespace

std::string FormatDecimal(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string out(buffer);
  if (out == "-0.00" || out == "-0.000" || out == "-0.0")
    out.erase(0, 1);
  return out;
}

std::string ReviewTaskId(std::string_view reference_a, std::string_view reference_b) {
  if (reference_b < reference_a)
    std::swap(reference_a, reference_b);
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&hash](std::string_view text) {
    for (char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ULL;
    }
  };
  mix(reference_a);
  mix("|");
  mix(reference_b);
  return "mpi-review-" + ToHex(hash);
}

Json MakeReviewTask(std::string_view reference, const PatientMatch& match, core::EpochMillis now) {
  const std::string_view grade = ToString(match.comparison.grade);
  Json task = Json::MakeObject();
  task.Set("resourceType", Json::MakeString("Task"));
  task.Set("status", Json::MakeString("requested"));
  task.Set("intent", Json::MakeString("proposal"));
  task.Set("priority", Json::MakeString("routine"));
  Json code = Json::MakeObject();
  code.Set("coding", Json::MakeArray())
      .PushBack(Coding(kReviewTaskCode, "主索引人工核对 / MPI match review"));
  code.Set("text", Json::MakeString("主索引人工核对 / MPI match review"));
  task.Set("code", std::move(code));
  std::string description = match.comparison.grade == MatchGrade::kCertain
                                ? "确定匹配但属于另一人员记录，请核对是否合并 / certain match "
                                  "linked to another Person: review a merge"
                                : "疑似同一患者，请核对 / possibly the same patient: please review";
  description += " (" + std::string(grade) + ", " + FormatDecimal(match.comparison.score, 2);
  if (!match.comparison.rule.empty())
    description += ", " + std::string(match.comparison.rule);
  description += ")";
  task.Set("description", Json::MakeString(std::move(description)));
  task.Set("focus", Reference(reference));
  task.Set("authoredOn", Json::MakeString(core::FormatInstant(now)));
  Json inputs = Json::MakeArray();
  inputs.PushBack(Input("patient", "valueReference", Reference(reference)));
  inputs.PushBack(Input("candidate", "valueReference", Reference(match.reference)));
  inputs.PushBack(Input("match-grade", "valueCode", Json::MakeString(std::string(grade))));
  inputs.PushBack(Input("match-weight", "valueDecimal",
                        Json::MakeNumber(FormatDecimal(match.comparison.score, 2))));
  if (!match.comparison.rule.empty()) {
    inputs.PushBack(
        Input("match-rule", "valueString", Json::MakeString(std::string(match.comparison.rule))));
  }
  task.Set("input", std::move(inputs));
  return task;
}

core::Result<std::vector<store::StoredResource>> PersonsLinking(store::ReadTx& tx,
                                                                std::string_view patient_reference,
                                                                int limit) {
  const store::Dialect& dialect = tx.GetDialect();
  store::SqlQuery query;
  query.sql =
      "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
      std::string(store::sql::kCurrentTable) + " c JOIN " +
      std::string(store::sql::kResourcesTable) +
      " r ON r.sequence = c.sequence WHERE c.type = 'Person' AND c.deleted = 0"
      " AND c.id IN (SELECT x.id FROM " +
      std::string(store::sql::kReferenceIndexTable) +
      " x WHERE x.type = 'Person' AND x.param = 'link' AND x.value = " + dialect.Placeholder(1) +
      ") ORDER BY c.sequence";
  if (limit > 0)
    query.sql += " LIMIT " + std::to_string(limit);
  query.params = {std::string(patient_reference)};
  return tx.QueryResources(query);
}

core::Result<std::optional<store::StoredResource>> FindPersonOf(
    store::ReadTx& tx, std::string_view patient_reference) {
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found,
                      PersonsLinking(tx, patient_reference, 1));
  if (found.empty())
    return std::optional<store::StoredResource>();
  return std::optional<store::StoredResource>(std::move(found.front()));
}

PatientHook::PatientHook(PatientIndex& index, PatientHookOptions options)
    : index_(index), options_(options) {
  if (options_.clock == nullptr)
    options_.clock = &core::SystemClock::Get();
}

core::Status PatientHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.kind == store::WriteKind::kDelete || event.resource == nullptr ||
      event.origin == kWriteOrigin)
    return {};
  const core::EpochMillis now = options_.clock->Now();
  IdentityOptions identity;
  identity.today_yyyymmdd = TodayInChina(now);
  std::vector<core::Issue> notes;
  if (core::Status valid = ValidatePatientIdentity(*event.resource, identity); !valid) {
    // Identity documents and record numbers are refused; a malformed phone is only a warning
    // (see the header).
    std::vector<core::Issue> errors;
    for (const core::Issue& issue : valid.error().GetIssues()) {
      if (IsTelecomIssue(issue)) {
        core::Issue warning = issue;
        warning.severity = core::Severity::kWarning;
        notes.push_back(std::move(warning));
      } else {
        errors.push_back(issue);
      }
    }
    if (!errors.empty())
      return core::Error(valid.error().GetCode(), std::move(errors));
  }

  PatientRecord record = ExtractRecord(*event.resource);
  record.reference = std::string(kPatientPrefix) + event.id;
  MA_ASSIGN_OR_RETURN(std::vector<PatientMatch> matches,
                      index_.FindMatches(tx, record, record.reference));
  MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> own_person,
                      FindPersonOf(tx, record.reference));

  std::string person_id;
  if (own_person.has_value()) {
    person_id = own_person->id;
  } else if (!matches.empty() && matches.front().comparison.grade == MatchGrade::kCertain) {
    const PatientMatch& best = matches.front();
    MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> their_person,
                        FindPersonOf(tx, best.reference));
    if (their_person.has_value()) {
      MA_RETURN_IF_ERROR(AddLink(tx, event, *their_person, record.reference, now));
      person_id = their_person->id;
    } else {
      MA_ASSIGN_OR_RETURN(person_id, CreatePerson(tx, event, *event.resource,
                                                  {record.reference, best.reference}, now));
    }
    notes.push_back({core::Severity::kInformation, "informational",
                     "已与 " + best.reference + " 关联为同一人 / linked with " + best.reference +
                         " as one person (Person/" + person_id + ")",
                     ""});
  } else if (options_.person_per_patient) {
    MA_ASSIGN_OR_RETURN(person_id,
                        CreatePerson(tx, event, *event.resource, {record.reference}, now));
  }

  size_t reviews = 0;
  for (const PatientMatch& match : matches) {
    if (reviews >= options_.max_review_items)
      break;
    MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> their_person,
                        FindPersonOf(tx, match.reference));
    if (their_person.has_value() && their_person->id == person_id)
      continue;  // linked already
    MA_ASSIGN_OR_RETURN(bool created, AddReviewItem(tx, event, record.reference, match, now));
    if (created) {
      notes.push_back({core::Severity::kInformation, "informational",
                       "待数据管理员核对：可能与 " + match.reference + " 为同一人 / review item " +
                           "for the data steward: possibly the same person as " + match.reference +
                           " (Task/" + ReviewTaskId(record.reference, match.reference) + ")",
                       ""});
    }
    ++reviews;
  }
  if (event.warnings != nullptr) {
    for (core::Issue& note : notes) event.warnings->push_back(std::move(note));
  }
  index_.Note(std::move(record));
  return {};
}

core::Result<std::string> PatientHook::Put(store::WriteTx& tx, const store::WriteEvent& event,
                                           Json& resource, std::string id, bool create,
                                           core::EpochMillis now) const {
  if (event.writer == nullptr)
    return core::Error::Internal("mpi: no ResourceWriter is wired for the hook's writes");
  store::WriteScope scope = event.Nested(kWriteOrigin);
  scope.now = now;
  if (create) {
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        event.writer->Create(tx, resource, scope, std::move(id)));
    return std::move(stored.id);
  }
  MA_ASSIGN_OR_RETURN(store::StoredResource stored, event.writer->Update(tx, resource, scope));
  return std::move(stored.id);
}

core::Result<std::string> PatientHook::CreatePerson(store::WriteTx& tx,
                                                    const store::WriteEvent& event,
                                                    const Json& patient,
                                                    const std::vector<std::string>& references,
                                                    core::EpochMillis now) const {
  Json person = Json::MakeObject();
  person.Set("resourceType", Json::MakeString("Person"));
  Json meta = Json::MakeObject();
  meta.Set("tag", Json::MakeArray())
      .PushBack(Coding(kPersonTagCode, "主索引人员 / master patient index person"));
  person.Set("meta", std::move(meta));
  for (std::string_view member : {"name", "gender", "birthDate"}) {
    if (const Json* value = patient.Find(member); value != nullptr)
      person.Set(member, *value);
  }
  person.Set("active", Json::MakeBool(true));
  Json& links = person.Set("link", Json::MakeArray());
  for (const std::string& reference : references) links.PushBack(Link(reference));
  return Put(tx, event, person, {}, /*create=*/true, now);
}

core::Status PatientHook::AddLink(store::WriteTx& tx, const store::WriteEvent& event,
                                  const store::StoredResource& person, const std::string& reference,
                                  core::EpochMillis now) const {
  MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(person.json));
  Json* links = json.Find("link");
  if (links == nullptr || !links->IsArray())
    links = &json.Set("link", Json::MakeArray());
  links->PushBack(Link(reference));
  MA_ASSIGN_OR_RETURN(std::string id, Put(tx, event, json, person.id, /*create=*/false, now));
  (void)id;
  return {};
}

core::Result<bool> PatientHook::AddReviewItem(store::WriteTx& tx, const store::WriteEvent& event,
                                              const std::string& reference,
                                              const PatientMatch& match,
                                              core::EpochMillis now) const {
  std::string id = ReviewTaskId(reference, match.reference);
  MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> existing, tx.ReadCurrent("Task", id));
  if (existing.has_value() && !existing->deleted)
    return false;
  Json task = MakeReviewTask(reference, match, now);
  MA_ASSIGN_OR_RETURN(std::string created, Put(tx, event, task, id, /*create=*/true, now));
  (void)created;
  return true;
}

}  // namespace medalliance::mpi
