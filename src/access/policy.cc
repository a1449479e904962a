#include "access/policy.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <variant>

#include "mpi/link_operations.h"
#include "search/compartments.h"
#include "store/sql/schema.h"

namespace medalliance::access {

using core::Error;
using core::Result;
using fhir::Json;
using store::StoredResource;

namespace {

// SNOMED CT categories of ServiceRequest that make a treatment relationship.
constexpr std::string_view kReferralCode = "3457005";       // Patient referral
constexpr std::string_view kConsultationCode = "11429006";  // Consultation

// "Organization/X" or ".../Organization/X" -> X for `type`; empty otherwise.
std::string IdOf(std::string_view reference, std::string_view type) {
  std::string prefix = std::string(type) + "/";
  size_t at = reference.rfind(prefix);
  if (at == std::string_view::npos || (at > 0 && reference[at - 1] != '/'))
    return {};
  std::string_view id = reference.substr(at + prefix.size());
  if (id.empty() || id.find('/') != std::string_view::npos)
    return {};
  return std::string(id);
}

std::string_view ReferenceOf(const Json* value) {
  if (value == nullptr || !value->IsObject())
    return {};
  return value->GetStringMember("reference");
}

// Calls fn(reference) for a Reference or each Reference of an array.
template <typename Fn>
void ForReferences(const Json* value, const Fn& fn) {
  if (value == nullptr)
    return;
  if (value->IsArray()) {
    for (const Json& item : value->Items()) fn(ReferenceOf(&item));
  } else {
    fn(ReferenceOf(value));
  }
}

std::string CustodianLabel(const Json& resource) {
  const Json* meta = resource.Find("meta");
  if (meta == nullptr)
    return {};
  for (std::string_view list : {"security", "tag"}) {
    const Json* codings = meta->Find(list);
    if (codings == nullptr || !codings->IsArray())
      continue;
    for (const Json& coding : codings->Items()) {
      if (coding.GetStringMember("system") == kCustodianSystem)
        return std::string(coding.GetStringMember("code"));
    }
  }
  return {};
}

bool HasCoding(const Json* concepts, std::string_view code) {
  auto check = [&](const Json& value) {
    const Json* codings = value.Find("coding");
    if (codings == nullptr || !codings->IsArray())
      return false;
    for (const Json& coding : codings->Items()) {
      if (coding.GetStringMember("code") == code)
        return true;
    }
    return false;
  };
  if (concepts == nullptr)
    return false;
  if (concepts->IsArray()) {
    for (const Json& value : concepts->Items()) {
      if (check(value))
        return true;
    }
    return false;
  }
  return check(*concepts);
}

// Current, non-deleted resources of `type` whose index rows reference one of `references`.
Result<std::vector<StoredResource>> Referencing(store::ReadTx& tx, std::string_view type,
                                                const std::vector<std::string>& references) {
  const store::Dialect& dialect = tx.GetDialect();
  store::SqlQuery query;
  query.sql = "SELECT " + std::string(store::sql::kResourceColumns) +
              " FROM current_resources c JOIN resources r ON r.sequence = c.sequence"
              " WHERE c.type = " +
              dialect.Placeholder(1) +
              " AND c.deleted = 0 AND c.id IN (SELECT x.id FROM index_reference x WHERE x.type = " +
              dialect.Placeholder(1) + " AND x.value IN (";
  query.params.emplace_back(std::string(type));
  for (size_t i = 0; i < references.size(); ++i) {
    if (i > 0)
      query.sql += ", ";
    query.sql += dialect.Placeholder(static_cast<int>(i + 2));
    query.params.emplace_back(references[i]);
  }
  query.sql += "))";
  return tx.QueryResources(query);
}

std::vector<std::string> PatientReferences(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) out.push_back("Patient/" + id);
  return out;
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kUnrestricted:
      return "unrestricted";
    case Rule::kOwn:
      return "own-record";
    case Rule::kShared:
      return "shared";
    case Rule::kTreatment:
      return "treatment-relationship";
    case Rule::kBreakGlass:
      return "break-glass";
    case Rule::kAuditOversight:
      return "audit-oversight";
    case Rule::kNoRelationship:
      return "no-treatment-relationship";
    case Rule::kConsentRefused:
      return "consent-refused";
    case Rule::kOtherMember:
      return "other-member";
    case Rule::kAuditEventProtected:
      return "audit-event-protected";
  }
  return "unknown";
}

// A switch on the first letter: asked for every row a search returns, where a linear search of
// the 20 names cost about 100 instructions.
bool IsRegistryType(std::string_view type) {
  if (type.empty())
    return false;
  switch (type[0]) {
    case 'A':
      return type == "ActivityDefinition";
    case 'C':
      return type == "CodeSystem" || type == "ConceptMap" || type == "CapabilityStatement";
    case 'E':
      return type == "Endpoint";
    case 'H':
      return type == "HealthcareService";
    case 'L':
      return type == "Location" || type == "Library";
    case 'M':
      return type == "Measure";
    case 'N':
      return type == "NamingSystem";
    case 'O':
      return type == "Organization" || type == "OrganizationAffiliation" ||
             type == "OperationDefinition";
    case 'P':
      return type == "Practitioner" || type == "PractitionerRole" || type == "PlanDefinition";
    case 'Q':
      return type == "Questionnaire";
    case 'S':
      return type == "StructureDefinition" || type == "SearchParameter";
    case 'V':
      return type == "ValueSet";
    default:
      return false;
  }
}

bool HasRole(const store::Caller& caller, std::string_view role) {
  return Contains(caller.roles, role);
}

std::optional<std::string> FastCustodian(std::string_view json) {
  // memmem (two-way, vectorised in glibc) is several times faster than string_view::find
  // here: the needle starts with a letter that JSON text is full of.
  static const std::string kNeedle =
      "{\"system\":\"" + std::string(kCustodianSystem) + "\",\"code\":\"";
  auto find = [&](std::string_view needle, size_t from) -> size_t {
    if (from >= json.size())
      return std::string_view::npos;
    const void* hit = memmem(json.data() + from, json.size() - from, needle.data(), needle.size());
    return hit == nullptr ? std::string_view::npos
                          : static_cast<size_t>(static_cast<const char*>(hit) - json.data());
  };
  size_t first = find(kCustodianSystem, 0);
  if (first == std::string_view::npos)
    return std::string();  // no label anywhere: derive from content (caller parses)
  if (find(kCustodianSystem, first + 1) != std::string_view::npos)
    return std::nullopt;
  size_t prefix = kNeedle.size() - kCustodianSystem.size() - 10;  // {"system":"
  if (first < prefix || json.compare(first - prefix, kNeedle.size(), kNeedle) != 0)
    return std::nullopt;
  size_t start = first - prefix + kNeedle.size();
  size_t end = json.find('"', start);
  if (end == std::string_view::npos || end + 1 >= json.size() || json[end + 1] != '}')
    return std::nullopt;
  std::string_view code = json.substr(start, end - start);
  if (code.empty() || code.find('\\') != std::string_view::npos)
    return std::nullopt;
  return std::string(code);
}

std::string OwnerOf(const Json& resource) {
  std::string label = CustodianLabel(resource);
  if (!label.empty())
    return label;
  std::string_view type = resource.GetStringMember("resourceType");
  std::string owner;
  auto take = [&](std::string_view reference) {
    if (owner.empty())
      owner = IdOf(reference, "Organization");
  };
  if (type == "Patient") {
    take(ReferenceOf(resource.Find("managingOrganization")));
    if (!owner.empty())
      return owner;
    if (const Json* identifiers = resource.Find("identifier");
        identifiers && identifiers->IsArray()) {
      for (const Json& identifier : identifiers->Items()) {
        std::string_view system = identifier.GetStringMember("system");
        if (system.starts_with(kMrnSystemPrefix))
          return std::string(system.substr(kMrnSystemPrefix.size()));
      }
    }
    return {};
  }
  for (std::string_view field : {"serviceProvider", "performer", "requester", "custodian", "author",
                                 "organization", "managingOrganization", "recorder"}) {
    ForReferences(resource.Find(field), take);
    if (!owner.empty())
      break;
  }
  return owner;
}

Policy::Policy(PolicyOptions options) : options_(options) {
  if (options_.clock == nullptr)
    options_.clock = &core::SystemClock::Get();
}

core::EpochMillis Policy::Now() const {
  return options_.clock->Now();
}

namespace {

std::string GrantCaller(const store::Caller& caller) {
  return caller.organization_id + "|" + caller.client_id + "|" + caller.practitioner_id;
}

}  // namespace

Result<std::optional<BreakGlassGrant>> Policy::OpenBreakGlass(store::ReadTx& tx,
                                                              const store::Caller& caller,
                                                              const std::string& patient) const {
  const std::string who = GrantCaller(caller);
  const std::string key = who + "|" + patient;
  core::EpochMillis now = Now();
  {
    std::lock_guard lock(mutex_);
    auto it = grants_.find(key);
    if (it != grants_.end() && it->second > now)
      return std::optional<BreakGlassGrant>();
  }
  // A grant opened before a restart (or by another server on the database) still covers it.
  const store::Dialect& dialect = tx.GetDialect();
  store::SqlQuery query;
  query.sql = "SELECT end_ms FROM break_glass_grants WHERE caller = " + dialect.Placeholder(1) +
              " AND patient = " + dialect.Placeholder(2) +
              " AND start_ms <= " + dialect.Placeholder(3) + " AND end_ms > " +
              dialect.Placeholder(3);
  query.params = {who, patient, int64_t{now}};
  MA_ASSIGN_OR_RETURN(std::vector<store::SqlRow> rows, tx.QueryRows(query));
  std::lock_guard lock(mutex_);
  core::EpochMillis& end = grants_[key];
  if (!rows.empty() && std::holds_alternative<int64_t>(rows.front()[0]))
    end = std::max(end, std::get<int64_t>(rows.front()[0]));
  if (end > now)
    return std::optional<BreakGlassGrant>();
  BreakGlassGrant grant;
  grant.patient = patient;
  grant.reason = caller.break_glass_reason.value_or("");
  grant.start = now;
  grant.end = now + options_.break_glass_window_ms;
  end = grant.end;
  return std::optional<BreakGlassGrant>(std::move(grant));
}

core::Status SaveBreakGlass(store::WriteTx& tx, const store::Caller& caller,
                            const BreakGlassGrant& grant) {
  const store::Dialect& dialect = tx.GetDialect();
  store::SqlQuery expired;
  expired.sql = "DELETE FROM break_glass_grants WHERE end_ms <= " + dialect.Placeholder(1);
  expired.params = {int64_t{grant.start}};
  MA_RETURN_IF_ERROR(tx.Execute(expired));
  store::SqlQuery insert;
  insert.sql =
      "INSERT INTO break_glass_grants (caller, patient, start_ms, end_ms, reason) VALUES (" +
      dialect.Placeholder(1) + ", " + dialect.Placeholder(2) + ", " + dialect.Placeholder(3) +
      ", " + dialect.Placeholder(4) + ", " + dialect.Placeholder(5) +
      ") ON CONFLICT (caller, patient) DO UPDATE SET start_ms = excluded.start_ms,"
      " end_ms = excluded.end_ms, reason = excluded.reason";
  insert.params = {GrantCaller(caller), grant.patient, int64_t{grant.start}, int64_t{grant.end},
                   grant.reason};
  MA_RETURN_IF_ERROR(tx.Execute(insert));
  return {};
}

core::Status Policy::CheckWrite(store::ReadTx& tx, const store::Caller& caller,
                                std::string_view type, Json* resource,
                                const StoredResource* previous) const {
  if (!caller.authenticated)
    return {};
  if (type == "AuditEvent") {
    if (previous != nullptr) {
      return Error(core::ErrorCode::kMethodNotAllowed,
                   "AuditEvents are never updated or deleted (rule audit-append-only)");
    }
    return Error::Forbidden("AuditEvents are recorded by the server (rule audit-append-only)");
  }
  bool registry = IsRegistryType(type);
  if (registry && !HasRole(caller, "alliance-admin")) {
    return Error::Forbidden("the registry (" + std::string(type) +
                            ") is changed by alliance administrators only (rule registry-admin)");
  }
  if (previous != nullptr && !previous->deleted && !registry) {
    std::optional<std::string> fast = FastCustodian(previous->json);
    std::string owner;
    if (fast.has_value() && !fast->empty()) {
      owner = *fast;
    } else {
      MA_ASSIGN_OR_RETURN(Json parsed, fhir::ParseJson(previous->json));
      owner = OwnerOf(parsed);
    }
    if (owner != caller.organization_id) {
      Session session(*this, caller);
      MA_ASSIGN_OR_RETURN(Verdict verdict, session.Decide(tx, *previous));
      if (!verdict.allowed)
        return Error::NotFound(previous->type + "/" + previous->id + " is not known");
      return Error::Forbidden(previous->type + "/" + previous->id + " is managed by " +
                              (owner.empty() ? std::string("no member") : "member " + owner) +
                              "; only its owner writes it (rule owner-writes)");
    }
  }
  if (resource == nullptr)
    return {};
  // The owner label is the server's: client-supplied custodian codings are dropped and any
  // left elsewhere (a contained resource, an extension) is refused as a forgery.
  if (Json* meta = resource->Find("meta"); meta != nullptr && meta->IsObject()) {
    for (std::string_view list : {"security", "tag"}) {
      Json* codings = meta->Find(list);
      if (codings == nullptr || !codings->IsArray())
        continue;
      Json::Array& items = codings->Items();
      items.erase(std::remove_if(items.begin(), items.end(),
                                 [](const Json& coding) {
                                   return coding.GetStringMember("system") == kCustodianSystem;
                                 }),
                  items.end());
      if (items.empty())
        meta->Erase(list);
    }
  }
  if (fhir::WriteJson(*resource).find(kCustodianSystem) != std::string::npos) {
    return Error::Unprocessable("the custodian label is set by the server only",
                                std::string(type) + ".meta.security");
  }
  if (caller.organization_id.empty())
    return {};
  Json* meta = resource->Find("meta");
  if (meta == nullptr || !meta->IsObject()) {
    size_t position = resource->Find("id") != nullptr ? 2 : 1;
    meta = &resource->SetAt(position, "meta", Json::MakeObject());
  }
  Json* security = meta->Find("security");
  if (security == nullptr || !security->IsArray())
    security = &meta->Set("security", Json::MakeArray());
  Json label = Json::MakeObject();
  label.Set("system", Json::MakeString(std::string(kCustodianSystem)));
  label.Set("code", Json::MakeString(caller.organization_id));
  security->Items().insert(security->Items().begin(), std::move(label));
  return {};
}

// ---- Session ----

Session::Session(const Policy& policy, const store::Caller& caller)
    : policy_(policy), caller_(caller) {}

bool Session::MayBreakGlass() const {
  return caller_.break_glass_reason.has_value() && !caller_.break_glass_reason->empty() &&
         (HasRole(caller_, "clinician") || HasRole(caller_, "system"));
}

core::Result<bool> Session::Visible(store::ReadTx& tx, const StoredResource& resource) {
  if (!caller_.authenticated)
    return true;
  // Every row of a search and every included resource comes here: the own and registry cases
  // are decided without building a Verdict (no strings copied).
  if (!resource.deleted) {
    if (IsRegistryType(resource.type))
      return true;
    MA_ASSIGN_OR_RETURN(bool own, KnownOwn(tx, resource, nullptr));
    if (own)
      return true;
  }
  MA_ASSIGN_OR_RETURN(Verdict verdict, Decide(tx, resource));
  return verdict.allowed;
}

// Whether content facts may be remembered from what this transaction read: only from a
// read-only transaction, which sees committed versions only. A version read inside a write
// transaction may be rolled back and its sequence handed to another version; a committed
// version's sequence never is (content_cache.cc explains why that makes a false hit impossible).
namespace {

bool Committed(store::ReadTx& tx) {
  return dynamic_cast<store::WriteTx*>(&tx) == nullptr;
}

}  // namespace

bool Session::UseGeneration(uint32_t generation) {
  if (generation == codes_generation_)
    return true;
  ContentCache::Interned own{generation, ContentCache::kNoCode};
  if (!caller_.organization_id.empty()) {
    own = policy_.Content().Intern(caller_.organization_id);
    if (own.generation != generation)
      return false;
  }
  codes_generation_ = generation;
  own_code_ = own.code;
  last_patient_code_ = ContentCache::kNoCode;
  patient_own_.clear();
  return true;
}

// The caller's member's own, known without parsing the version: from its content facts of an
// earlier request (a record naming no member: its patient's record's owner), compared as codes,
// else from the one custodian label in its text. `fast`, when given, receives the label
// search's result so that the caller does not repeat it.
core::Result<bool> Session::KnownOwn(store::ReadTx& tx, const StoredResource& resource,
                                     std::optional<std::string>* fast) {
  ContentCache& cache = policy_.Content();
  const bool cacheable = resource.type != "Person";
  ContentCache::Facts facts;
  if (cacheable && cache.Lookup(resource, &facts) && UseGeneration(facts.generation)) {
    if (facts.owner != ContentCache::kEmpty)
      return facts.owner == own_code_;
    if (facts.patient == ContentCache::kEmpty)
      return false;  // about no member and no patient: not own (the caller decides)
    // A search's rows: mostly about the patient of the row before.
    if (facts.patient == last_patient_code_)
      return last_patient_own_;
    if (auto memo = patient_own_.find(facts.patient); memo != patient_own_.end()) {
      last_patient_code_ = facts.patient;
      last_patient_own_ = memo->second;
      return last_patient_own_;
    }
    return PatientIsOwn(tx, resource, facts);
  }
  std::optional<std::string> label = FastCustodian(resource.json);
  if (!label.has_value() || label->empty()) {
    if (fast != nullptr)
      *fast = std::move(label);
    return false;
  }
  if (cacheable && Committed(tx))
    cache.Remember(resource, *label, {});
  const bool own = *label == caller_.organization_id;
  if (fast != nullptr)
    *fast = std::move(label);
  return own;
}

core::Result<bool> Session::PatientIsOwn(store::ReadTx& tx, const StoredResource& resource,
                                         const ContentCache::Facts& facts) {
  ContentCache& cache = policy_.Content();
  std::optional<bool> own;
  // The session's own memo first (filled when a row was decided in full): the patient's id is
  // needed for it. A search of one patient's records, the common case, starts with it empty.
  const bool memo = !last_patient_.empty() || !patient_owner_.empty();
  bool named = false;
  if (memo) {
    if (!cache.Name(facts.generation, facts.patient, &patient_))
      return false;  // the generation passed since the lookup: unknown (the caller parses)
    named = true;
    if (!last_patient_.empty() && patient_ == last_patient_) {
      own = !last_patient_owner_.empty() && last_patient_owner_ == caller_.organization_id;
    } else if (auto cached = patient_owner_.find(patient_); cached != patient_owner_.end()) {
      own = !cached->second.empty() && cached->second == caller_.organization_id;
    }
  }
  if (!own.has_value()) {
    // The owner resolved for this version, while nothing was committed since (codes compared).
    MA_ASSIGN_OR_RETURN(std::optional<store::ReadTx::ChangeMarks> marks, tx.Changes());
    if (marks.has_value() && facts.owner_stamp == marks->current) {
      own = facts.patient_owner == own_code_;
    } else {
      if (!named && !cache.Name(facts.generation, facts.patient, &patient_))
        return false;
      MA_ASSIGN_OR_RETURN(std::string owner, SharedPatientOwner(tx, patient_, marks));
      if (marks.has_value() && Committed(tx))
        cache.RememberResolvedOwner(resource, facts, owner, marks->stamp);
      own = !owner.empty() && owner == caller_.organization_id;
      RememberPatientOwner(patient_, owner);
    }
  }
  patient_own_.insert_or_assign(facts.patient, *own);
  last_patient_code_ = facts.patient;
  last_patient_own_ = *own;
  return *own;
}

namespace {

constexpr size_t kMaxPatientOwners = 200'000;

}  // namespace

Result<int64_t> Policy::PatientSequence(store::ReadTx& tx, const std::string& patient) {
  store::SqlQuery query;
  query.sql = "SELECT sequence FROM current_resources WHERE type = 'Patient' AND id = " +
              tx.GetDialect().Placeholder(1);
  query.params = {patient};
  MA_ASSIGN_OR_RETURN(std::vector<store::SqlRow> rows, tx.QueryRows(query));
  if (rows.empty() || rows.front().empty() || !std::holds_alternative<int64_t>(rows.front()[0]))
    return int64_t{0};
  return std::get<int64_t>(rows.front()[0]);
}

std::optional<std::string> Policy::LookupUnchangedPatientOwner(const std::string& patient,
                                                               int64_t current) const {
  std::shared_lock lock(patient_mutex_);
  auto found = patient_owner_.find(patient);
  if (found == patient_owner_.end() || found->second.stamp != current)
    return std::nullopt;
  return found->second.owner;
}

std::optional<std::string> Policy::LookupPatientOwner(const std::string& patient, int64_t sequence,
                                                      int64_t stamp) const {
  std::unique_lock lock(patient_mutex_);
  auto found = patient_owner_.find(patient);
  if (found == patient_owner_.end() || found->second.sequence != sequence)
    return std::nullopt;
  found->second.stamp = stamp;
  return found->second.owner;
}

void Policy::RememberPatientOwner(const std::string& patient, int64_t sequence,
                                  const std::string& owner, int64_t stamp) const {
  std::unique_lock lock(patient_mutex_);
  if (patient_owner_.size() >= kMaxPatientOwners)
    patient_owner_.clear();
  patient_owner_.insert_or_assign(patient, PatientOwnerEntry{sequence, owner, stamp});
}

Result<Verdict> Session::Decide(store::ReadTx& tx, const StoredResource& resource) {
  Verdict verdict;
  if (!caller_.authenticated) {
    verdict.allowed = true;
    return verdict;
  }
  if (resource.deleted) {
    // A delete marker shows as much as the version it deleted.
    if (resource.version <= 1)
      return verdict;
    MA_ASSIGN_OR_RETURN(std::optional<StoredResource> before,
                        tx.ReadVersion(resource.type, resource.id, resource.version - 1));
    if (!before.has_value())
      return verdict;
    return Decide(tx, *before);
  }
  if (IsRegistryType(resource.type)) {
    verdict.allowed = true;
    verdict.rule = Rule::kShared;
    return verdict;
  }
  // The common case, a member reading its own records: decided from what an earlier request
  // learnt of this version, else from the label in the text, without parsing it.
  std::optional<std::string> fast;
  MA_ASSIGN_OR_RETURN(bool own, KnownOwn(tx, resource, &fast));
  if (own) {
    verdict.allowed = true;
    verdict.rule = Rule::kOwn;
    verdict.owner = caller_.organization_id;
    return verdict;
  }
  MA_ASSIGN_OR_RETURN(Json parsed, fhir::ParseJson(resource.json));
  std::string owner = fast.has_value() && !fast->empty() ? *fast : OwnerOf(parsed);
  if (resource.type != "Person" && Committed(tx)) {
    std::string patient;
    if (owner.empty()) {
      std::vector<std::string> patients = search::CompartmentsOf(parsed, "Patient");
      if (!patients.empty())
        patient = std::move(patients.front());
    }
    policy_.Content().Remember(resource, owner, patient);
  }
  MA_ASSIGN_OR_RETURN(verdict, DecideJson(tx, parsed, owner));
  if (verdict.cross_member() || verdict.rule == Rule::kBreakGlass) {
    std::string reference =
        resource.type + "/" + resource.id + "/_history/" + std::to_string(resource.version);
    if (recorded_.insert(reference).second) {
      cross_reads_.push_back(Access{reference, verdict.owner, verdict.patients, verdict.rule});
    }
  }
  return verdict;
}

Result<Verdict> Session::DecideJson(store::ReadTx& tx, const Json& resource,
                                    const std::string& issuer) {
  std::string owner = issuer;
  Verdict verdict;
  verdict.owner = owner;
  std::string_view type = resource.GetStringMember("resourceType");
  if (!owner.empty() && owner == caller_.organization_id) {
    verdict.allowed = true;
    verdict.rule = Rule::kOwn;
    return verdict;
  }
  if (type == "AuditEvent") {
    if (HasRole(caller_, "data-steward") || HasRole(caller_, "alliance-admin")) {
      verdict.allowed = true;
      verdict.rule = Rule::kAuditOversight;
    } else {
      verdict.rule = Rule::kAuditEventProtected;
    }
    return verdict;
  }
  if (type == "Person") {
    // The MPI's link record: about the patients it links.
    if (const Json* links = resource.Find("link"); links != nullptr && links->IsArray()) {
      for (const Json& link : links->Items()) {
        std::string id = IdOf(ReferenceOf(link.Find("target")), "Patient");
        if (!id.empty())
          verdict.patients.push_back(id);
      }
    }
  } else {
    verdict.patients = search::CompartmentsOf(resource, "Patient");
  }
  if (owner.empty() && !verdict.patients.empty()) {
    // A record that names no issuing member (loaded from a HIS without a performer) belongs
    // to the member that manages the patient's record.
    MA_ASSIGN_OR_RETURN(owner, PatientOwner(tx, verdict.patients.front()));
    verdict.owner = owner;
    if (!owner.empty() && owner == caller_.organization_id) {
      verdict.allowed = true;
      verdict.rule = Rule::kOwn;
      return verdict;
    }
  }
  if (verdict.patients.empty()) {
    verdict.allowed = owner.empty();
    verdict.rule = owner.empty() ? Rule::kShared : Rule::kOtherMember;
    return verdict;
  }
  bool treats = true;
  bool sharing = true;
  for (const std::string& patient : verdict.patients) {
    MA_ASSIGN_OR_RETURN(std::vector<std::string> linked, LinkedPatients(tx, patient));
    MA_ASSIGN_OR_RETURN(bool t, Treats(tx, linked, owner));
    treats = treats && t;
    if (!treats)
      break;
    MA_ASSIGN_OR_RETURN(bool s, SharingAllowed(tx, linked));
    sharing = sharing && s;
    if (!sharing)
      break;
  }
  if (treats && sharing) {
    verdict.allowed = true;
    verdict.rule = Rule::kTreatment;
    return verdict;
  }
  if (MayBreakGlass()) {
    verdict.allowed = true;
    verdict.rule = Rule::kBreakGlass;
    for (const std::string& patient : verdict.patients) {
      MA_ASSIGN_OR_RETURN(std::optional<BreakGlassGrant> grant,
                          policy_.OpenBreakGlass(tx, caller_, patient));
      if (grant.has_value())
        new_grants_.push_back(std::move(*grant));
    }
    return verdict;
  }
  verdict.rule = treats ? Rule::kConsentRefused : Rule::kNoRelationship;
  return verdict;
}

Result<std::vector<std::string>> Session::LinkedPatients(store::ReadTx& tx,
                                                         const std::string& patient) {
  auto cached = linked_.find(patient);
  if (cached != linked_.end())
    return cached->second;
  MA_ASSIGN_OR_RETURN(std::vector<std::string> references,
                      mpi::LinkedPatients(tx, "Patient/" + patient));
  std::vector<std::string> linked;
  for (const std::string& reference : references) {
    std::string id = IdOf(reference, "Patient");
    if (!id.empty())
      linked.push_back(std::move(id));
  }
  linked_[patient] = linked;
  return linked;
}

Result<std::string> Session::OrganizationOf(store::ReadTx& tx, std::string_view reference) {
  std::string id = IdOf(reference, "Organization");
  if (!id.empty())
    return id;
  std::string role = IdOf(reference, "PractitionerRole");
  if (role.empty())
    return std::string();
  auto cached = organization_of_.find(role);
  if (cached != organization_of_.end())
    return cached->second;
  std::string organization;
  MA_ASSIGN_OR_RETURN(std::optional<StoredResource> stored,
                      tx.ReadCurrent("PractitionerRole", role));
  if (stored.has_value() && !stored->deleted) {
    Result<Json> parsed = fhir::ParseJson(stored->json);
    if (parsed)
      organization = IdOf(ReferenceOf(parsed->Find("organization")), "Organization");
  }
  organization_of_[role] = organization;
  return organization;
}

Result<std::string> Session::PatientOwner(store::ReadTx& tx, const std::string& patient) {
  MA_ASSIGN_OR_RETURN(const std::string* owner, PatientOwnerRef(tx, patient));
  return *owner;
}

// The owner, as the session's own copy (valid until the next call): a search's rows are
// mostly about the patient of the row before, decided without copying a string.
Result<const std::string*> Session::PatientOwnerRef(store::ReadTx& tx, const std::string& patient) {
  if (!last_patient_.empty() && patient == last_patient_)
    return &last_patient_owner_;
  MA_ASSIGN_OR_RETURN(std::string owner, LookUpPatientOwner(tx, patient));
  RememberPatientOwner(patient, owner);
  return &last_patient_owner_;
}

Result<std::string> Session::LookUpPatientOwner(store::ReadTx& tx, const std::string& patient) {
  auto cached = patient_owner_.find(patient);
  if (cached != patient_owner_.end())
    return cached->second;
  MA_ASSIGN_OR_RETURN(std::optional<store::ReadTx::ChangeMarks> marks, tx.Changes());
  return SharedPatientOwner(tx, patient, marks);
}

Result<std::string> Session::SharedPatientOwner(
    store::ReadTx& tx, const std::string& patient,
    const std::optional<store::ReadTx::ChangeMarks>& marks) {
  // Nothing committed since the entry was read or checked: the owner is the same.
  if (marks.has_value()) {
    if (std::optional<std::string> owner =
            policy_.LookupUnchangedPatientOwner(patient, marks->current)) {
      return std::move(*owner);
    }
  }
  const int64_t stamp = marks.has_value() ? marks->stamp : Policy::kNoStamp;
  MA_ASSIGN_OR_RETURN(int64_t sequence, Policy::PatientSequence(tx, patient));
  if (std::optional<std::string> known = policy_.LookupPatientOwner(patient, sequence, stamp))
    return std::move(*known);
  std::string owner;
  MA_ASSIGN_OR_RETURN(std::optional<StoredResource> stored, tx.ReadCurrent("Patient", patient));
  if (stored.has_value() && !stored->deleted) {
    std::optional<std::string> fast = FastCustodian(stored->json);
    ContentCache::Facts facts;
    if (fast.has_value() && !fast->empty()) {
      owner = *fast;
    } else if (policy_.Content().Lookup(*stored, &facts) &&
               policy_.Content().Name(facts.generation, facts.owner, &owner)) {
      // the owner learnt from this version before
    } else if (Result<Json> parsed = fhir::ParseJson(stored->json); parsed) {
      owner = OwnerOf(*parsed);
      if (Committed(tx))
        policy_.Content().Remember(*stored, owner, {});
    }
  }
  // The sequence read before ReadCurrent, in the same transaction: the same version.
  policy_.RememberPatientOwner(patient, stored.has_value() ? stored->sequence : sequence, owner,
                               stamp);
  return owner;
}

// The last patient in two strings (a read asks about one patient: no map node), the others
// in the map (a search's rows are about many).
void Session::RememberPatientOwner(const std::string& patient, const std::string& owner) {
  if (!last_patient_.empty())
    patient_owner_.insert_or_assign(std::move(last_patient_), std::move(last_patient_owner_));
  last_patient_ = patient;
  last_patient_owner_ = owner;
}

Result<bool> Session::Treats(store::ReadTx& tx, const std::vector<std::string>& patients,
                             const std::string& owner) {
  std::string key = owner;
  for (const std::string& patient : patients) key += "|" + patient;
  auto cached = treats_.find(key);
  if (cached != treats_.end())
    return cached->second;
  const std::string& reader = caller_.organization_id;
  std::vector<std::string> references = PatientReferences(patients);
  bool treats = false;
  if (!reader.empty()) {
    // An encounter of the patient at the reader.
    MA_ASSIGN_OR_RETURN(std::vector<StoredResource> encounters,
                        Referencing(tx, "Encounter", references));
    for (const StoredResource& stored : encounters) {
      Result<Json> encounter = fhir::ParseJson(stored.json);
      if (!encounter)
        continue;
      std::string_view status = encounter->GetStringMember("status");
      if (status == "cancelled" || status == "entered-in-error")
        continue;
      if (!Contains(references, std::string(ReferenceOf(encounter->Find("subject")))))
        continue;
      MA_ASSIGN_OR_RETURN(std::string provider,
                          OrganizationOf(tx, ReferenceOf(encounter->Find("serviceProvider"))));
      if (provider == reader) {
        treats = true;
        break;
      }
    }
  }
  if (!treats && !reader.empty()) {
    // An open referral or consultation between the reader and the owner.
    MA_ASSIGN_OR_RETURN(std::vector<StoredResource> requests,
                        Referencing(tx, "ServiceRequest", references));
    for (const StoredResource& stored : requests) {
      Result<Json> request = fhir::ParseJson(stored.json);
      if (!request || request->GetStringMember("status") != "active")
        continue;
      const Json* category = request->Find("category");
      if (!HasCoding(category, kReferralCode) && !HasCoding(category, kConsultationCode))
        continue;
      if (!Contains(references, std::string(ReferenceOf(request->Find("subject")))))
        continue;
      std::vector<std::string> members;
      MA_ASSIGN_OR_RETURN(std::string requester,
                          OrganizationOf(tx, ReferenceOf(request->Find("requester"))));
      members.push_back(requester);
      if (const Json* performers = request->Find("performer");
          performers != nullptr && performers->IsArray()) {
        for (const Json& performer : performers->Items()) {
          MA_ASSIGN_OR_RETURN(std::string organization,
                              OrganizationOf(tx, ReferenceOf(&performer)));
          members.push_back(organization);
        }
      }
      if (Contains(members, reader) && (owner.empty() || Contains(members, owner))) {
        treats = true;
        break;
      }
    }
  }
  treats_[key] = treats;
  return treats;
}

Result<bool> Session::SharingAllowed(store::ReadTx& tx, const std::vector<std::string>& patients) {
  std::string key;
  for (const std::string& patient : patients) key += "|" + patient;
  auto cached = sharing_.find(key);
  if (cached != sharing_.end())
    return cached->second;
  std::vector<std::string> references = PatientReferences(patients);
  MA_ASSIGN_OR_RETURN(std::vector<StoredResource> consents, Referencing(tx, "Consent", references));
  bool denied = false;
  bool permitted = false;
  for (const StoredResource& stored : consents) {
    Result<Json> consent = fhir::ParseJson(stored.json);
    if (!consent || consent->GetStringMember("status") != "active")
      continue;
    if (!HasCoding(consent->Find("scope"), "patient-privacy"))
      continue;
    if (!Contains(references, std::string(ReferenceOf(consent->Find("patient")))))
      continue;
    const Json* provision = consent->Find("provision");
    if (provision == nullptr || !provision->IsObject())
      continue;
    // provision.actor naming members limits the provision to them.
    bool applies = true;
    if (const Json* actors = provision->Find("actor"); actors != nullptr && actors->IsArray()) {
      std::vector<std::string> members;
      for (const Json& actor : actors->Items()) {
        MA_ASSIGN_OR_RETURN(std::string organization,
                            OrganizationOf(tx, ReferenceOf(actor.Find("reference"))));
        if (!organization.empty())
          members.push_back(organization);
      }
      applies = members.empty() || Contains(members, caller_.organization_id);
    }
    if (!applies)
      continue;
    std::string_view type = provision->GetStringMember("type");
    if (type == "deny")
      denied = true;
    if (type == "permit")
      permitted = true;
  }
  bool allowed =
      !denied && (policy_.Options().consent_default == ConsentDefault::kOptOut || permitted);
  sharing_[key] = allowed;
  return allowed;
}

}  // namespace medalliance::access
