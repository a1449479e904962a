#pragma once
// The recognition engine: which prior results of a patient may be reused for an item, and why
// the others may not (issue 6, doc/recognition.md).
//
// Rules, all read from data in the store:
//   - the catalogue (catalogue.h): the item, its validity period, specimen and method;
//   - qualifications: Basic resources with code kQualificationCode whose subject is a member
//     Organization and whose kQualificationExtension says which scope (an item code, a
//     quality-control group such as "chemistry", or a category "lab"/"exam") the member passed
//     the quality-control assessment (室间质评) for, and when (a Period of Asia/Shanghai dates,
//     both ends inclusive). A department (Organization.partOf) inherits its hospital's;
//   - consent: an active Consent of the patient (any linked record) whose provision.type is
//     deny refuses alliance sharing: only the ordering member's own results are listed, and
//     each item gets one not-reusable entry "sharing-refused" that names nothing else;
//   - the results: Observation, DiagnosticReport and ImagingStudy of the patient and of every
//     Patient linked to it through a Person (the master patient index).
// Days are calendar days in Asia/Shanghai (UTC+8, no daylight saving): a result issued on day
// D with validity N days is valid through day D+N and expired from day D+N+1.
//
// Thread-safe: the engine keeps the catalogue cache and a snapshot of the members'
// qualifications and partOf links (invalidated by any Basic or Organization write), both locked.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "recognition/catalogue.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::recognition {

// Code system of the recognition mark, the qualification and decision codes.
inline constexpr std::string_view kRecognitionSystem =
    "https://fhir.medalliance.cn/CodeSystem/recognition";
inline constexpr std::string_view kReasonSystem =
    "https://fhir.medalliance.cn/CodeSystem/recognition-reason";
inline constexpr std::string_view kMarkCode = "HR";
inline constexpr std::string_view kQualificationCode = "qualification";
inline constexpr std::string_view kQualificationExtension =
    "https://fhir.medalliance.cn/StructureDefinition/recognition-qualification";
inline constexpr int64_t kShanghaiOffsetMillis = 8LL * 3600 * 1000;
inline constexpr int64_t kDayMillis = 24LL * 3600 * 1000;

// The calendar day (days since 1970-01-01) of an instant in Asia/Shanghai.
int64_t ShanghaiDay(core::EpochMillis millis);
// "YYYY-MM-DD" of a Shanghai day number.
std::string FormatDay(int64_t day);

enum class Reason {
  kExpired,
  kIssuerNotQualified,
  kNotInCatalogue,
  kDifferentSpecimen,
  kDifferentMethod,
  kPreliminary,
  kAmended,
  kEnteredInError,
  kConclusionOnly,
  kSharingRefused,
};
std::string_view ReasonCode(Reason reason);
// "中文 / English" display of a reason's code.
std::string_view ReasonDisplay(Reason reason);

struct Finding {
  Reason reason;
  std::string explanation;  // 中文 / English, with the particulars (days, issuer, ...)
  int days = 0;             // kExpired: days past the last valid day
};

// One prior result of the patient, judged for one item.
struct Prior {
  std::string reference;  // "Observation/<id>"
  std::string patient;    // "Patient/<id>"
  std::string issuer;     // "Organization/<id>", empty when the resource names none
  core::EpochMillis issued = 0;
  std::string issued_text;  // the resource's own text
  std::optional<int64_t> last_valid_day;
  std::vector<Finding> findings;  // empty: reusable
};

struct ItemAnswer {
  std::string system;  // as requested
  std::string code;
  const Item* item = nullptr;   // null: not in the catalogue
  std::vector<Prior> reusable;  // newest first
  std::vector<Prior> refused;   // newest first
};

struct Answer {
  std::shared_ptr<const Catalogue> catalogue;  // keeps ItemAnswer::item alive
  std::vector<std::string> patients;           // the linked Patient references searched
  std::vector<ItemAnswer> items;
  // An active opt-out Consent of one of the patients: only the orderer's own results are
  // listed, and each item's `refused` ends with one Prior without reference, issuer or date
  // whose only finding is kSharingRefused.
  bool sharing_refused = false;
};

// The qualifications of one Organization and its parent, read once per evaluation.
struct Qualification {
  std::string scope;  // item code, qc-group or category
  core::EpochMillis low = 0;
  core::EpochMillis high = 0;  // exclusive
  std::string source;          // the Basic's id
};
struct OrganizationRules {
  std::vector<Qualification> qualifications;
  std::string parent;  // Organization.partOf, "Organization/<id>" or empty
};
using OrganizationMap = std::unordered_map<std::string, OrganizationRules>;
// The rules of the Organizations one evaluation needs: `local` (loaded or overridden during
// this evaluation) first, then `shared` (the engine's snapshot across calls, may be null).
struct OrganizationCache {
  std::shared_ptr<const OrganizationMap> shared;
  OrganizationMap local;
  const OrganizationRules* Find(const std::string& organization) const;
};

struct RequestedItem {
  std::string system;
  std::string code;
};

class Engine {
 public:
  // `catalogue` is not owned and must outlive the engine.
  explicit Engine(CatalogueCache& catalogue) : catalogue_(catalogue) {}

  core::Result<std::shared_ptr<const Catalogue>> GetCatalogue(store::ReadTx& tx) {
    return catalogue_.Get(tx);
  }

  // `patient` ("Patient/<id>") and every Patient linked to it through a Person, sorted.
  core::Result<std::vector<std::string>> LinkedPatients(store::ReadTx& tx,
                                                        std::string_view patient) const;
  // The Patients carrying an identifier (system|value, or value alone), with their links.
  core::Result<std::vector<std::string>> PatientsByIdentifier(store::ReadTx& tx,
                                                              std::string_view system,
                                                              std::string_view value) const;

  // Judges every prior result of `patients` for each requested item at instant `at`.
  // Results issued after `at` are left out, and so are those `visible` (the caller's view
  // under the access rules, when set) refuses. Errors: the store's.
  // `orderer` ("Organization/<id>"): the ordering member; under an opt-out Consent only the
  // results it (or one of its departments) issued are listed.
  core::Result<Answer> Evaluate(store::ReadTx& tx, const std::vector<std::string>& patients,
                                const std::vector<RequestedItem>& items, core::EpochMillis at,
                                const std::string& orderer,
                                const search::VisibilityPredicate& visible = {});

  // True when the result deserves the recognition mark: it names a catalogue item, has an
  // issue time, and IntrinsicFindings is empty. `cache` may carry overridden qualifications
  // (re-marking); when null, the rules come from StartCache() (only for a result that names
  // an item and is final) and what was loaded is kept (Keep()). Errors: the store's.
  core::Result<bool> Deserves(store::ReadTx& tx, const fhir::Json& resource,
                              OrganizationCache* cache = nullptr);

  // The qualifications a Basic resource records (none unless it is coded kQualificationCode).
  static std::vector<Qualification> ParseQualifications(const fhir::Json& basic,
                                                        std::string_view source);
  // The member Organization a reference stands for: an Organization itself, or a
  // PractitionerRole's organization. Empty when none.
  core::Result<std::string> MemberOf(store::ReadTx& tx, std::string_view reference) const;
  // True when `organization` is `member` or one of its departments (partOf, up to 4 levels).
  core::Result<bool> WithinMember(store::ReadTx& tx, const std::string& organization,
                                  const std::string& member, OrganizationCache* cache) const;
  // The rules of one Organization, through `cache` (loaded into cache->local on a miss).
  core::Result<const OrganizationRules*> Rules(store::ReadTx& tx, const std::string& organization,
                                               OrganizationCache* cache) const;
  // A cache for one evaluation, starting from the engine's snapshot when it is current in
  // `tx`; Keep() stores what it loaded into the snapshot. In a write transaction (which may
  // roll back) what it loaded is kept for that transaction only, as long as it writes no
  // Basic or Organization (ReadTx::CacheStamp): the write hooks' evaluations of one import
  // Bundle check the snapshot (RulesStamp's query) and load each issuer's rules once.
  core::Result<OrganizationCache> StartCache(store::ReadTx& tx);
  void Keep(store::ReadTx& tx, OrganizationCache& cache);

  // The catalogue item a result names (code; for ImagingStudy procedureCode or the series'
  // modality and body site); null when none.
  static const Item* ItemOf(const Catalogue& catalogue, const fhir::Json& resource);

  // The findings that do not depend on when the result is used nor on the patient's
  // consent: status, conclusion only, specimen, method, and the issuer's qualification at
  // issue time. Empty means the result carries the recognition mark. Errors: the store's.
  core::Result<std::vector<Finding>> IntrinsicFindings(store::ReadTx& tx,
                                                       const fhir::Json& resource, const Item& item,
                                                       Prior& prior,
                                                       OrganizationCache* cache = nullptr) const;

  // The issuing Organization of a result ("Organization/<id>"): the first Organization
  // performer (ImagingStudy: series.performer.actor), or a PractitionerRole performer's
  // organization. Empty when none.
  core::Result<std::string> Issuer(store::ReadTx& tx, const fhir::Json& resource) const;
  // When the result was issued: issued, else effective[x] (ImagingStudy: started); read in
  // Asia/Shanghai when the text has no zone. nullopt when it has none.
  static std::optional<core::EpochMillis> IssuedAt(const fhir::Json& resource,
                                                   std::string* text = nullptr);
  // True when `organization` (or a parent through partOf, up to 4 levels) held a
  // qualification covering `item` at `when`.
  core::Result<bool> Qualified(store::ReadTx& tx, const std::string& organization, const Item& item,
                               core::EpochMillis when, OrganizationCache* cache = nullptr) const;

 private:
  core::Result<OrganizationRules> LoadOrganization(store::ReadTx& tx,
                                                   const std::string& organization) const;
  core::Result<std::vector<store::StoredResource>> Find(store::ReadTx& tx, const std::string& type,
                                                        search::Params params) const;

  core::Result<int64_t> RulesStamp(store::ReadTx& tx) const;

  CatalogueCache& catalogue_;
  search::Searcher searcher_;
  std::mutex rules_mutex_;
  int64_t rules_stamp_ = -1;  // RulesStamp() of rules_
  std::shared_ptr<const OrganizationMap> rules_;
  // The rules of one transaction (the last to call StartCache), keyed by its CacheStamps of
  // Basic and Organization: the snapshot when current there, plus what it loaded.
  struct TransactionKey {
    uint64_t basic = 0;
    uint64_t organization = 0;
    bool operator==(const TransactionKey&) const = default;
  };
  static std::optional<TransactionKey> KeyOf(const store::ReadTx& tx);
  std::optional<TransactionKey> transaction_key_;
  std::shared_ptr<const OrganizationMap> transaction_rules_;
};

}  // namespace medalliance::recognition
