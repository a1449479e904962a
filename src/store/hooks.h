#pragma once
// Extension points for domain modules (registry, mpi, recognition, referral, ...): write hooks
// and FHIR operations. They are plain interfaces over the store, so that domain code never
// sees HTTP; api/rest calls them and cli registers them.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::store {

// Who is calling. api/ fills it from the access token; empty (authenticated = false) for
// local tools (import, demo) and when authentication is off, and then no access rule applies.
struct Caller {
  bool authenticated = false;
  std::string client_id;        // SMART backend client, when a system calls
  std::string organization_id;  // the member the caller acts for: its bare Organization id
  std::string practitioner_id;  // the person, when a person calls
  // clinician, referral-coordinator, alliance-admin, data-steward, researcher; "system" for
  // a hospital system (SMART backend client).
  std::vector<std::string> roles;
  // Granted SMART scopes as issued in the token (v1 or v2 syntax, e.g. "system/*.read",
  // "system/Observation.rs").
  std::vector<std::string> scopes;
  // Break-glass: set when the request carries an emergency override with its reason.
  std::optional<std::string> break_glass_reason;
};

enum class WriteKind { kCreate, kUpdate, kPatch, kDelete };

// One resource write, seen by hooks before it is stored.
struct WriteEvent {
  WriteKind kind = WriteKind::kCreate;
  std::string type;
  std::string id;
  // The new content, already validated. A hook may add to it (an extension, a tag); it must
  // keep it valid, as it is stored without another validation. Null for a delete.
  fhir::Json* resource = nullptr;
  // The current version before this write, when there is one.
  const StoredResource* previous = nullptr;
  const Caller* caller = nullptr;
  // Warnings for the response (an OperationOutcome in the Bundle or with the resource).
  std::vector<core::Issue>* warnings = nullptr;
};

// Runs inside the write transaction for every write of the types it names. An error rejects
// the write (and the whole transaction Bundle); the hook may read and write other resources
// through `tx`. Write() may re-run the transaction, so a hook must not act outside it.
class WriteHook {
 public:
  virtual ~WriteHook() = default;
  // Resource types this hook wants; empty means all.
  virtual std::vector<std::string> Types() const = 0;
  // True: runs only for writes made for a request (WriteEvent.caller set), never for local
  // tools (import, demo), so that those keep their hook-free fast path.
  virtual bool CallerOnly() const { return false; }
  virtual core::Status BeforeWrite(WriteTx& tx, WriteEvent& event) = 0;
};

// A FHIR operation ($name) at system, type or instance level.
struct OperationRequest {
  std::string type;  // empty at system level
  std::string id;    // empty unless at instance level
  // The input Parameters resource: the POST body, or built from GET query parameters.
  fhir::Json parameters;
  bool is_get = false;
  const Caller* caller = nullptr;
  std::string base_url;
  // The caller's view under the access rules: an operation that reads resources to answer
  // (not only to decide) lists only those for which this answers true. Unset: everything.
  std::function<core::Result<bool>(ReadTx&, const StoredResource&)> visible;
};

struct OperationResponse {
  int status = 200;
  fhir::Json body;  // a resource: Parameters, Bundle, OperationOutcome, ...
  std::vector<core::Issue> warnings;
};

class Operation {
 public:
  virtual ~Operation() = default;
  virtual std::string Name() const = 0;  // without "$"
  // The OperationDefinition canonical URL listed in the CapabilityStatement.
  virtual std::string Definition() const = 0;
  virtual bool System() const { return false; }
  virtual std::vector<std::string> Types() const { return {}; }  // type level
  virtual bool Instance() const { return false; }                // on those types' instances
  virtual bool AffectsState() const { return false; }            // POST only when true
  virtual core::Result<OperationResponse> Invoke(Store& store, const OperationRequest& request) = 0;
};

}  // namespace medalliance::store
