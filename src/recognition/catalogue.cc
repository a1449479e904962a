#include "recognition/catalogue.h"

#include "core/time.h"
#include "store/sql/schema.h"

namespace medalliance::recognition {
namespace {

using core::Error;
using fhir::Json;

std::string Key(std::string_view system, std::string_view code) {
  std::string key;
  key.reserve(system.size() + code.size() + 1);
  key.append(system).append("|").append(code);
  return key;
}

// A property value as text: valueCode/valueString/valueInteger/valueDecimal, or the code of
// valueCoding.
std::string ValueText(const Json& property) {
  for (std::string_view key :
       {"valueCode", "valueString", "valueInteger", "valueDecimal", "valueBoolean"}) {
    if (const Json* value = property.Find(key); value != nullptr) {
      if (value->IsBool())
        return value->GetBool() ? "true" : "false";
      return value->GetString();
    }
  }
  if (const Json* coding = property.Find("valueCoding"); coding != nullptr)
    return std::string(coding->GetStringMember("code"));
  return {};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Item::Codings() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(std::string(kItemSystem), code);
  for (const std::string& loinc_code : loinc)
    out.emplace_back(std::string(kLoincSystem), loinc_code);
  for (const auto& [member, local] : local_codes) {
    out.emplace_back(std::string(kLocalCodePrefix) + member, local);
  }
  return out;
}

core::Result<Catalogue> Catalogue::FromCodeSystem(const Json& code_system) {
  if (code_system.GetStringMember("resourceType") != "CodeSystem") {
    return Error::Unprocessable("互认目录必须是 CodeSystem / the catalogue must be a CodeSystem");
  }
  Catalogue catalogue;
  catalogue.version_ = std::string(code_system.GetStringMember("version"));
  const Json* concepts = code_system.Find("concept");
  if (concepts == nullptr || !concepts->IsArray())
    return catalogue;
  size_t position = 0;
  for (const Json& concept_json : concepts->Items()) {
    std::string where = "CodeSystem.concept[" + std::to_string(position++) + "]";
    Item item;
    item.code = std::string(concept_json.GetStringMember("code"));
    item.display = std::string(concept_json.GetStringMember("display"));
    if (const Json* designations = concept_json.Find("designation");
        designations != nullptr && designations->IsArray()) {
      for (const Json& designation : designations->Items()) {
        if (designation.GetStringMember("language") == "en")
          item.display_en = std::string(designation.GetStringMember("value"));
      }
    }
    bool has_category = false;
    bool has_validity = false;
    if (const Json* properties = concept_json.Find("property");
        properties != nullptr && properties->IsArray()) {
      for (const Json& property : properties->Items()) {
        std::string_view name = property.GetStringMember("code");
        std::string value = ValueText(property);
        if (name == "category") {
          has_category = value == "lab" || value == "exam";
          item.category = value == "exam" ? Category::kExam : Category::kLab;
        } else if (name == "qc-group") {
          item.qc_group = value;
        } else if (name == "loinc") {
          item.loinc.push_back(value);
        } else if (name == "specimen") {
          item.specimens.push_back(value);
        } else if (name == "method") {
          item.method = value;
        } else if (name == "modality") {
          item.modality = value;
        } else if (name == "body-site") {
          item.body_site = value;
        } else if (name == "validity-days") {
          int64_t days = 0;
          const Json* number = property.Find("valueInteger");
          has_validity = number != nullptr && number->GetInt64(&days) && days >= 0;
          item.validity_days = static_cast<int>(days);
        } else if (name == "validity-source") {
          item.validity_source = value;
        } else if (name == "price-yuan") {
          item.price_yuan = value;
        } else if (name == "local-code") {
          size_t bar = value.find('|');
          if (bar != std::string::npos && bar > 0 && bar + 1 < value.size())
            item.local_codes.emplace_back(value.substr(0, bar), value.substr(bar + 1));
        }
      }
    }
    if (item.code.empty() || !has_category || !has_validity) {
      return Error::Unprocessable(
          "互认目录项目缺少 code、category 或 validity-days / a catalogue item needs a code, a "
          "category (lab or exam) and validity-days (a non-negative integer)",
          where);
    }
    size_t index = catalogue.items_.size();
    for (const auto& [system, code] : item.Codings())
      catalogue.by_coding_.emplace(Key(system, code), index);
    if (item.category == Category::kExam && !item.modality.empty() && !item.body_site.empty())
      catalogue.by_exam_.emplace(Key(item.modality, item.body_site), index);
    catalogue.items_.push_back(std::move(item));
  }
  return catalogue;
}

const Item* Catalogue::Find(std::string_view system, std::string_view code) const {
  auto found = by_coding_.find(Key(system, code));
  return found == by_coding_.end() ? nullptr : &items_[found->second];
}

const Item* Catalogue::FindConcept(const Json& codeable_concept) const {
  const Json* codings =
      codeable_concept.IsArray() ? &codeable_concept : codeable_concept.Find("coding");
  if (codings == nullptr || !codings->IsArray())
    return nullptr;
  for (const Json& coding : codings->Items()) {
    if (const Item* item = Find(coding.GetStringMember("system"), coding.GetStringMember("code")))
      return item;
  }
  return nullptr;
}

const Item* Catalogue::FindExam(std::string_view modality, std::string_view body_site) const {
  auto found = by_exam_.find(Key(modality, body_site));
  return found == by_exam_.end() ? nullptr : &items_[found->second];
}

core::Result<bool> SeedCatalogue(store::Store& store, const search::Searcher& searcher,
                                 core::EpochMillis now) {
  MA_ASSIGN_OR_RETURN(Json code_system, fhir::ParseJson(DefaultCatalogueJson()));
  bool wrote = false;
  MA_RETURN_IF_ERROR(store.Write([&](store::WriteTx& tx) -> core::Status {
    wrote = false;
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("CodeSystem", kCatalogueId));
    if (current.has_value())
      return {};
    Json resource = code_system;
    Json meta = Json::MakeObject();
    meta.Set("versionId", Json::MakeString("1"));
    meta.Set("lastUpdated", Json::MakeString(core::FormatInstant(now)));
    resource.SetAt(2, "meta", std::move(meta));
    store::StoredResource stored;
    stored.type = "CodeSystem";
    stored.id = std::string(kCatalogueId);
    stored.version = 1;
    stored.last_updated = now;
    stored.method = "PUT";
    stored.json = fhir::WriteJson(resource);
    wrote = true;
    return tx.PutVersion(stored, searcher.Index(resource));
  }));
  return wrote;
}

core::Result<std::shared_ptr<const Catalogue>> CatalogueCache::Get(store::ReadTx& tx) {
  // Checked already in this transaction, and no CodeSystem written through it since.
  const std::optional<uint64_t> stamp = tx.CacheStamp("CodeSystem");
  {
    std::lock_guard lock(mutex_);
    if (catalogue_ != nullptr && stamp.has_value() && stamp == stamp_)
      return catalogue_;
  }
  store::SqlQuery query;
  query.sql = "SELECT COALESCE((SELECT c.sequence FROM " + std::string(store::sql::kCurrentTable) +
              " c WHERE c.type = 'CodeSystem' AND c.id = " + tx.GetDialect().Placeholder(1) +
              " AND c.deleted = 0), 0)";
  query.params = {std::string(kCatalogueId)};
  MA_ASSIGN_OR_RETURN(int64_t sequence, tx.QueryCount(query));
  {
    std::lock_guard lock(mutex_);
    if (catalogue_ != nullptr && sequence == sequence_) {
      stamp_ = stamp;
      return catalogue_;
    }
  }
  Json code_system;
  if (sequence == 0) {
    MA_ASSIGN_OR_RETURN(code_system, fhir::ParseJson(DefaultCatalogueJson()));
  } else {
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("CodeSystem", kCatalogueId));
    if (!current.has_value() || current->deleted)
      return Error::Internal("the recognition catalogue vanished while being read");
    MA_ASSIGN_OR_RETURN(code_system, fhir::ParseJson(current->json));
  }
  MA_ASSIGN_OR_RETURN(Catalogue catalogue, Catalogue::FromCodeSystem(code_system));
  auto shared = std::make_shared<const Catalogue>(std::move(catalogue));
  std::lock_guard lock(mutex_);
  // A catalogue this transaction wrote is not committed: kept for this transaction only
  // (by stamp), never matched by sequence (a rollback frees the sequence for the next write).
  sequence_ = tx.WroteType("CodeSystem") ? -1 : sequence;
  stamp_ = stamp;
  catalogue_ = shared;
  return shared;
}

}  // namespace medalliance::recognition
