#pragma once
// The recognition catalogue (检查检验结果互认项目目录): which items are recognised, each with
// its validity period, specimen, method, price and the codes that name it.
//
// The catalogue is data: one FHIR CodeSystem, kItemSystem, whose concepts are the items and
// whose concept properties carry the rules (doc/recognition.md). data/recognition/catalogue.json
// is the seeded version, embedded at build time (DefaultCatalogueJson) and written to the store
// as CodeSystem/recognition-item on first start (SeedCatalogue); the alliance administrator
// edits it through the API (PUT CodeSystem/recognition-item), every edit a new version.
// CatalogueCache gives the current stored version to the engine, re-parsing only when the
// stored version changed, and falls back to the embedded one while none is stored.
//
// Thread-safe: Catalogue is immutable; CatalogueCache locks.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::recognition {

inline constexpr std::string_view kItemSystem =
    "https://fhir.medalliance.cn/CodeSystem/recognition-item";
inline constexpr std::string_view kCatalogueId = "recognition-item";
inline constexpr std::string_view kLoincSystem = "http://loinc.org";
inline constexpr std::string_view kSnomedSystem = "http://snomed.info/sct";
inline constexpr std::string_view kDicomSystem = "http://dicom.nema.org/resources/ontology/DCM";
// A member's local codes: system kLocalCodePrefix + <member Organization id>.
inline constexpr std::string_view kLocalCodePrefix =
    "https://fhir.medalliance.cn/CodeSystem/local/";

enum class Category { kLab, kExam };

struct Item {
  std::string code;        // catalogue code, e.g. "lab-hba1c"
  std::string display;     // Chinese name
  std::string display_en;  // English name
  Category category = Category::kLab;
  std::string qc_group;                // chemistry, haematology, ...; the modality for exams
  std::vector<std::string> loinc;      // primary first, then equivalents
  std::vector<std::string> specimens;  // SNOMED CT codes accepted; empty: any
  std::string method;                  // empty: any
  std::string modality;                // exams: DICOM modality (CT, MR, DX, US, ECG)
  std::string body_site;               // exams: SNOMED CT body site
  int validity_days = 0;
  std::string validity_source;  // "example" or "seeded"
  std::string price_yuan;       // decimal text
  // (member Organization id, local code)
  std::vector<std::pair<std::string, std::string>> local_codes;

  std::string_view CategoryCode() const { return category == Category::kLab ? "lab" : "exam"; }
  // Every (system, code) naming this item: the catalogue code, LOINC codes, local codes.
  std::vector<std::pair<std::string, std::string>> Codings() const;
};

class Catalogue {
 public:
  // Reads a CodeSystem with the properties of data/recognition/catalogue.json. Concepts
  // without validity-days or category are refused. Errors: kUnprocessable naming the concept.
  static core::Result<Catalogue> FromCodeSystem(const fhir::Json& code_system);

  // The item a coding names (catalogue code, LOINC code, or a member's local code); null
  // when none.
  const Item* Find(std::string_view system, std::string_view code) const;
  // The first item any coding of a CodeableConcept (or a Coding list) names.
  const Item* FindConcept(const fhir::Json& codeable_concept) const;
  // The examination item of a DICOM modality and a SNOMED CT body site; null when none.
  const Item* FindExam(std::string_view modality, std::string_view body_site) const;
  const std::vector<Item>& Items() const { return items_; }
  const std::string& Version() const { return version_; }

 private:
  std::vector<Item> items_;
  std::string version_;
  // "system|code" -> index in items_
  std::unordered_map<std::string, size_t> by_coding_;
  std::unordered_map<std::string, size_t> by_exam_;  // "modality|body site"
};

// The seeded catalogue, data/recognition/catalogue.json, as embedded at build time.
std::string_view DefaultCatalogueJson();

// Writes the seeded catalogue as CodeSystem/recognition-item when the store has none (a
// deleted one stays deleted). Returns true when it wrote. Errors: the store's.
core::Result<bool> SeedCatalogue(store::Store& store, const search::Searcher& searcher,
                                 core::EpochMillis now);

class CatalogueCache {
 public:
  CatalogueCache() = default;
  CatalogueCache(const CatalogueCache&) = delete;
  CatalogueCache& operator=(const CatalogueCache&) = delete;

  // The catalogue current in `tx`: the stored CodeSystem/recognition-item, or the embedded
  // one when none is stored (or it is deleted). Errors: the store's; kUnprocessable when
  // the stored one cannot be read as a catalogue.
  core::Result<std::shared_ptr<const Catalogue>> Get(store::ReadTx& tx);

 private:
  std::mutex mutex_;
  // resources.sequence of the cached version; 0 for the embedded one; -1 for none, or for a
  // version the caching transaction wrote itself (not committed then).
  int64_t sequence_ = -1;
  // The ReadTx::CacheStamp("CodeSystem") of the transaction that last found `catalogue_`
  // current: the same transaction, with no CodeSystem written since, skips the check.
  std::optional<uint64_t> stamp_;
  std::shared_ptr<const Catalogue> catalogue_;
};

}  // namespace medalliance::recognition
