#pragma once
// Who may read and write what (issue 4, doc/security.md). A member reads and writes its own
// records; it reads another member's records of a patient only while it treats the patient
// (an open referral or consultation between the two members, or an encounter at the reader)
// and the patient has not refused alliance sharing (Consent); break-glass overrides both, for
// clinicians and hospital systems. The registry is written by alliance administrators only;
// AuditEvents of other members are read by data stewards and administrators only.
//
// "Patient" is the person across the alliance: Patients linked under one Person (the MPI)
// count as one for relationships and consent.
//
// No HTTP here: api/ asks a Session about each stored resource and answers 404 for a denied
// read. Unauthenticated callers (auth off, local tools) are never restricted.
//
// Thread-safety: a Policy is shared and thread-safe; a Session belongs to one request.

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "access/content_cache.h"
#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::access {

// The owner label the server stamps on every write by an authenticated caller:
// meta.security {system: kCustodianSystem, code: <member Organization id>}.
inline constexpr std::string_view kCustodianSystem =
    "https://fhir.medalliance.cn/CodeSystem/custodian";
inline constexpr std::string_view kMrnSystemPrefix = "https://fhir.medalliance.cn/sid/mrn/";

// The rule that decided.
enum class Rule {
  kUnrestricted,    // allow: no authenticated caller
  kOwn,             // allow: the caller's member owns it
  kShared,          // allow: registry/catalogue, or a record no member owns or about no patient
  kTreatment,       // allow: treatment relationship and sharing not refused
  kBreakGlass,      // allow: emergency override
  kAuditOversight,  // allow: a data steward or administrator reads an AuditEvent
  kNoRelationship,  // deny: another member's record, no treatment relationship
  kConsentRefused,  // deny: the patient refused sharing (or did not opt in)
  kOtherMember,     // deny: another member's record about no patient
  kAuditEventProtected,  // deny: another member's AuditEvent
};
std::string_view RuleName(Rule rule);

struct Verdict {
  bool allowed = false;
  Rule rule = Rule::kUnrestricted;
  std::string owner;                  // member Organization id, empty when unknown
  std::vector<std::string> patients;  // the Patient compartments of the resource
  bool cross_member() const { return allowed && rule != Rule::kOwn && !owner.empty(); }
};

enum class ConsentDefault {
  kOptOut,  // sharing allowed unless the patient refuses
  kOptIn,   // sharing refused unless the patient permits
};

struct PolicyOptions {
  ConsentDefault consent_default = ConsentDefault::kOptOut;
  // How long one break-glass grant (caller, patient) lasts before a new one (and a new
  // review item for the data steward) is opened. 4 hours.
  core::EpochMillis break_glass_window_ms = 4LL * 3600 * 1000;
  const core::Clock* clock = nullptr;  // not owned; the system clock when null
};

// The registry and catalogue types: read by every member, written by administrators only.
bool IsRegistryType(std::string_view type);

// The owner member of a stored resource: the custodian label, else derived from the content
// (Patient.managingOrganization or an MRN identifier system, Encounter.serviceProvider,
// performer / requester / author / custodian / organization Organization references).
// Empty when none is known.
std::string OwnerOf(const fhir::Json& resource);
// The custodian label read from the JSON text without parsing it when the text carries
// exactly one; nullopt when the text must be parsed.
std::optional<std::string> FastCustodian(std::string_view json);
bool HasRole(const store::Caller& caller, std::string_view role);

// A break-glass grant opened by a request: api/ records it (AuditEvent + Task for the steward).
struct BreakGlassGrant {
  std::string patient;
  std::string reason;
  core::EpochMillis start = 0;
  core::EpochMillis end = 0;
};

// Stores a grant that OpenBreakGlass opened for `caller` (and drops expired ones).
core::Status SaveBreakGlass(store::WriteTx& tx, const store::Caller& caller,
                            const BreakGlassGrant& grant);

class Policy {
 public:
  explicit Policy(PolicyOptions options = {});
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  const PolicyOptions& Options() const { return options_; }
  core::EpochMillis Now() const;

  // A write by `caller` of `resource` (null for a delete) over `previous` (null for a create).
  // Stamps the owner label on `resource`. kForbidden naming the rule that refused; kNotFound
  // when the caller may not even read `previous`; kUnprocessable for a forged label.
  core::Status CheckWrite(store::ReadTx& tx, const store::Caller& caller, std::string_view type,
                          fhir::Json* resource, const store::StoredResource* previous) const;

  // Opens a grant for (caller, patient) unless one is open, in memory or in the
  // break_glass_grants table (a grant survives a restart); returns it when it is new. The
  // caller of a new grant stores it with SaveBreakGlass in the transaction that flags it.
  core::Result<std::optional<BreakGlassGrant>> OpenBreakGlass(store::ReadTx& tx,
                                                              const store::Caller& caller,
                                                              const std::string& patient) const;

  // What the access rules need of each stored version's content (its issuing member, else the
  // first patient it is about and that patient's owner as last resolved), kept for every
  // request: a function of the version's bytes, keyed by the version's sequence. Thread-safe.
  ContentCache& Content() const { return content_; }

  // The owner of a patient's record, kept across requests. An entry is used as it is while
  // the store's change marks (ReadTx::Changes) show no commit since it was read; after a
  // commit (by this server or any other process) it is checked against the sequence of the
  // Patient's current version (PatientSequence, one primary-key lookup), so a write of the
  // Patient makes it miss. Back ends without change marks check the sequence every time.
  static core::Result<int64_t> PatientSequence(store::ReadTx& tx, const std::string& patient);
  std::optional<std::string> LookupUnchangedPatientOwner(const std::string& patient,
                                                         int64_t current) const;
  std::optional<std::string> LookupPatientOwner(const std::string& patient, int64_t sequence,
                                                int64_t stamp) const;
  void RememberPatientOwner(const std::string& patient, int64_t sequence, const std::string& owner,
                            int64_t stamp) const;
  static constexpr int64_t kNoStamp = -1;  // matches no change mark

 private:
  PolicyOptions options_;
  mutable ContentCache content_;
  struct PatientOwnerEntry {
    int64_t sequence = 0;  // of the Patient version it was read from
    std::string owner;
    int64_t stamp = kNoStamp;  // the change mark it was last read or checked under
  };
  mutable std::shared_mutex patient_mutex_;
  mutable std::unordered_map<std::string, PatientOwnerEntry> patient_owner_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, core::EpochMillis> grants_;  // "caller|patient" -> end
};

// The decisions of one request, with caches (relationships, consents, linked patients).
class Session {
 public:
  Session(const Policy& policy, const store::Caller& caller);

  // Whether the caller may read this stored version (a delete marker: decided on the version
  // before it). Records cross-member and break-glass accesses for the audit.
  core::Result<Verdict> Decide(store::ReadTx& tx, const store::StoredResource& resource);
  core::Result<bool> Visible(store::ReadTx& tx, const store::StoredResource& resource);

  bool Restricted() const { return caller_.authenticated; }
  const store::Caller& GetCaller() const { return caller_; }

  struct Access {
    std::string reference;  // Type/id/_history/version
    std::string owner;
    std::vector<std::string> patients;
    Rule rule;
  };
  // Cross-member reads allowed so far (for the audit), and grants opened.
  const std::vector<Access>& CrossMemberReads() const { return cross_reads_; }
  const std::vector<BreakGlassGrant>& NewGrants() const { return new_grants_; }
  bool HasAccessesToAudit() const { return !cross_reads_.empty() || !new_grants_.empty(); }

 private:
  core::Result<Verdict> DecideJson(store::ReadTx& tx, const fhir::Json& resource,
                                   const std::string& owner);
  core::Result<std::vector<std::string>> LinkedPatients(store::ReadTx& tx,
                                                        const std::string& patient);
  core::Result<bool> Treats(store::ReadTx& tx, const std::vector<std::string>& patients,
                            const std::string& owner);
  core::Result<bool> SharingAllowed(store::ReadTx& tx, const std::vector<std::string>& patients);
  core::Result<std::string> OrganizationOf(store::ReadTx& tx, std::string_view reference);
  // The member that manages a patient's record (its owner), or empty.
  core::Result<std::string> PatientOwner(store::ReadTx& tx, const std::string& patient);
  // The same without a copy: the session's entry, valid until the next call.
  core::Result<const std::string*> PatientOwnerRef(store::ReadTx& tx, const std::string& patient);
  // The owner from the shared caches and the store, past the session's own memo.
  core::Result<std::string> LookUpPatientOwner(store::ReadTx& tx, const std::string& patient);
  // The same past the session's memo, under this transaction's change marks.
  core::Result<std::string> SharedPatientOwner(
      store::ReadTx& tx, const std::string& patient,
      const std::optional<store::ReadTx::ChangeMarks>& marks);
  // Whether the version is known, without parsing it, to be the caller's member's own (content
  // facts or its one custodian label). False when it is not or when that is unknown: the caller
  // parses. `fast`, when given, receives the label search's result.
  core::Result<bool> KnownOwn(store::ReadTx& tx, const store::StoredResource& resource,
                              std::optional<std::string>* fast);
  // The same for a version whose facts name a patient and no owner: the patient's owner.
  core::Result<bool> PatientIsOwn(store::ReadTx& tx, const store::StoredResource& resource,
                                  const ContentCache::Facts& facts);
  // Makes the session's codes those of `generation` (the caller's member interned once per
  // session and generation); false when that generation has passed.
  bool UseGeneration(uint32_t generation);
  void RememberPatientOwner(const std::string& patient, const std::string& owner);
  bool MayBreakGlass() const;

  const Policy& policy_;
  const store::Caller& caller_;
  std::map<std::string, std::vector<std::string>> linked_;
  std::map<std::string, bool> treats_;   // "patients|owner"
  std::map<std::string, bool> sharing_;  // "patients"
  std::map<std::string, std::string> organization_of_;
  std::map<std::string, std::string> patient_owner_;
  // Codes of the content cache's generation codes_generation_: the caller's member (kNoCode
  // when it has none), and whether each patient asked about so far is the caller's member's
  // (the last one apart: a search's rows are mostly about the patient of the row before).
  uint32_t codes_generation_ = 0;
  ContentCache::Code own_code_ = ContentCache::kNoCode;
  ContentCache::Code last_patient_code_ = ContentCache::kNoCode;
  bool last_patient_own_ = false;
  std::unordered_map<ContentCache::Code, bool> patient_own_;
  std::string patient_;       // buffer for a patient's id from its code
  std::string last_patient_;  // the patient asked about last, and its owner
  std::string last_patient_owner_;
  std::set<std::string> recorded_;
  std::vector<Access> cross_reads_;
  std::vector<BreakGlassGrant> new_grants_;
};

}  // namespace medalliance::access
