#include "mpi/link_operations.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "core/ids.h"
#include "core/time.h"
#include "fhir/json/parameters.h"
#include "mpi/patient_hook.h"
#include "store/sql/schema.h"

namespace medalliance::mpi {
namespace {

using core::Error;
using fhir::Json;

constexpr std::string_view kPatientPrefix = "Patient/";

// The status of a result whose value is not needed.
template <typename T>
core::Status Done(const core::Result<T>& result) {
  if (!result)
    return result.error();
  return {};
}

Json Str(std::string_view text) {
  return Json::MakeString(std::string(text));
}

Json Ref(std::string_view reference) {
  Json out = Json::MakeObject();
  out.Set("reference", Str(reference));
  return out;
}

Json MpiCoding(std::string_view code, std::string_view display = {}) {
  Json coding = Json::MakeObject();
  coding.Set("system", Str(kMpiCodeSystem));
  coding.Set("code", Str(code));
  if (!display.empty())
    coding.Set("display", Str(display));
  return coding;
}

Json Concept(Json coding) {
  Json concept_json = Json::MakeObject();
  concept_json.Set("coding", Json::MakeArray()).PushBack(std::move(coding));
  return concept_json;
}

// ---- Parameters -----------------------------------------------------------------------

std::string Where(std::string_view name) {
  return "Parameters.parameter.where(name='" + std::string(name) + "')";
}

// A reference parameter: valueReference.reference, or the text of valueString/valueId
// (GET-style "Patient/1" or "1"). `type` is prepended to a bare id.
core::Result<std::vector<std::string>> ReferenceParameters(const Json& parameters,
                                                           std::string_view name,
                                                           std::string_view type) {
  std::vector<std::string> out;
  for (const Json* parameter : fhir::FindParameters(parameters, name)) {
    std::string text;
    if (const Json* value = parameter->Find("valueReference"); value != nullptr) {
      text = std::string(value->GetStringMember("reference"));
    } else if (!parameter->GetStringMember("valueString").empty()) {
      text = std::string(parameter->GetStringMember("valueString"));
    } else {
      text = std::string(parameter->GetStringMember("valueId"));
    }
    if (text.find('/') == std::string::npos)
      text = std::string(type) + "/" + text;
    std::string prefix = std::string(type) + "/";
    if (text.rfind(prefix, 0) != 0 ||
        !core::IsValidId(std::string_view(text).substr(prefix.size())))
      return Error::BadRequest(std::string(name) + " must be a reference to a " +
                                   std::string(type) + ", not '" + text + "'",
                               Where(name));
    out.push_back(std::move(text));
  }
  return out;
}

std::string TextParameter(const Json& parameters, std::string_view name) {
  for (const Json* parameter : fhir::FindParameters(parameters, name)) {
    for (std::string_view key : {"valueString", "valueCode", "valueMarkdown"}) {
      if (std::string_view text = parameter->GetStringMember(key); !text.empty())
        return std::string(text);
    }
  }
  return {};
}

std::string_view IdOf(std::string_view reference) {
  size_t slash = reference.find('/');
  return slash == std::string_view::npos ? reference : reference.substr(slash + 1);
}

// ---- Person links ---------------------------------------------------------------------

std::vector<std::string> LinkTargets(const Json& person) {
  std::vector<std::string> out;
  if (const Json* links = person.Find("link"); links != nullptr && links->IsArray()) {
    for (const Json& link : links->Items()) {
      if (const Json* target = link.Find("target"); target != nullptr)
        out.emplace_back(target->GetStringMember("reference"));
    }
  }
  return out;
}

bool HasLink(const Json& person, std::string_view reference) {
  std::vector<std::string> targets = LinkTargets(person);
  return std::find(targets.begin(), targets.end(), reference) != targets.end();
}

bool RemoveLink(Json& person, std::string_view reference) {
  Json* links = person.Find("link");
  if (links == nullptr || !links->IsArray())
    return false;
  Json::Array& items = links->Items();
  auto it = std::remove_if(items.begin(), items.end(), [&](const Json& link) {
    const Json* target = link.Find("target");
    return target != nullptr && target->GetStringMember("reference") == reference;
  });
  bool removed = it != items.end();
  items.erase(it, items.end());
  if (items.empty())
    person.Erase("link");
  return removed;
}

void AddLink(Json& person, std::string_view reference, std::string_view assurance) {
  if (HasLink(person, reference))
    return;
  Json* links = person.Find("link");
  if (links == nullptr || !links->IsArray())
    links = &person.Set("link", Json::MakeArray());
  Json link = Json::MakeObject();
  link.Set("target", Ref(reference));
  link.Set("assurance", Str(assurance));
  links->PushBack(std::move(link));
}

// ---- One run of an operation's write function --------------------------------------------

struct Item {
  std::string type;
  std::string id;
  std::optional<store::StoredResource> before;  // absent for a resource this run creates
  Json json;
  bool changed = false;
};

class Session {
 public:
  // `writer` and `caller`: the operation request's (OperationRequest::writer, ::caller).
  Session(store::WriteTx& tx, const search::Searcher& searcher, core::EpochMillis now,
          const store::ResourceWriter* writer, const store::Caller* caller)
      : tx_(tx), searcher_(searcher), now_(now), writer_(writer), caller_(caller) {}

  store::WriteTx& Tx() { return tx_; }
  core::EpochMillis Now() const { return now_; }

  // The current, non-deleted resource, loaded once per run. kNotFound when absent.
  core::Result<Item*> Load(std::string_view type, std::string_view id) {
    std::string key = std::string(type) + "/" + std::string(id);
    if (auto it = items_.find(key); it != items_.end())
      return &it->second;
    MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored, tx_.ReadCurrent(type, id));
    if (!stored.has_value() || stored->deleted)
      return Error::NotFound(key + " is not known");
    MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
    Item item{std::string(type), std::string(id), std::move(stored), std::move(json), false};
    order_.push_back(key);
    return &items_.emplace(key, std::move(item)).first->second;
  }
  core::Result<Item*> Load(std::string_view reference) {
    size_t slash = reference.find('/');
    return Load(reference.substr(0, slash), reference.substr(slash + 1));
  }

  // A resource read including a delete marker or absence (Tasks that may not exist).
  core::Result<Item*> LoadOrNew(std::string_view type, std::string_view id) {
    std::string key = std::string(type) + "/" + std::string(id);
    if (auto it = items_.find(key); it != items_.end())
      return &it->second;
    MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored, tx_.ReadCurrent(type, id));
    Json json;
    if (stored.has_value() && !stored->deleted) {
      MA_ASSIGN_OR_RETURN(json, fhir::ParseJson(stored->json));
    }
    Item item{std::string(type), std::string(id), std::move(stored), std::move(json), false};
    order_.push_back(key);
    return &items_.emplace(key, std::move(item)).first->second;
  }

  Item& Create(Json json) {
    std::string type(json.GetStringMember("resourceType"));
    std::string id = core::NewId();
    std::string key = type + "/" + id;
    order_.push_back(key);
    Item item{type, id, std::nullopt, std::move(json), true};
    return items_.emplace(key, std::move(item)).first->second;
  }

  // The Person that links `patient` as this run sees it (changes not yet written count).
  core::Result<Item*> PersonOf(std::string_view patient) {
    for (const std::string& key : order_) {
      Item& item = items_.at(key);
      if (item.type == "Person" && !item.json.IsNull() && HasLink(item.json, patient))
        return &item;
    }
    MA_ASSIGN_OR_RETURN(std::vector<std::string> ids, PersonIdsOf(tx_, patient));
    for (const std::string& id : ids) {
      MA_ASSIGN_OR_RETURN(Item * person, Load("Person", id));
      if (HasLink(person->json, patient))
        return person;
    }
    return static_cast<Item*>(nullptr);
  }

  // A new Person (tagged like the write hook's) with the demographics of `patient`.
  Item& NewPerson(const Json& patient) {
    Json person = Json::MakeObject();
    person.Set("resourceType", Str("Person"));
    Json meta = Json::MakeObject();
    meta.Set("tag", Json::MakeArray())
        .PushBack(MpiCoding(kPersonTagCode, "主索引人员 / master patient index person"));
    person.Set("meta", std::move(meta));
    for (std::string_view member : {"name", "gender", "birthDate"}) {
      if (const Json* value = patient.Find(member); value != nullptr)
        person.Set(member, *value);
    }
    person.Set("active", Json::MakeBool(true));
    return Create(std::move(person));
  }

  // Moves `patient` into `target` (leaving any other Person; a Person left empty becomes
  // inactive). True when something changed.
  core::Result<bool> Move(std::string_view patient, Item& target, std::string_view assurance) {
    MA_ASSIGN_OR_RETURN(Item * current, PersonOf(patient));
    if (current == &target)
      return false;
    if (current != nullptr) {
      RemoveLink(current->json, patient);
      if (LinkTargets(current->json).empty())
        current->json.Set("active", Json::MakeBool(false));
      current->changed = true;
    }
    AddLink(target.json, patient, assurance);
    if (const Json* active = target.json.Find("active");
        active != nullptr && active->IsBool() && !active->GetBool()) {
      target.json.Set("active", Json::MakeBool(true));
    }
    target.changed = true;
    return true;
  }

  // Marks the pair certainly-not: its review Task (created when absent) becomes rejected.
  core::Status RejectPair(std::string_view a, std::string_view b, std::string_view reason) {
    std::string id = ReviewTaskId(a, b);
    MA_ASSIGN_OR_RETURN(Item * task, LoadOrNew("Task", id));
    if (task->json.IsNull()) {
      PatientMatch match;
      match.reference = std::string(b);
      match.comparison.grade = MatchGrade::kCertainlyNot;
      task->json = MakeReviewTask(a, match, now_);
    }
    if (task->json.GetStringMember("status") == "rejected")
      return {};
    Reject(task->json, reason);
    task->changed = true;
    return {};
  }

  void Reject(Json& task, std::string_view reason) {
    task.Set("status", Str("rejected"));
    task.Set("lastModified", Str(core::FormatInstant(now_)));
    Json output = Json::MakeObject();
    output.Set("type", Concept(MpiCoding("match-grade")));
    output.Set("valueCode", Str("certainly-not"));
    task.Set("output", Json::MakeArray()).PushBack(std::move(output));
    if (!reason.empty()) {
      Json note = Json::MakeObject();
      note.Set("text", Str(reason));
      task.Set("statusReason", std::move(note));
    }
  }

  // Writes every changed resource and the Provenance; returns the response Parameters.
  core::Result<Json> Commit(std::string_view activity, std::string_view display,
                            const store::Caller* caller, std::string_view reason,
                            std::vector<Json> extra_entities = {}) {
    Json provenance = Json::MakeObject();
    provenance.Set("resourceType", Str("Provenance"));
    Json targets = Json::MakeArray();
    Json entities = Json::MakeArray();
    Json results = Json::MakeArray();
    for (const std::string& key : order_) {
      Item& item = items_.at(key);
      if (!item.changed)
        continue;
      int64_t version = item.before.has_value() ? item.before->version + 1 : 1;
      bool existed = item.before.has_value() && !item.before->deleted;
      MA_RETURN_IF_ERROR(Put(item, version, existed ? "PUT" : "POST"));
      targets.PushBack(Ref(key + "/_history/" + std::to_string(version)));
      if (existed) {
        Json entity = Json::MakeObject();
        entity.Set("role", Str("revision"));
        entity.Set("what", Ref(key + "/_history/" + std::to_string(item.before->version)));
        entities.PushBack(std::move(entity));
      }
      results.PushBack(item.json);
    }
    Json response = Json::MakeObject();
    response.Set("resourceType", Str("Parameters"));
    Json& list = response.Set("parameter", Json::MakeArray());
    if (targets.Size() == 0) {
      Json parameter = Json::MakeObject();
      parameter.Set("name", Str("information"));
      parameter.Set("valueString", Str("没有需要修改的内容 / nothing to change"));
      list.PushBack(std::move(parameter));
      return response;
    }
    for (Json& entity : extra_entities) entities.PushBack(std::move(entity));
    provenance.Set("target", std::move(targets));
    provenance.Set("recorded", Str(core::FormatInstant(now_)));
    if (!reason.empty()) {
      Json concept_json = Json::MakeObject();
      concept_json.Set("text", Str(reason));
      provenance.Set("reason", Json::MakeArray()).PushBack(std::move(concept_json));
    }
    provenance.Set("activity", Concept(MpiCoding(activity, display)));
    provenance.Set("agent", Json::MakeArray()).PushBack(Agent(caller));
    if (entities.Size() > 0)
      provenance.Set("entity", std::move(entities));
    Item& record = Create(std::move(provenance));
    MA_RETURN_IF_ERROR(Put(record, 1, "POST"));
    Json parameter = Json::MakeObject();
    parameter.Set("name", Str("provenance"));
    parameter.Set("resource", record.json);
    list.PushBack(std::move(parameter));
    for (const Json& result : results.Items()) {
      Json entry = Json::MakeObject();
      entry.Set("name", Str("result"));
      entry.Set("resource", result);
      list.PushBack(std::move(entry));
    }
    return response;
  }

 private:
  static Json Agent(const store::Caller* caller) {
    Json agent = Json::MakeObject();
    Json coding = Json::MakeObject();
    coding.Set("system", Str("http://terminology.hl7.org/CodeSystem/provenance-participant-type"));
    coding.Set("code", Str("author"));
    agent.Set("type", Concept(std::move(coding)));
    Json who = Json::MakeObject();
    if (caller != nullptr && !caller->practitioner_id.empty()) {
      who.Set("reference", Str("Practitioner/" + caller->practitioner_id));
    } else if (caller != nullptr && !caller->client_id.empty()) {
      Json identifier = Json::MakeObject();
      identifier.Set("system", Str("https://fhir.medalliance.cn/sid/client"));
      identifier.Set("value", Str(caller->client_id));
      who.Set("identifier", std::move(identifier));
      who.Set("display", Str("client " + caller->client_id));
    } else {
      who.Set("display", Str("本地调用（未认证）/ local caller (no authentication)"));
    }
    agent.Set("who", std::move(who));
    if (caller != nullptr && !caller->organization_id.empty())
      agent.Set("onBehalfOf", Ref("Organization/" + caller->organization_id));
    return agent;
  }

  // Writes the item through the whole write pipeline (validation, hooks, index, audit) as the
  // operation's caller; the resource is stamped in place with what was stored.
  core::Status Put(Item& item, int64_t version, std::string_view method) {
    if (writer_ == nullptr)
      return Error::Internal("mpi: no ResourceWriter is wired for the operation's writes");
    const store::WriteScope scope{caller_, kWriteOrigin, 1, now_, nullptr};
    if (method == "POST") {
      MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                          writer_->Create(tx_, item.json, scope, item.id));
      (void)stored;
      return {};
    }
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        writer_->Update(tx_, item.json, scope, version - 1));
    (void)stored;
    return {};
  }

  store::WriteTx& tx_;
  const search::Searcher& searcher_;
  core::EpochMillis now_;
  const store::ResourceWriter* writer_;
  const store::Caller* caller_;
  std::map<std::string, Item> items_;
  std::vector<std::string> order_;  // keys in load order (deterministic output)
};

core::Result<std::vector<std::string>> RequirePatients(const Json& parameters, size_t min,
                                                       size_t max) {
  MA_ASSIGN_OR_RETURN(std::vector<std::string> patients,
                      ReferenceParameters(parameters, "patient", "Patient"));
  if (patients.size() < min || patients.size() > max) {
    return Error::BadRequest(
        "expected " + (min == max ? std::to_string(min) : "at least " + std::to_string(min)) +
            " 'patient' parameter(s), got " + std::to_string(patients.size()),
        Where("patient"));
  }
  return patients;
}

// The Person named by the instance id or the `person` parameter, if any.
core::Result<std::optional<std::string>> NamedPerson(const store::OperationRequest& request) {
  if (!request.id.empty())
    return std::optional<std::string>(request.id);
  MA_ASSIGN_OR_RETURN(std::vector<std::string> persons,
                      ReferenceParameters(request.parameters, "person", "Person"));
  if (persons.size() > 1)
    return Error::BadRequest("at most one 'person' parameter", Where("person"));
  if (persons.empty())
    return std::optional<std::string>();
  return std::optional<std::string>(std::string(IdOf(persons.front())));
}

bool HasPatientLink(const Json& patient, std::string_view type) {
  if (const Json* links = patient.Find("link"); links != nullptr && links->IsArray()) {
    for (const Json& link : links->Items()) {
      if (link.GetStringMember("type") == type)
        return true;
    }
  }
  return false;
}

void AddPatientLink(Json& patient, std::string_view other, std::string_view type) {
  Json* links = patient.Find("link");
  if (links == nullptr || !links->IsArray())
    links = &patient.Set("link", Json::MakeArray());
  Json link = Json::MakeObject();
  link.Set("other", Ref(other));
  link.Set("type", Str(type));
  links->PushBack(std::move(link));
}

// "Type/id/_history/n" -> ("Type/id", n); n = 0 when absent.
std::pair<std::string, int64_t> SplitVersioned(std::string_view reference) {
  size_t history = reference.find("/_history/");
  if (history == std::string_view::npos)
    return {std::string(reference), 0};
  int64_t version = 0;
  for (char c : reference.substr(history + 10)) {
    if (c < '0' || c > '9')
      return {std::string(reference.substr(0, history)), 0};
    version = version * 10 + (c - '0');
  }
  return {std::string(reference.substr(0, history)), version};
}

// Keys of a link array for diffing: Person.link by target, Patient.link by other + type.
std::vector<std::pair<std::string, Json>> KeyedLinks(const Json& resource) {
  std::vector<std::pair<std::string, Json>> out;
  if (const Json* links = resource.Find("link"); links != nullptr && links->IsArray()) {
    for (const Json& link : links->Items()) {
      std::string key;
      if (const Json* target = link.Find("target"); target != nullptr)
        key = "target " + std::string(target->GetStringMember("reference"));
      if (const Json* other = link.Find("other"); other != nullptr) {
        key = "other " + std::string(other->GetStringMember("reference")) + " " +
              std::string(link.GetStringMember("type"));
      }
      out.emplace_back(std::move(key), link);
    }
  }
  return out;
}

bool HasKey(const std::vector<std::pair<std::string, Json>>& links, const std::string& key) {
  return std::any_of(links.begin(), links.end(),
                     [&](const auto& link) { return link.first == key; });
}

// Applies the reverse of the change from `before` to `after` onto `current`: the active flag
// of `before`, and the links added removed, the links removed added back.
void ReverseChange(const Json& before, const Json& after, Json& current) {
  auto old_links = KeyedLinks(before);
  auto new_links = KeyedLinks(after);
  auto links = KeyedLinks(current);
  std::vector<std::pair<std::string, Json>> kept;
  for (auto& link : links) {
    if (HasKey(new_links, link.first) && !HasKey(old_links, link.first))
      continue;  // added by the operation
    kept.push_back(std::move(link));
  }
  for (const auto& link : old_links) {
    if (!HasKey(new_links, link.first) && !HasKey(kept, link.first))
      kept.push_back(link);  // removed by the operation
  }
  current.Erase("link");
  if (!kept.empty()) {
    Json& array = current.Set("link", Json::MakeArray());
    for (auto& link : kept) array.PushBack(std::move(link.second));
  }
  if (const Json* active = before.Find("active"); active != nullptr) {
    current.Set("active", *active);
  } else {
    current.Erase("active");
  }
}

// Provenance ids that name `reference` under the search parameter `param`, newest first.
core::Result<std::vector<std::string>> ProvenancesBy(store::ReadTx& tx, std::string_view param,
                                                     std::string_view reference) {
  const store::Dialect& dialect = tx.GetDialect();
  store::SqlQuery query;
  query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
              std::string(store::sql::kCurrentTable) + " c JOIN " +
              std::string(store::sql::kResourcesTable) +
              " r ON r.sequence = c.sequence WHERE c.type = 'Provenance' AND c.deleted = 0"
              " AND c.id IN (SELECT x.id FROM " +
              std::string(store::sql::kReferenceIndexTable) +
              " x WHERE x.type = 'Provenance' AND x.param = " + dialect.Placeholder(1) +
              " AND x.value = " + dialect.Placeholder(2) + ") ORDER BY c.sequence DESC";
  query.params = {std::string(param), std::string(reference)};
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found, tx.QueryResources(query));
  std::vector<std::string> out;
  for (store::StoredResource& stored : found) out.push_back(std::move(stored.id));
  return out;
}

std::string ActivityOf(const Json& provenance) {
  if (const Json* activity = provenance.Find("activity"); activity != nullptr) {
    if (const Json* codings = activity->Find("coding"); codings != nullptr && codings->IsArray()) {
      for (const Json& coding : codings->Items()) {
        if (coding.GetStringMember("system") == kMpiCodeSystem)
          return std::string(coding.GetStringMember("code"));
      }
    }
  }
  return {};
}

}  // namespace

core::Result<std::vector<std::string>> PersonIdsOf(store::ReadTx& tx,
                                                   std::string_view patient_reference) {
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> found,
                      PersonsLinking(tx, patient_reference));
  std::vector<std::string> out;
  for (store::StoredResource& stored : found) out.push_back(std::move(stored.id));
  return out;
}

core::Result<std::vector<std::string>> LinkedPatients(store::ReadTx& tx,
                                                      std::string_view patient_reference) {
  std::vector<std::string> out = {std::string(patient_reference)};
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> persons,
                      PersonsLinking(tx, patient_reference));
  for (const store::StoredResource& stored : persons) {
    MA_ASSIGN_OR_RETURN(Json person, fhir::ParseJson(stored.json));
    for (std::string& target : LinkTargets(person)) {
      if (target.rfind(kPatientPrefix, 0) == 0)
        out.push_back(std::move(target));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

LinkOperation::LinkOperation(LinkAction action, const core::Clock* clock)
    : action_(action), clock_(clock != nullptr ? clock : &core::SystemClock::Get()) {}

std::string LinkOperation::Name() const {
  switch (action_) {
    case LinkAction::kLink:
      return "mpi-link";
    case LinkAction::kUnlink:
      return "mpi-unlink";
    case LinkAction::kSplit:
      return "mpi-split";
    case LinkAction::kMerge:
      return "merge";
    case LinkAction::kUnmerge:
      return "mpi-unmerge";
    case LinkAction::kResolve:
      return "mpi-resolve";
  }
  return {};
}

std::string LinkOperation::Definition() const {
  if (action_ == LinkAction::kMerge)
    return "http://hl7.org/fhir/OperationDefinition/Patient-merge";
  return std::string(kMpiOperationDefinitionBase) + Name();
}

std::vector<std::string> LinkOperation::Types() const {
  switch (action_) {
    case LinkAction::kLink:
    case LinkAction::kUnlink:
    case LinkAction::kSplit:
      return {"Person"};
    case LinkAction::kMerge:
    case LinkAction::kUnmerge:
      return {"Patient"};
    case LinkAction::kResolve:
      return {"Task"};
  }
  return {};
}

bool LinkOperation::Instance() const {
  return action_ == LinkAction::kLink || action_ == LinkAction::kUnlink ||
         action_ == LinkAction::kSplit || action_ == LinkAction::kResolve;
}

core::Result<store::OperationResponse> LinkOperation::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const Json& parameters = request.parameters;
  const std::string reason = TextParameter(parameters, "reason");
  if ((action_ == LinkAction::kSplit || action_ == LinkAction::kResolve) && request.id.empty()) {
    return Error::BadRequest("$" + Name() + " works on an instance: POST " + Types().front() +
                             "/[id]/$" + Name());
  }
  const core::EpochMillis now = clock_->Now();
  Json response;
  core::Status status = store.Write([&](store::WriteTx& tx) -> core::Status {
    Session session(tx, searcher_, now, request.writer, request.caller);
    switch (action_) {
      case LinkAction::kLink: {
        MA_ASSIGN_OR_RETURN(auto patients, RequirePatients(parameters, 1, 100));
        std::string assurance = TextParameter(parameters, "assurance");
        if (assurance.empty())
          assurance = "level4";
        if (assurance != "level1" && assurance != "level2" && assurance != "level3" &&
            assurance != "level4") {
          return Error::BadRequest("assurance must be level1..level4", Where("assurance"));
        }
        MA_ASSIGN_OR_RETURN(std::optional<std::string> person_id, NamedPerson(request));
        if (patients.size() == 1 && !person_id.has_value())
          return Error::BadRequest("name a person, or two or more patients", Where("person"));
        std::vector<Item*> loaded;
        for (const std::string& patient : patients) {
          MA_ASSIGN_OR_RETURN(Item * item, session.Load(patient));
          loaded.push_back(item);
        }
        Item* target = nullptr;
        if (person_id.has_value()) {
          MA_ASSIGN_OR_RETURN(target, session.Load("Person", *person_id));
        } else {
          MA_ASSIGN_OR_RETURN(target, session.PersonOf(patients.front()));
          if (target == nullptr)
            target = &session.NewPerson(loaded.front()->json);
        }
        for (const std::string& patient : patients) {
          MA_RETURN_IF_ERROR(Done(session.Move(patient, *target, assurance)));
        }
        MA_ASSIGN_OR_RETURN(response,
                            session.Commit("mpi-link", "关联 / link", request.caller, reason));
        return {};
      }
      case LinkAction::kUnlink: {
        MA_ASSIGN_OR_RETURN(auto patients, RequirePatients(parameters, 1, 1));
        const std::string& patient = patients.front();
        MA_ASSIGN_OR_RETURN(Item * patient_item, session.Load(patient));
        MA_ASSIGN_OR_RETURN(std::optional<std::string> person_id, NamedPerson(request));
        Item* person = nullptr;
        if (person_id.has_value()) {
          MA_ASSIGN_OR_RETURN(person, session.Load("Person", *person_id));
        } else {
          MA_ASSIGN_OR_RETURN(person, session.PersonOf(patient));
        }
        if (person == nullptr || !HasLink(person->json, patient)) {
          return Error::Unprocessable(
              patient + " 未关联到该人员 / is not linked to " +
                  (person == nullptr ? "any Person" : "Person/" + person->id),
              Where("patient"));
        }
        std::vector<std::string> others = LinkTargets(person->json);
        others.erase(std::remove(others.begin(), others.end(), patient), others.end());
        if (others.empty()) {
          return Error::Unprocessable(patient + " 是 Person/" + person->id +
                                          " 唯一的患者 / is the only Patient of Person/" +
                                          person->id + ": nothing to unlink from",
                                      Where("patient"));
        }
        Item& own = session.NewPerson(patient_item->json);
        MA_RETURN_IF_ERROR(Done(session.Move(patient, own, "level4")));
        for (const std::string& other : others) {
          MA_RETURN_IF_ERROR(session.RejectPair(patient, other, reason));
        }
        MA_ASSIGN_OR_RETURN(
            response, session.Commit("mpi-unlink", "解除关联 / unlink", request.caller, reason));
        return {};
      }
      case LinkAction::kSplit: {
        MA_ASSIGN_OR_RETURN(auto patients, RequirePatients(parameters, 1, 100));
        MA_ASSIGN_OR_RETURN(Item * person, session.Load("Person", request.id));
        std::vector<std::string> remaining = LinkTargets(person->json);
        for (const std::string& patient : patients) {
          if (!HasLink(person->json, patient)) {
            return Error::Unprocessable(patient + " 未关联到 Person/" + request.id +
                                            " / is not linked to Person/" + request.id,
                                        Where("patient"));
          }
          remaining.erase(std::remove(remaining.begin(), remaining.end(), patient),
                          remaining.end());
        }
        if (remaining.empty()) {
          return Error::Unprocessable(
              "拆分后原人员没有患者 / a split must leave at least one Patient in Person/" +
                  request.id,
              Where("patient"));
        }
        MA_ASSIGN_OR_RETURN(Item * first, session.Load(patients.front()));
        Item& split = session.NewPerson(first->json);
        for (const std::string& patient : patients) {
          MA_RETURN_IF_ERROR(Done(session.Load(patient)));
          MA_RETURN_IF_ERROR(Done(session.Move(patient, split, "level4")));
        }
        for (const std::string& patient : patients) {
          for (const std::string& other : remaining) {
            MA_RETURN_IF_ERROR(session.RejectPair(patient, other, reason));
          }
        }
        MA_ASSIGN_OR_RETURN(response,
                            session.Commit("mpi-split", "拆分 / split", request.caller, reason));
        return {};
      }
      case LinkAction::kMerge: {
        MA_ASSIGN_OR_RETURN(auto sources,
                            ReferenceParameters(parameters, "source-patient", "Patient"));
        MA_ASSIGN_OR_RETURN(auto targets,
                            ReferenceParameters(parameters, "target-patient", "Patient"));
        if (sources.size() != 1 || targets.size() != 1) {
          return Error::BadRequest("$merge needs one source-patient and one target-patient");
        }
        if (sources.front() == targets.front())
          return Error::BadRequest("source-patient and target-patient are the same");
        MA_ASSIGN_OR_RETURN(Item * source, session.Load(sources.front()));
        MA_ASSIGN_OR_RETURN(Item * target, session.Load(targets.front()));
        if (HasPatientLink(source->json, "replaced-by")) {
          return Error::Unprocessable(sources.front() + " 已被合并 / has been merged already",
                                      Where("source-patient"));
        }
        if (HasPatientLink(target->json, "replaced-by")) {
          return Error::Unprocessable(
              targets.front() + " 已被合并，不能作为目标 / has been merged and cannot be a target",
              Where("target-patient"));
        }
        source->json.Set("active", Json::MakeBool(false));
        AddPatientLink(source->json, targets.front(), "replaced-by");
        source->changed = true;
        AddPatientLink(target->json, sources.front(), "replaces");
        target->changed = true;
        MA_ASSIGN_OR_RETURN(Item * person, session.PersonOf(targets.front()));
        if (person == nullptr) {
          person = &session.NewPerson(target->json);
          MA_RETURN_IF_ERROR(Done(session.Move(targets.front(), *person, "level4")));
        }
        MA_RETURN_IF_ERROR(Done(session.Move(sources.front(), *person, "level4")));
        MA_ASSIGN_OR_RETURN(response,
                            session.Commit("merge", "合并 / merge", request.caller, reason));
        return {};
      }
      case LinkAction::kUnmerge: {
        MA_ASSIGN_OR_RETURN(auto records,
                            ReferenceParameters(parameters, "provenance", "Provenance"));
        if (records.empty()) {
          MA_ASSIGN_OR_RETURN(auto sources,
                              ReferenceParameters(parameters, "source-patient", "Patient"));
          if (sources.size() != 1) {
            return Error::BadRequest("$mpi-unmerge needs a provenance or one source-patient");
          }
          MA_ASSIGN_OR_RETURN(auto ids, ProvenancesBy(tx, "target", sources.front()));
          for (const std::string& id : ids) {
            MA_ASSIGN_OR_RETURN(Item * candidate, session.Load("Provenance", id));
            if (ActivityOf(candidate->json) == "merge") {
              records.push_back("Provenance/" + id);
              break;
            }
          }
          if (records.empty())
            return Error::NotFound("no merge of " + sources.front() + " is recorded");
        }
        if (records.size() != 1)
          return Error::BadRequest("one provenance", Where("provenance"));
        MA_ASSIGN_OR_RETURN(Item * record, session.Load(records.front()));
        std::string activity = ActivityOf(record->json);
        if (activity.empty() || activity == "mpi-unmerge") {
          return Error::Unprocessable(records.front() +
                                          " 不是可撤销的主索引操作记录 / does not record an MPI "
                                          "operation that can be undone",
                                      Where("provenance"));
        }
        MA_ASSIGN_OR_RETURN(auto undone, ProvenancesBy(tx, "entity", records.front()));
        if (!undone.empty()) {
          return Error::Conflict(records.front() +
                                 " 已被撤销 / has been undone already by "
                                 "Provenance/" +
                                 undone.front());
        }
        std::map<std::string, int64_t> previous;
        if (const Json* entities = record->json.Find("entity"); entities != nullptr) {
          for (const Json& entity : entities->Items()) {
            if (entity.GetStringMember("role") != "revision")
              continue;
            if (const Json* what = entity.Find("what"); what != nullptr) {
              auto [key, version] = SplitVersioned(what->GetStringMember("reference"));
              previous[key] = version;
            }
          }
        }
        const Json* targets = record->json.Find("target");
        if (targets == nullptr || !targets->IsArray())
          return Error::Unprocessable(records.front() + " has no target");
        for (const Json& target : targets->Items()) {
          auto [key, version] = SplitVersioned(target.GetStringMember("reference"));
          size_t slash = key.find('/');
          std::string type = key.substr(0, slash);
          std::string id = key.substr(slash + 1);
          MA_ASSIGN_OR_RETURN(Item * item, session.LoadOrNew(type, id));
          MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> after,
                              tx.ReadVersion(type, id, version));
          if (!after.has_value() || after->deleted)
            return Error::Unprocessable(key + "/_history/" + std::to_string(version) + " is gone");
          MA_ASSIGN_OR_RETURN(Json after_json, fhir::ParseJson(after->json));
          Json before_json;
          if (auto it = previous.find(key); it != previous.end()) {
            MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> before,
                                tx.ReadVersion(type, id, it->second));
            if (before.has_value() && !before->deleted) {
              MA_ASSIGN_OR_RETURN(before_json, fhir::ParseJson(before->json));
            }
          }
          if (item->json.IsNull())
            continue;  // deleted since: nothing to restore
          const bool unchanged = item->before.has_value() && item->before->version == version;
          if (type == "Task") {
            if (!unchanged) {
              return Error::Conflict(key +
                                     " 在操作后已被修改 / changed after the operation; "
                                     "undo it by hand");
            }
            if (before_json.IsNull()) {
              // Created by the operation: a rejected review Task that was not there. Withdraw it
              // (cancelled) rather than delete, so that the history stays readable.
              item->json.Set("status", Str("cancelled"));
              item->json.Erase("output");
            } else {
              item->json = std::move(before_json);
            }
          } else if (unchanged && !before_json.IsNull()) {
            item->json = std::move(before_json);  // exactly as before (meta is rewritten)
          } else {
            if (before_json.IsNull()) {
              before_json = after_json;  // created by the operation: drop its links, retire it
              before_json.Erase("link");
              before_json.Set("active", Json::MakeBool(false));
            }
            ReverseChange(before_json, after_json, item->json);
          }
          item->changed = true;
        }
        Json source = Json::MakeObject();
        source.Set("role", Str("source"));
        source.Set("what", Ref(records.front()));
        std::vector<Json> extra;
        extra.push_back(std::move(source));
        MA_ASSIGN_OR_RETURN(response, session.Commit("mpi-unmerge", "撤销 / undo", request.caller,
                                                     reason, std::move(extra)));
        return {};
      }
      case LinkAction::kResolve: {
        std::string decision = TextParameter(parameters, "decision");
        if (decision != "accept" && decision != "reject") {
          return Error::BadRequest("decision must be 'accept' or 'reject'", Where("decision"));
        }
        MA_ASSIGN_OR_RETURN(Item * task, session.Load("Task", request.id));
        std::string pair[2];
        bool is_review = false;
        if (const Json* code = task->json.Find("code"); code != nullptr) {
          if (const Json* codings = code->Find("coding"); codings != nullptr) {
            for (const Json& coding : codings->Items()) {
              is_review = is_review || (coding.GetStringMember("system") == kMpiCodeSystem &&
                                        coding.GetStringMember("code") == kReviewTaskCode);
            }
          }
        }
        if (const Json* inputs = task->json.Find("input"); inputs != nullptr) {
          for (const Json& input : inputs->Items()) {
            std::string type;
            if (const Json* concept_json = input.Find("type"); concept_json != nullptr) {
              if (const Json* codings = concept_json->Find("coding");
                  codings != nullptr && codings->IsArray() && codings->Size() > 0) {
                type = std::string(codings->Items().front().GetStringMember("code"));
              }
            }
            const Json* value = input.Find("valueReference");
            if (value == nullptr)
              continue;
            if (type == "patient")
              pair[0] = std::string(value->GetStringMember("reference"));
            if (type == "candidate")
              pair[1] = std::string(value->GetStringMember("reference"));
          }
        }
        if (!is_review || pair[0].empty() || pair[1].empty()) {
          return Error::Unprocessable("Task/" + request.id +
                                      " 不是主索引核对任务 / is not an mpi-review Task");
        }
        std::string_view task_status = task->json.GetStringMember("status");
        if (task_status != "requested" && task_status != "received" && task_status != "accepted" &&
            task_status != "ready" && task_status != "in-progress") {
          return Error::Conflict("Task/" + request.id + " 已处理（" + std::string(task_status) +
                                 "）/ is resolved already (" + std::string(task_status) + ")");
        }
        if (decision == "reject") {
          session.Reject(task->json, reason);
          task->changed = true;
          MA_ASSIGN_OR_RETURN(response, session.Commit("mpi-review-reject",
                                                       "核对：不是同一人 / "
                                                       "review: not the same person",
                                                       request.caller, reason));
          return {};
        }
        MA_ASSIGN_OR_RETURN(Item * a, session.Load(pair[0]));
        MA_RETURN_IF_ERROR(Done(session.Load(pair[1])));
        MA_ASSIGN_OR_RETURN(Item * person, session.PersonOf(pair[0]));
        if (person == nullptr) {
          person = &session.NewPerson(a->json);
          MA_RETURN_IF_ERROR(Done(session.Move(pair[0], *person, "level3")));
        }
        MA_ASSIGN_OR_RETURN(Item * other, session.PersonOf(pair[1]));
        if (other == nullptr) {
          MA_RETURN_IF_ERROR(Done(session.Move(pair[1], *person, "level3")));
        } else if (other != person) {
          for (const std::string& moved : LinkTargets(other->json)) {
            MA_RETURN_IF_ERROR(Done(session.Move(moved, *person, "level3")));
          }
        }
        task->json.Set("status", Str("completed"));
        task->json.Set("lastModified", Str(core::FormatInstant(now)));
        Json output = Json::MakeObject();
        output.Set("type", Concept(MpiCoding("decision")));
        output.Set("valueCode", Str("accept"));
        task->json.Set("output", Json::MakeArray()).PushBack(std::move(output));
        task->changed = true;
        MA_ASSIGN_OR_RETURN(response, session.Commit("mpi-review-accept",
                                                     "核对：同一人，已关联 / review: same "
                                                     "person, linked",
                                                     request.caller, reason));
        return {};
      }
    }
    return Error::Internal("unknown MPI action");
  });
  if (!status)
    return status.error();
  store::OperationResponse out;
  out.body = std::move(response);
  return out;
}

}  // namespace medalliance::mpi
