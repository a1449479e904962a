#include "recognition/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "core/time.h"
#include "fhir/json/members.h"
#include "mpi/link_operations.h"
#include "store/sql/schema.h"

namespace medalliance::recognition {
namespace {

using fhir::Json;

constexpr int kMaxResults = 1000;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& value : values) {
    if (!out.empty())
      out += ',';
    // A comma inside a value is escaped for the search parser.
    for (char c : value) {
      if (c == ',' || c == '\\')
        out += '\\';
      out += c;
    }
  }
  return out;
}

std::optional<core::EpochMillis> ParseInstant(std::string_view text) {
  core::Result<core::DateRange> range = core::ParseFhirDateTime(text, 480);
  if (!range)
    return std::nullopt;
  return range->low;
}

// The elements of a candidate result the engine reads; the rest (value, text, ...) is skipped.
const std::vector<std::string_view>& CandidateMembers() {
  static const std::vector<std::string_view> members = {
      "resourceType",     "status",          "code",
      "subject",          "issued",          "effectiveDateTime",
      "effectiveInstant", "effectivePeriod", "performer",
      "specimen",         "method",          "result",
      "imagingStudy",     "series",          "procedureCode",
      "started"};
  return members;
}

std::string Days(int64_t days) {
  return std::to_string(days);
}

// The reference text of every element of `list` (an array of References) of the given type.
void CollectReferences(const Json* list, std::string_view prefix, std::vector<std::string>& out) {
  if (list == nullptr || !list->IsArray())
    return;
  for (const Json& reference : list->Items()) {
    std::string_view text = reference.GetStringMember("reference");
    if (text.rfind(prefix, 0) == 0)
      out.emplace_back(text);
  }
}

// The status findings of a result.
std::optional<Finding> StatusFinding(std::string_view type, std::string_view status) {
  auto finding = [](Reason reason, std::string_view status_text) {
    return Finding{
        reason, std::string(ReasonDisplay(reason)) + " (status " + std::string(status_text) + ")",
        0};
  };
  if (type == "ImagingStudy") {
    if (status == "available")
      return std::nullopt;
    if (status == "cancelled" || status == "entered-in-error")
      return finding(Reason::kEnteredInError, status);
    return finding(Reason::kPreliminary, status.empty() ? "unknown" : status);
  }
  if (status == "final")
    return std::nullopt;
  if (status == "amended" || status == "corrected" || status == "appended")
    return finding(Reason::kAmended, status);
  if (status == "cancelled" || status == "entered-in-error")
    return finding(Reason::kEnteredInError, status);
  return finding(Reason::kPreliminary, status.empty() ? "unknown" : status);
}

bool CodesAny(const Json* concept_json,
              const std::vector<std::pair<std::string, std::string>>& codings) {
  if (concept_json == nullptr)
    return false;
  const Json* list = concept_json->Find("coding");
  if (list == nullptr || !list->IsArray())
    return false;
  for (const Json& coding : list->Items()) {
    for (const auto& [system, code] : codings) {
      if (coding.GetStringMember("system") == system && coding.GetStringMember("code") == code)
        return true;
    }
  }
  return false;
}

// True when an ImagingStudy shows `item`: its procedureCode names it, or one series has the
// item's modality and body site.
bool StudyShows(const Json& study, const Item& item) {
  auto codings = item.Codings();
  if (const Json* procedures = study.Find("procedureCode");
      procedures != nullptr && procedures->IsArray()) {
    for (const Json& procedure : procedures->Items()) {
      if (CodesAny(&procedure, codings))
        return true;
    }
  }
  if (item.category != Category::kExam)
    return false;
  const Json* series = study.Find("series");
  if (series == nullptr || !series->IsArray())
    return false;
  for (const Json& one : series->Items()) {
    const Json* modality = one.Find("modality");
    const Json* site = one.Find("bodySite");
    if (modality != nullptr && site != nullptr &&
        modality->GetStringMember("code") == item.modality &&
        site->GetStringMember("code") == item.body_site) {
      return true;
    }
  }
  return false;
}

}  // namespace

int64_t ShanghaiDay(core::EpochMillis millis) {
  int64_t shifted = millis + kShanghaiOffsetMillis;
  int64_t day = shifted / kDayMillis;
  if (shifted % kDayMillis < 0)
    --day;
  return day;
}

std::string FormatDay(int64_t day) {
  // Civil date of a day number (H. Hinnant's days_from_civil inverse): no time formatting.
  int64_t z = day + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) {
    char text[24];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", static_cast<int>(y), static_cast<int>(m),
                  static_cast<int>(d));
    return text;
  }
  // Digits by hand: snprintf was 5 % of a $recognize call (two days per expired result).
  std::string text = "0000-00-00";
  for (int i = 3; i >= 0; --i, y /= 10)
    text[static_cast<size_t>(i)] = static_cast<char>('0' + y % 10);
  text[5] = static_cast<char>('0' + m / 10);
  text[6] = static_cast<char>('0' + m % 10);
  text[8] = static_cast<char>('0' + d / 10);
  text[9] = static_cast<char>('0' + d % 10);
  return text;
}

std::string_view ReasonCode(Reason reason) {
  switch (reason) {
    case Reason::kExpired:
      return "expired";
    case Reason::kIssuerNotQualified:
      return "issuer-not-qualified";
    case Reason::kNotInCatalogue:
      return "not-in-catalogue";
    case Reason::kDifferentSpecimen:
      return "different-specimen";
    case Reason::kDifferentMethod:
      return "different-method";
    case Reason::kPreliminary:
      return "preliminary";
    case Reason::kAmended:
      return "amended";
    case Reason::kEnteredInError:
      return "entered-in-error";
    case Reason::kConclusionOnly:
      return "conclusion-only";
    case Reason::kSharingRefused:
      return "sharing-refused";
  }
  return "unknown";
}

std::string_view ReasonDisplay(Reason reason) {
  switch (reason) {
    case Reason::kExpired:
      return "已超过互认有效期 / expired";
    case Reason::kIssuerNotQualified:
      return "出具机构出具时未通过该项目室间质评 / issuer not qualified for this item at issue "
             "time";
    case Reason::kNotInCatalogue:
      return "不在互认项目目录中 / not in the recognition catalogue";
    case Reason::kDifferentSpecimen:
      return "标本类型不同 / different specimen";
    case Reason::kDifferentMethod:
      return "检测方法不同 / different method";
    case Reason::kPreliminary:
      return "初步报告，尚未最终审核 / preliminary, not final";
    case Reason::kAmended:
      return "报告已修改或更正 / amended or corrected";
    case Reason::kEnteredInError:
      return "报告已作废或录入错误 / cancelled or entered in error";
    case Reason::kConclusionOnly:
      return "仅有诊断结论，无结果或影像 / a diagnostic conclusion only, no results or images";
    case Reason::kSharingRefused:
      return "患者已拒绝在联盟内共享检查检验结果 / the patient refused sharing results within the "
             "alliance";
  }
  return "";
}

core::Result<std::vector<store::StoredResource>> Engine::Find(store::ReadTx& tx,
                                                              const std::string& type,
                                                              search::Params params) const {
  search::SearchRequest request;
  request.type = type;
  request.params = std::move(params);
  request.params.emplace_back("_count", std::to_string(kMaxResults));
  request.max_count = kMaxResults;
  request.default_count = kMaxResults;
  MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher_.Search(tx, request));
  return std::move(page.matches);
}

core::Result<std::vector<std::string>> Engine::LinkedPatients(store::ReadTx& tx,
                                                              std::string_view patient) const {
  return mpi::LinkedPatients(tx, patient);
}

core::Result<std::vector<std::string>> Engine::PatientsByIdentifier(store::ReadTx& tx,
                                                                    std::string_view system,
                                                                    std::string_view value) const {
  std::string token =
      system.empty() ? std::string(value) : std::string(system) + "|" + std::string(value);
  MA_ASSIGN_OR_RETURN(auto patients, Find(tx, "Patient", {{"identifier", token}}));
  std::set<std::string> out;
  for (const store::StoredResource& patient : patients) {
    MA_ASSIGN_OR_RETURN(auto linked, LinkedPatients(tx, "Patient/" + patient.id));
    out.insert(linked.begin(), linked.end());
  }
  return std::vector<std::string>(out.begin(), out.end());
}

std::optional<core::EpochMillis> Engine::IssuedAt(const Json& resource, std::string* text) {
  std::string_view type = resource.GetStringMember("resourceType");
  std::vector<std::string_view> keys;
  if (type == "ImagingStudy") {
    keys = {"started"};
  } else {
    keys = {"issued", "effectiveDateTime", "effectiveInstant"};
  }
  for (std::string_view key : keys) {
    std::string_view value = resource.GetStringMember(key);
    if (value.empty())
      continue;
    if (auto millis = ParseInstant(value)) {
      if (text != nullptr)
        *text = std::string(value);
      return millis;
    }
  }
  if (const Json* period = resource.Find("effectivePeriod"); period != nullptr) {
    std::string_view start = period->GetStringMember("start");
    if (auto millis = ParseInstant(start)) {
      if (text != nullptr)
        *text = std::string(start);
      return millis;
    }
  }
  return std::nullopt;
}

core::Result<std::string> Engine::Issuer(store::ReadTx& tx, const Json& resource) const {
  std::vector<std::string> organizations;
  std::vector<std::string> roles;
  if (resource.GetStringMember("resourceType") == "ImagingStudy") {
    if (const Json* series = resource.Find("series"); series != nullptr && series->IsArray()) {
      for (const Json& one : series->Items()) {
        const Json* performers = one.Find("performer");
        if (performers == nullptr || !performers->IsArray())
          continue;
        for (const Json& performer : performers->Items()) {
          const Json* actor = performer.Find("actor");
          std::string_view reference = actor != nullptr ? actor->GetStringMember("reference") : "";
          if (reference.rfind("Organization/", 0) == 0)
            organizations.emplace_back(reference);
          else if (reference.rfind("PractitionerRole/", 0) == 0)
            roles.emplace_back(reference);
        }
      }
    }
  } else {
    CollectReferences(resource.Find("performer"), "Organization/", organizations);
    CollectReferences(resource.Find("performer"), "PractitionerRole/", roles);
  }
  if (!organizations.empty())
    return organizations.front();
  for (const std::string& role : roles) {
    MA_ASSIGN_OR_RETURN(auto stored, tx.ReadCurrent("PractitionerRole", role.substr(17)));
    if (!stored.has_value() || stored->deleted)
      continue;
    MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
    const Json* organization = json.Find("organization");
    std::string_view reference =
        organization != nullptr ? organization->GetStringMember("reference") : "";
    if (reference.rfind("Organization/", 0) == 0)
      return std::string(reference);
  }
  return std::string();
}

std::vector<Qualification> Engine::ParseQualifications(const Json& basic, std::string_view source) {
  std::vector<Qualification> out;
  const Json* code = basic.Find("code");
  const Json* codings = code != nullptr ? code->Find("coding") : nullptr;
  bool coded = false;
  if (codings != nullptr && codings->IsArray()) {
    for (const Json& coding : codings->Items()) {
      coded = coded || (coding.GetStringMember("system") == kRecognitionSystem &&
                        coding.GetStringMember("code") == kQualificationCode);
    }
  }
  const Json* extensions = basic.Find("extension");
  if (!coded || extensions == nullptr || !extensions->IsArray())
    return out;
  for (const Json& extension : extensions->Items()) {
    if (extension.GetStringMember("url") != kQualificationExtension)
      continue;
    Qualification qualification{"", INT64_MIN, INT64_MAX, std::string(source)};
    const Json* parts = extension.Find("extension");
    if (parts == nullptr || !parts->IsArray())
      continue;
    for (const Json& part : parts->Items()) {
      if (part.GetStringMember("url") == "scope") {
        qualification.scope = std::string(part.GetStringMember("valueCode"));
      } else if (const Json* period = part.Find("valuePeriod");
                 period != nullptr && part.GetStringMember("url") == "period") {
        if (auto start = core::ParseFhirDateTime(period->GetStringMember("start"), 480))
          qualification.low = start->low;
        if (auto end = core::ParseFhirDateTime(period->GetStringMember("end"), 480))
          qualification.high = end->high;
      }
    }
    if (!qualification.scope.empty())
      out.push_back(std::move(qualification));
  }
  return out;
}

core::Result<OrganizationRules> Engine::LoadOrganization(store::ReadTx& tx,
                                                         const std::string& organization) const {
  OrganizationRules rules;
  MA_ASSIGN_OR_RETURN(
      auto qualifications,
      Find(tx, "Basic",
           {{"subject", organization},
            {"code", std::string(kRecognitionSystem) + "|" + std::string(kQualificationCode)}}));
  for (const store::StoredResource& stored : qualifications) {
    MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored.json));
    for (Qualification& qualification : ParseQualifications(json, stored.id))
      rules.qualifications.push_back(std::move(qualification));
  }
  MA_ASSIGN_OR_RETURN(auto stored, tx.ReadCurrent("Organization", organization.substr(13)));
  if (stored.has_value() && !stored->deleted) {
    MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
    if (const Json* part_of = json.Find("partOf"); part_of != nullptr)
      rules.parent = std::string(part_of->GetStringMember("reference"));
  }
  return rules;
}

const OrganizationRules* OrganizationCache::Find(const std::string& organization) const {
  if (auto found = local.find(organization); found != local.end())
    return &found->second;
  if (shared != nullptr) {
    if (auto found = shared->find(organization); found != shared->end())
      return &found->second;
  }
  return nullptr;
}

core::Result<const OrganizationRules*> Engine::Rules(store::ReadTx& tx,
                                                     const std::string& organization,
                                                     OrganizationCache* cache) const {
  if (const OrganizationRules* rules = cache->Find(organization))
    return rules;
  MA_ASSIGN_OR_RETURN(OrganizationRules rules, LoadOrganization(tx, organization));
  return &cache->local.emplace(organization, std::move(rules)).first->second;
}

core::Result<int64_t> Engine::RulesStamp(store::ReadTx& tx) const {
  // The newest version of any Basic or Organization (resources_by_type: two index seeks).
  store::SqlQuery query;
  query.sql = "SELECT COALESCE((SELECT MAX(sequence) FROM " +
              std::string(store::sql::kResourcesTable) +
              " WHERE type = 'Basic'), 0) * 4294967296 + COALESCE((SELECT MAX(sequence) FROM " +
              std::string(store::sql::kResourcesTable) + " WHERE type = 'Organization'), 0)";
  return tx.QueryCount(query);
}

std::optional<Engine::TransactionKey> Engine::KeyOf(const store::ReadTx& tx) {
  std::optional<uint64_t> basic = tx.CacheStamp("Basic");
  std::optional<uint64_t> organization = tx.CacheStamp("Organization");
  if (!basic.has_value() || !organization.has_value())
    return std::nullopt;
  return TransactionKey{*basic, *organization};
}

core::Result<OrganizationCache> Engine::StartCache(store::ReadTx& tx) {
  OrganizationCache cache;
  const std::optional<TransactionKey> key = KeyOf(tx);
  if (key.has_value()) {
    std::lock_guard lock(rules_mutex_);
    if (transaction_key_ == key) {
      cache.shared = transaction_rules_;
      return cache;
    }
  }
  MA_ASSIGN_OR_RETURN(int64_t stamp, RulesStamp(tx));
  std::lock_guard lock(rules_mutex_);
  if (stamp == rules_stamp_)
    cache.shared = rules_;
  if (key.has_value()) {
    transaction_key_ = key;
    transaction_rules_ = cache.shared;
  }
  return cache;
}

void Engine::Keep(store::ReadTx& tx, OrganizationCache& cache) {
  if (cache.local.empty())
    return;
  if (dynamic_cast<store::WriteTx*>(&tx) != nullptr) {
    // A write transaction may still roll back: what it saw serves only its own later
    // evaluations, and only while it writes no Basic or Organization.
    const std::optional<TransactionKey> key = KeyOf(tx);
    std::lock_guard lock(rules_mutex_);
    if (!key.has_value() || transaction_key_ != key)
      return;
    auto merged = transaction_rules_ != nullptr
                      ? std::make_shared<OrganizationMap>(*transaction_rules_)
                      : std::make_shared<OrganizationMap>();
    for (auto& [organization, rules] : cache.local) merged->emplace(organization, rules);
    transaction_rules_ = std::move(merged);
    return;
  }
  core::Result<int64_t> stamp = RulesStamp(tx);
  if (!stamp)
    return;
  std::lock_guard lock(rules_mutex_);
  auto merged = std::make_shared<OrganizationMap>();
  if (rules_stamp_ == *stamp && rules_ != nullptr)
    *merged = *rules_;
  for (auto& [organization, rules] : cache.local) merged->emplace(organization, rules);
  rules_ = std::move(merged);
  rules_stamp_ = *stamp;
}

core::Result<std::string> Engine::MemberOf(store::ReadTx& tx, std::string_view reference) const {
  if (reference.rfind("Organization/", 0) == 0)
    return std::string(reference);
  if (reference.rfind("PractitionerRole/", 0) != 0)
    return std::string();
  MA_ASSIGN_OR_RETURN(auto stored, tx.ReadCurrent("PractitionerRole", reference.substr(17)));
  if (!stored.has_value() || stored->deleted)
    return std::string();
  MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
  const Json* organization = json.Find("organization");
  std::string_view text = organization != nullptr ? organization->GetStringMember("reference") : "";
  return text.rfind("Organization/", 0) == 0 ? std::string(text) : std::string();
}

core::Result<bool> Engine::WithinMember(store::ReadTx& tx, const std::string& organization,
                                        const std::string& member, OrganizationCache* cache) const {
  std::string current = organization;
  for (int level = 0; level < 5 && current.rfind("Organization/", 0) == 0; ++level) {
    if (current == member)
      return true;
    MA_ASSIGN_OR_RETURN(const OrganizationRules* rules, Rules(tx, current, cache));
    current = rules->parent;
  }
  return false;
}

core::Result<bool> Engine::Qualified(store::ReadTx& tx, const std::string& organization,
                                     const Item& item, core::EpochMillis when,
                                     OrganizationCache* cache) const {
  OrganizationCache local;
  if (cache == nullptr)
    cache = &local;
  std::string current = organization;
  for (int level = 0; level < 5 && current.rfind("Organization/", 0) == 0; ++level) {
    MA_ASSIGN_OR_RETURN(const OrganizationRules* rules, Rules(tx, current, cache));
    for (const Qualification& qualification : rules->qualifications) {
      bool covers = qualification.scope == item.code || qualification.scope == item.qc_group ||
                    qualification.scope == item.CategoryCode();
      if (covers && when >= qualification.low && when < qualification.high)
        return true;
    }
    current = rules->parent;
  }
  return false;
}

const Item* Engine::ItemOf(const Catalogue& catalogue, const Json& resource) {
  std::string_view type = resource.GetStringMember("resourceType");
  if (type == "ImagingStudy") {
    if (const Json* procedures = resource.Find("procedureCode");
        procedures != nullptr && procedures->IsArray()) {
      for (const Json& procedure : procedures->Items()) {
        if (const Item* item = catalogue.FindConcept(procedure))
          return item;
      }
    }
    if (const Json* series = resource.Find("series"); series != nullptr && series->IsArray()) {
      for (const Json& one : series->Items()) {
        const Json* modality = one.Find("modality");
        const Json* site = one.Find("bodySite");
        if (modality == nullptr || site == nullptr)
          continue;
        if (const Item* item = catalogue.FindExam(modality->GetStringMember("code"),
                                                  site->GetStringMember("code"))) {
          return item;
        }
      }
    }
    return nullptr;
  }
  const Json* code = resource.Find("code");
  return code != nullptr ? catalogue.FindConcept(*code) : nullptr;
}

core::Result<std::vector<Finding>> Engine::IntrinsicFindings(store::ReadTx& tx,
                                                             const Json& resource, const Item& item,
                                                             Prior& prior,
                                                             OrganizationCache* cache) const {
  std::vector<Finding> findings;
  std::string_view type = resource.GetStringMember("resourceType");
  if (auto status = StatusFinding(type, resource.GetStringMember("status")))
    findings.push_back(std::move(*status));
  if (type == "DiagnosticReport") {
    const Json* results = resource.Find("result");
    const Json* studies = resource.Find("imagingStudy");
    if ((results == nullptr || results->Size() == 0) &&
        (studies == nullptr || studies->Size() == 0))
      findings.push_back(
          {Reason::kConclusionOnly, std::string(ReasonDisplay(Reason::kConclusionOnly)), 0});
  }
  if (type == "Observation" && !item.specimens.empty()) {
    const Json* specimen = resource.Find("specimen");
    std::string_view reference = specimen != nullptr ? specimen->GetStringMember("reference") : "";
    if (reference.rfind("Specimen/", 0) == 0) {
      MA_ASSIGN_OR_RETURN(auto stored, tx.ReadCurrent("Specimen", reference.substr(9)));
      if (stored.has_value() && !stored->deleted) {
        MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
        const Json* specimen_type = json.Find("type");
        const Json* codings = specimen_type != nullptr ? specimen_type->Find("coding") : nullptr;
        bool coded = false;
        bool same = false;
        std::string seen;
        if (codings != nullptr && codings->IsArray()) {
          for (const Json& coding : codings->Items()) {
            if (coding.GetStringMember("system") != kSnomedSystem)
              continue;
            coded = true;
            std::string code(coding.GetStringMember("code"));
            seen = code;
            same = same || std::find(item.specimens.begin(), item.specimens.end(), code) !=
                               item.specimens.end();
          }
        }
        if (coded && !same) {
          findings.push_back({Reason::kDifferentSpecimen,
                              std::string(ReasonDisplay(Reason::kDifferentSpecimen)) +
                                  ": SNOMED CT " + seen + " ≠ " + item.specimens.front(),
                              0});
        }
      }
    }
  }
  if (type == "Observation" && !item.method.empty()) {
    if (const Json* method = resource.Find("method"); method != nullptr) {
      std::vector<std::string> texts;
      if (!method->GetStringMember("text").empty())
        texts.emplace_back(method->GetStringMember("text"));
      if (const Json* codings = method->Find("coding"); codings != nullptr && codings->IsArray()) {
        for (const Json& coding : codings->Items()) {
          texts.emplace_back(coding.GetStringMember("display"));
          texts.emplace_back(coding.GetStringMember("code"));
        }
      }
      std::string wanted = Lower(item.method);
      bool same = texts.empty();
      for (const std::string& text : texts) {
        if (!text.empty() && Lower(text).find(wanted) != std::string::npos)
          same = true;
      }
      if (!same) {
        findings.push_back({Reason::kDifferentMethod,
                            std::string(ReasonDisplay(Reason::kDifferentMethod)) + ": " +
                                texts.front() + " ≠ " + item.method,
                            0});
      }
    }
  }
  if (prior.issuer.empty()) {
    MA_ASSIGN_OR_RETURN(prior.issuer, Issuer(tx, resource));
  }
  bool qualified = false;
  if (!prior.issuer.empty() && prior.issued != 0) {
    MA_ASSIGN_OR_RETURN(qualified, Qualified(tx, prior.issuer, item, prior.issued, cache));
  }
  if (!qualified) {
    std::string who =
        prior.issuer.empty() ? "未注明出具机构 / no issuing organization" : prior.issuer;
    findings.push_back({Reason::kIssuerNotQualified,
                        std::string(ReasonDisplay(Reason::kIssuerNotQualified)) + " (" + who +
                            ", " + item.qc_group + ", " + prior.issued_text + ")",
                        0});
  }
  return findings;
}

core::Result<bool> Engine::Deserves(store::ReadTx& tx, const Json& resource,
                                    OrganizationCache* cache) {
  MA_ASSIGN_OR_RETURN(auto catalogue, catalogue_.Get(tx));
  const Item* item = ItemOf(*catalogue, resource);
  if (item == nullptr)
    return false;
  Prior prior;
  std::optional<core::EpochMillis> issued = IssuedAt(resource, &prior.issued_text);
  if (!issued.has_value())
    return false;
  prior.issued = *issued;
  // A result that is not final is refused whoever issued it: no need to look the issuer up.
  if (StatusFinding(resource.GetStringMember("resourceType"), resource.GetStringMember("status")))
    return false;
  OrganizationCache started;
  OrganizationCache* rules = cache;
  if (rules == nullptr) {
    MA_ASSIGN_OR_RETURN(started, StartCache(tx));
    rules = &started;
  }
  // An issuer not qualified for the item refuses the mark whatever else the result says: the
  // other findings (and their explanations) are looked at only for a qualified one.
  MA_ASSIGN_OR_RETURN(prior.issuer, Issuer(tx, resource));
  bool deserves = false;
  if (!prior.issuer.empty()) {
    MA_ASSIGN_OR_RETURN(bool qualified, Qualified(tx, prior.issuer, *item, prior.issued, rules));
    if (qualified) {
      MA_ASSIGN_OR_RETURN(auto findings, IntrinsicFindings(tx, resource, *item, prior, rules));
      deserves = findings.empty();
    }
  }
  if (cache == nullptr)
    Keep(tx, started);
  return deserves;
}

core::Result<Answer> Engine::Evaluate(store::ReadTx& tx, const std::vector<std::string>& patients,
                                      const std::vector<RequestedItem>& items, core::EpochMillis at,
                                      const std::string& orderer,
                                      const search::VisibilityPredicate& visible) {
  Answer answer;
  MA_ASSIGN_OR_RETURN(answer.catalogue, catalogue_.Get(tx));
  answer.patients = patients;
  const Catalogue& catalogue = *answer.catalogue;
  const int64_t today = ShanghaiDay(at);
  MA_ASSIGN_OR_RETURN(OrganizationCache organizations, StartCache(tx));
  std::string subjects = Join(patients);

  // Consent: an active opt-out of any linked record refuses alliance sharing.
  if (!patients.empty()) {
    MA_ASSIGN_OR_RETURN(auto consents,
                        Find(tx, "Consent", {{"patient", subjects}, {"status", "active"}}));
    for (const store::StoredResource& stored : consents) {
      MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored.json));
      const Json* provision = json.Find("provision");
      if (provision != nullptr && provision->GetStringMember("type") == "deny")
        answer.sharing_refused = true;
    }
  }

  // One search per resource type for all items: resolve the items, then fetch every
  // candidate once and hand it to the items whose codings it carries.
  std::vector<const Item*> resolved;
  std::vector<std::vector<std::string>> item_tokens;
  std::vector<std::string> all_tokens;
  bool any_exam = false;
  for (const RequestedItem& requested : items) {
    const Item* item = catalogue.Find(requested.system, requested.code);
    if (item == nullptr && requested.system.empty()) {
      item = catalogue.Find(kItemSystem, requested.code);
      if (item == nullptr)
        item = catalogue.Find(kLoincSystem, requested.code);
    }
    std::vector<std::string> tokens;
    if (item != nullptr) {
      for (const auto& [system, code] : item->Codings()) tokens.push_back(system + "|" + code);
      any_exam = any_exam || item->category == Category::kExam;
    } else {
      tokens.push_back(requested.system.empty() ? requested.code
                                                : requested.system + "|" + requested.code);
    }
    all_tokens.insert(all_tokens.end(), tokens.begin(), tokens.end());
    resolved.push_back(item);
    item_tokens.push_back(std::move(tokens));
  }
  struct Candidate {
    store::StoredResource stored;
    Json json;
    std::vector<std::string> tokens;  // "system|code" and "code" of its code
    std::string issuer;
    std::vector<size_t> items;  // indices of the requested items it shows
  };
  std::vector<Candidate> candidates;
  if (!patients.empty()) {
    std::sort(all_tokens.begin(), all_tokens.end());
    all_tokens.erase(std::unique(all_tokens.begin(), all_tokens.end()), all_tokens.end());
    std::string code_param = Join(all_tokens);
    std::vector<store::StoredResource> found;
    for (const char* type : {"Observation", "DiagnosticReport"}) {
      MA_ASSIGN_OR_RETURN(auto matches,
                          Find(tx, type, {{"subject", subjects}, {"code", code_param}}));
      for (auto& match : matches) found.push_back(std::move(match));
    }
    if (any_exam) {
      MA_ASSIGN_OR_RETURN(auto studies, Find(tx, "ImagingStudy", {{"subject", subjects}}));
      for (auto& study : studies) found.push_back(std::move(study));
    }
    for (store::StoredResource& stored : found) {
      if (visible) {
        MA_ASSIGN_OR_RETURN(bool shown, visible(tx, stored));
        if (!shown)
          continue;
      }
      Candidate candidate;
      MA_ASSIGN_OR_RETURN(candidate.json, fhir::ParseJsonMembers(stored.json, CandidateMembers()));
      MA_ASSIGN_OR_RETURN(candidate.issuer, Issuer(tx, candidate.json));
      if (answer.sharing_refused) {
        // Only the orderer's own results: the others leave no trace.
        bool own = false;
        if (!candidate.issuer.empty() && !orderer.empty()) {
          MA_ASSIGN_OR_RETURN(own, WithinMember(tx, candidate.issuer, orderer, &organizations));
        }
        if (!own)
          continue;
      }
      if (const Json* code = candidate.json.Find("code"); code != nullptr) {
        if (const Json* codings = code->Find("coding"); codings != nullptr && codings->IsArray()) {
          for (const Json& coding : codings->Items()) {
            std::string value(coding.GetStringMember("code"));
            candidate.tokens.push_back(std::string(coding.GetStringMember("system")) + "|" + value);
            candidate.tokens.push_back(std::move(value));
          }
        }
      }
      for (size_t index = 0; index < items.size(); ++index) {
        bool shows = false;
        if (stored.type == "ImagingStudy") {
          shows = resolved[index] != nullptr && StudyShows(candidate.json, *resolved[index]);
        } else {
          for (const std::string& token : item_tokens[index]) {
            if (std::find(candidate.tokens.begin(), candidate.tokens.end(), token) !=
                candidate.tokens.end()) {
              shows = true;
              break;
            }
          }
        }
        if (shows)
          candidate.items.push_back(index);
      }
      if (candidate.items.empty())
        continue;
      candidate.stored = std::move(stored);
      candidates.push_back(std::move(candidate));
    }
  }

  for (size_t index = 0; index < items.size(); ++index) {
    const RequestedItem& requested = items[index];
    ItemAnswer item_answer;
    item_answer.system = requested.system;
    item_answer.code = requested.code;
    item_answer.item = resolved[index];
    const Item* item = item_answer.item;
    for (const Candidate& candidate : candidates) {
      const store::StoredResource& stored = candidate.stored;
      const Json& json = candidate.json;
      if (std::find(candidate.items.begin(), candidate.items.end(), index) ==
          candidate.items.end()) {
        continue;
      }
      Prior prior;
      prior.issuer = candidate.issuer;
      prior.reference = stored.type + "/" + stored.id;
      const Json* subject = json.Find("subject");
      prior.patient = subject != nullptr ? std::string(subject->GetStringMember("reference")) : "";
      std::optional<core::EpochMillis> issued = IssuedAt(json, &prior.issued_text);
      if (issued.has_value()) {
        if (*issued > at)
          continue;  // not a prior result
        prior.issued = *issued;
      }
      if (item == nullptr) {
        prior.findings.push_back(
            {Reason::kNotInCatalogue, std::string(ReasonDisplay(Reason::kNotInCatalogue)), 0});
        prior.issuer = candidate.issuer;
      } else {
        MA_ASSIGN_OR_RETURN(auto intrinsic,
                            IntrinsicFindings(tx, json, *item, prior, &organizations));
        for (Finding& finding : intrinsic) prior.findings.push_back(std::move(finding));
        if (issued.has_value()) {
          int64_t last_valid = ShanghaiDay(*issued) + item->validity_days;
          prior.last_valid_day = last_valid;
          if (today > last_valid) {
            int64_t late = today - last_valid;
            prior.findings.push_back(
                {Reason::kExpired,
                 "已超过互认有效期 " + Days(late) + " 天（有效期 " + Days(item->validity_days) +
                     " 天，最后有效日 " + FormatDay(last_valid) + "）/ expired " + Days(late) +
                     " day(s) ago (validity " + Days(item->validity_days) +
                     " days, last valid day " + FormatDay(last_valid) + ", Asia/Shanghai)",
                 static_cast<int>(late)});
          }
        }
      }
      (prior.findings.empty() ? item_answer.reusable : item_answer.refused)
          .push_back(std::move(prior));
    }
    auto newest_first = [](const Prior& a, const Prior& b) {
      if (a.issued != b.issued)
        return a.issued > b.issued;
      return a.reference < b.reference;
    };
    std::sort(item_answer.reusable.begin(), item_answer.reusable.end(), newest_first);
    std::sort(item_answer.refused.begin(), item_answer.refused.end(), newest_first);
    if (answer.sharing_refused) {
      // One entry that says so and names nothing: no reference, issuer, date or count.
      Prior refused;
      refused.findings.push_back(
          {Reason::kSharingRefused, std::string(ReasonDisplay(Reason::kSharingRefused)), 0});
      item_answer.refused.push_back(std::move(refused));
    }
    answer.items.push_back(std::move(item_answer));
  }
  Keep(tx, organizations);
  return answer;
}

}  // namespace medalliance::recognition
