#pragma once
// The FHIR R4 RESTful API over a Store: every interaction of the specification for every
// resource type (create, read, vread, update, patch, delete, history, search, conditional
// create/update/delete, batch and transaction, capabilities). Knows nothing of HTTP wire
// details: api/http_adapter converts requests and responses.
//
// Thread-safe: Handle() may run on many threads at once.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "access/policy.h"
#include "api/rest/request.h"
#include "api/rest/resource_writer.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::api::rest {

struct RestConfig {
  // Validates a resource against the R4 definitions; kUnprocessable with issues on failure.
  std::function<core::Status(const fhir::Json&)> validate;
  // Applies a JSON Patch document (RFC 6902) in place, atomically.
  std::function<core::Status(fhir::Json&, const fhir::Json&)> apply_json_patch;
  // Applies a FHIRPath Patch (a Parameters resource) in place, atomically.
  std::function<core::Status(fhir::Json&, const fhir::Json&)> apply_fhirpath_patch;
  // Every R4 resource type name, sorted.
  std::vector<std::string> resource_types;
  // Subscription channel types the server delivers ("rest-hook", "websocket"): listed on the
  // Subscription resource of the CapabilityStatement, with the R4 websocket extension.
  std::vector<std::string> subscription_channels;
  const core::Clock* clock = nullptr;
  std::string software_version = "0.1.0";
  int default_page_size = 50;
  int max_page_size = 1000;
  size_t max_bundle_entries = 10000;
  // Domain modules' write hooks and operations (not owned; they outlive the service).
  std::vector<store::WriteHook*> hooks;
  std::vector<store::Operation*> operations;
  // Access rules and the read/security audit (issue 4; access_guard.cc). Not owned; null
  // turns them off. Writes are checked and audited by write hooks in `hooks`.
  const access::Policy* policy = nullptr;
  audit::AuditLog* audit = nullptr;
  // Advertise SMART on FHIR (rest.security) in the CapabilityStatement: auth is on.
  bool smart_on_fhir = false;
  // The master patient index (issue 5): every Patient linked to the same Person as a
  // "Patient/<id>", itself included. When set, searches accept `_mpi-linked=true`
  // (linked_search.cc) and Patient/[id]/$everything with `_mpi` goes to the "everything"
  // operation on Patient.
  std::function<core::Result<std::vector<std::string>>(store::ReadTx&, std::string_view)>
      linked_patients;
};

class RestService {
 public:
  RestService(store::Store& store, RestConfig config);

  FhirResponse Handle(const FhirRequest& request) const;

  // Processes a batch or transaction Bundle (also used by `medalliance import`).
  // Returns the response Bundle, or the error that rolled a transaction back.
  // `caller`: who sent it (null for local tools); its entries obey the access rules.
  core::Result<fhir::Json> ProcessBundle(fhir::Json bundle, const std::string& base_url,
                                         const store::Caller* caller = nullptr) const;

  // ProcessBundle in two steps, for callers that overlap them (the importer prepares on one
  // thread and commits on another). PrepareBundle parses, validates and does what needs no
  // database; CommitBundle writes. A PreparedBundle is committed at most once.
  struct PreparedBundle;
  struct PreparedBundleDeleter {
    void operator()(PreparedBundle* bundle) const;
  };
  using PreparedBundlePtr = std::unique_ptr<PreparedBundle, PreparedBundleDeleter>;
  // `speculate`: also prepare the creates of types with write hooks, on the speculation that
  // the hooks leave them unchanged (PreparedContent): worth it only when another thread
  // commits, as it copies each such resource.
  core::Result<PreparedBundlePtr> PrepareBundle(fhir::Json bundle, const std::string& base_url,
                                                const store::Caller* caller = nullptr,
                                                bool speculate = false) const;
  // `entries_wanted` false: a transaction's response Bundle carries entries only for its GET
  // entries (for a caller that needs only to know the writes committed: the importer); a batch's
  // always has them all.
  core::Result<fhir::Json> CommitBundle(PreparedBundle& prepared, bool entries_wanted = true) const;
  // CommitBundle for several Bundles, in order. Each transaction stays atomic on its own (one
  // that fails rolls back alone and gets its error), but consecutive transactions go to the
  // store together (Store::WriteEach: SQLite commits them with one fsync). Every result is
  // final, and every success durable, when this returns. For the importer.
  std::vector<core::Result<fhir::Json>> CommitBundles(std::span<PreparedBundle* const> bundles,
                                                      bool entries_wanted = true) const;

  bool IsResourceType(std::string_view type) const;

  // The write pipeline for domain code outside a request (the escalator's timer); hooks and
  // operations get it in WriteEvent / OperationRequest. Lives as long as the service.
  const store::ResourceWriter& Writer() const { return writer_; }

 private:
  struct Route;
  class BundleProcessor;

  FhirResponse Dispatch(const FhirRequest& request) const;
  FhirResponse Capabilities(const FhirRequest& request) const;
  FhirResponse Create(const FhirRequest& request, const std::string& type) const;
  FhirResponse Read(const FhirRequest& request, const std::string& type,
                    const std::string& id) const;
  FhirResponse VersionRead(const FhirRequest& request, const std::string& type,
                           const std::string& id, const std::string& version) const;
  FhirResponse Update(const FhirRequest& request, const std::string& type,
                      const std::string& id) const;
  FhirResponse ConditionalUpdate(const FhirRequest& request, const std::string& type) const;
  FhirResponse Patch(const FhirRequest& request, const std::string& type,
                     const std::string& id) const;
  FhirResponse Delete(const FhirRequest& request, const std::string& type,
                      const std::string& id) const;
  FhirResponse ConditionalDelete(const FhirRequest& request, const std::string& type) const;
  FhirResponse History(const FhirRequest& request, const std::string* type,
                       const std::string* id) const;
  FhirResponse Search(const FhirRequest& request, const std::string& type,
                      const QueryParams& params) const;
  search::SearchRequest MakeSearchRequest(const FhirRequest& request, const std::string& type,
                                          const QueryParams& params) const;
  FhirResponse RunSearch(const FhirRequest& request,
                         const search::SearchRequest& search_request) const;
  FhirResponse PostBundle(const FhirRequest& request) const;
  void PrecomputeCreates(PreparedBundle& prepared, bool speculate) const;
  // bundle_processor.cc: CommitBundles' parts.
  struct TransactionRun;
  fhir::Json CommitBatch(PreparedBundle& prepared) const;
  core::Status WriteTransaction(TransactionRun& run, store::WriteTx& tx) const;
  fhir::Json TransactionResponse(PreparedBundle& prepared, bool entries_wanted) const;
  FhirResponse InvokeOperation(const FhirRequest& request, const std::string& type,
                               const std::string& id, const std::string& name) const;
  // search_routes.cc: GET [base]/Patient/123/Observation and Patient/123/$everything.
  FhirResponse CompartmentSearch(const FhirRequest& request, const std::string& compartment,
                                 const std::string& id, const std::string& type) const;
  FhirResponse PatientEverything(const FhirRequest& request, const std::string& id) const;
  // linked_search.cc: the master patient index's opt-ins (`_mpi` on Patient/$everything,
  // `_mpi-linked=true` on a search, which rewrites patient criteria to every linked Patient).
  static bool AsksForMpi(const QueryParams& params);
  static bool AsksForLinkedPatients(const QueryParams& params);
  core::Result<QueryParams> ExpandLinkedPatients(store::ReadTx& tx,
                                                 const search::SearchRequest& request) const;

  core::Result<fhir::Json> ParseResourceBody(const FhirRequest& request,
                                             std::string_view expected_type) const;
  core::Status Validate(const fhir::Json& resource) const;
  FhirResponse WriteResponse(const FhirRequest& request, const store::StoredResource& stored,
                             int status, const std::vector<core::Issue>& warnings = {}) const;
  core::Result<std::vector<store::StoredResource>> FindMatches(
      store::ReadTx& tx, const std::string& type, const QueryParams& params,
      const search::VisibilityPredicate& visible = {}) const;

  // access_guard.cc: the access rules and read audit around the interactions.
  // A Session when the caller is restricted (authenticated, and rules configured), else null.
  std::unique_ptr<access::Session> MakeSession(const FhirRequest& request) const;
  static search::VisibilityPredicate Predicate(access::Session* session);
  // Writes the break-glass grants the session opened (AuditEvent + Task for the data steward),
  // and commits AuditEvents for its cross-member and break-glass reads, returning once they
  // are durable (kUnavailable when they cannot be stored: the data must not be sent).
  core::Status AuditReads(const FhirRequest& request, const access::Session* session,
                          std::string_view subtype, const std::string& query = {}) const;
  void AuditRefusal(const FhirRequest& request, std::string_view subtype, const std::string& what,
                    const std::string& why) const;
  // Removes from an operation's result (a Bundle, or Parameters with resources) what the
  // caller may not see.
  core::Status FilterOperationResult(access::Session& session, fhir::Json& body) const;

  store::Store& store_;
  RestConfig config_;
  search::Searcher searcher_;
  ResourceWriter writer_;
};

// Parses "a=1&b=x%20y" into decoded pairs ("+" is a space).
QueryParams ParseQueryString(std::string_view query);
// "W/\"3\"" or "3" -> 3; nullopt when malformed.
std::optional<int64_t> ParseETagVersion(std::string_view etag);

}  // namespace medalliance::api::rest
