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
  // The server's own work, not a request (timers such as the green-channel escalator): no
  // person or member asked for it, no access rule applies (authenticated is false), and the
  // audit records the component named in client_id as a system agent. See SystemCaller().
  bool system = false;
};

// The caller of work the server does on its own: `component` names it ("referral-escalator").
inline Caller SystemCaller(std::string_view component) {
  Caller caller;
  caller.system = true;
  caller.client_id = std::string(component);
  return caller;
}

// Writes made by domain code (a hook's Encounter, an operation's Person, the escalator's
// Task) nest: a write made for a request has depth 0, one a hook makes in reaction depth 1,
// and so on. ResourceWriter refuses a write nested deeper than this (kInternal), so hooks
// whose writes trigger each other cannot recurse without end.
inline constexpr int kMaxWriteDepth = 4;

// Who writes, for whom, and how deep: the context of a write through ResourceWriter.
struct WriteScope {
  // The caller of the request that led to the write (its access rules and audit apply), a
  // SystemCaller() for the server's own work, or null for local tools (import, seeding),
  // whose writes run no CallerOnly hook.
  const Caller* caller = nullptr;
  // The domain module that writes ("referral", "mpi", ...); empty for a client's own write.
  std::string_view origin;
  int depth = 0;                                 // see kMaxWriteDepth
  core::EpochMillis now = 0;                     // meta.lastUpdated of what is written
  std::vector<core::Issue>* warnings = nullptr;  // hooks' warnings, may be null
};

// The write pipeline of a REST write, for domain code: validation, id and meta, the write
// hooks in their order (access, registry, MPI, recognition, referral, ..., audit), search
// index extraction and the new version, all inside the caller's transaction `tx`. An error
// leaves the transaction to be rolled back by whoever owns it (Store::Write's fn returns it),
// so a failing nested write undoes the whole transaction. api/rest implements it; hooks get
// it in WriteEvent::writer, operations in OperationRequest::writer, cli hands it to timers.
// Thread-safe; the transaction is not.
//
// Errors: kUnprocessable (validation), kConflict (the id exists on Create; another version
// than `expected_version` on Update), kInternal (nested deeper than kMaxWriteDepth), the
// hooks' and the store's.
class ResourceWriter {
 public:
  virtual ~ResourceWriter() = default;
  // Stores `resource` as a new resource with `id` (a fresh id when empty). `resource` is
  // stamped in place (id, meta) and holds what was stored, hooks' additions included.
  virtual core::Result<StoredResource> Create(WriteTx& tx, fhir::Json& resource,
                                              const WriteScope& scope,
                                              std::string id = {}) const = 0;
  // Stores a new version of `resource` (its resourceType and id), or version 1 when it does
  // not exist. `expected_version`: the version the caller read and changed (kConflict when
  // another is current). Stamped in place like Create.
  virtual core::Result<StoredResource> Update(
      WriteTx& tx, fhir::Json& resource, const WriteScope& scope,
      std::optional<int64_t> expected_version = std::nullopt) const = 0;
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
  // Empty for a client's own write; else the domain module that made it through
  // ResourceWriter (WriteScope::origin). A module's hook may trust its own module's writes
  // (the referral Task hook lets the escalator reassign a Task; the MPI hook does not match
  // the Patients its operations write).
  std::string_view origin;
  int depth = 0;              // see kMaxWriteDepth
  core::EpochMillis now = 0;  // meta.lastUpdated of this write
  // For writes the hook makes in reaction (through the whole pipeline); null only where no
  // writer is wired (unit tests that call a hook directly).
  const ResourceWriter* writer = nullptr;

  // The scope of a write a hook makes in reaction to this one: same caller, warnings and
  // time, one level deeper, made by `module`.
  WriteScope Nested(std::string_view module) const {
    return WriteScope{caller, module, depth + 1, now, warnings};
  }
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
  // For the operation's writes (through the whole write pipeline, inside its Store::Write,
  // with WriteScope::caller = caller). Null only where none is wired (unit tests).
  const ResourceWriter* writer = nullptr;
};

struct OperationResponse {
  int status = 200;
  fhir::Json body;  // a resource: Parameters, Bundle, OperationOutcome, ...
  // Instead of `body` (left null): the resource already written as JSON text, for an
  // operation whose large answer is cheaper to write directly (recognition's $recognize). It
  // must embed no resource (api/ does not filter it for the caller's view: the operation
  // lists only what OperationRequest::visible admits); the caller's reads are audited as for
  // `body`.
  std::string body_text;
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
