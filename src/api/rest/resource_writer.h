#pragma once
// The write path shared by single REST interactions, Bundle entries and domain code: runs the
// write hooks, stamps id and meta, serialises, and stores a new version with its search-index
// rows, inside a WriteTx. REST callers validate the resource first; writes made by domain
// code through the store::ResourceWriter interface (hooks, operations, the escalator) are
// validated here. Thread-safe (no mutable state).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::api::rest {

// Computes the search-index rows of a resource (search/ provides it; may be empty).
using IndexFunction = std::function<std::vector<store::IndexEntry>(const fhir::Json& resource)>;

// Who writes, and where hooks put their warnings. Both may be null. `origin` and `depth` are
// set for writes made by domain code (store::WriteScope).
struct WriteContext {
  const store::Caller* caller = nullptr;
  std::vector<core::Issue>* warnings = nullptr;
  std::string_view origin;
  int depth = 0;
};

// A create's content computed before the transaction (on the importer's preparing thread) on
// the speculation that the write hooks leave the resource as it is: the resource as it would
// be stored (references resolved, stamped with `now`), its JSON text and index rows. Create()
// stamps with `now` and uses the text and rows when the hooks' result equals `resource`,
// else serialises and indexes as usual.
struct PreparedContent {
  fhir::Json resource;
  core::EpochMillis now = 0;
  std::string json;
  std::vector<store::IndexEntry> index;
};

struct WriteResult {
  store::StoredResource stored;
  bool created = false;  // a new resource (201) rather than a new version (200)
};

class ResourceWriter final : public store::ResourceWriter {
 public:
  // `hooks` run inside the transaction before each write of their types (not owned).
  // `validate` checks writes made by domain code (none when empty).
  // Each hook's Types() and CallerOnly() are read once, here: they must not change later.
  ResourceWriter(IndexFunction index, std::vector<store::WriteHook*> hooks,
                 std::function<core::Status(const fhir::Json&)> validate = {});

  // store::ResourceWriter: domain code's writes, validated, then as Create / Update below
  // with the scope's caller, origin and depth (kInternal past store::kMaxWriteDepth).
  core::Result<store::StoredResource> Create(store::WriteTx& tx, fhir::Json& resource,
                                             const store::WriteScope& scope,
                                             std::string id = {}) const override;
  core::Result<store::StoredResource> Update(
      store::WriteTx& tx, fhir::Json& resource, const store::WriteScope& scope,
      std::optional<int64_t> expected_version = std::nullopt) const override;

  // Stores `resource` as version 1 with the given id (a new version after a deletion).
  // kConflict when the id exists and is not deleted. `resource` is stamped in place (id,
  // meta); stamping again on a re-run of the transaction is harmless.
  // `expected`: see PreparedContent (null: none).
  core::Result<WriteResult> Create(store::WriteTx& tx, fhir::Json& resource, const std::string& id,
                                   core::EpochMillis now, const WriteContext& context = {},
                                   const PreparedContent* expected = nullptr) const;

  // Stores a new version (or version 1 when the resource does not exist or was deleted:
  // update-as-create). `if_match`: the version the client expects to replace (412 otherwise).
  core::Result<WriteResult> Update(store::WriteTx& tx, fhir::Json& resource, const std::string& id,
                                   std::optional<int64_t> if_match, std::string_view method,
                                   core::EpochMillis now, const WriteContext& context = {}) const;

  // Writes a delete marker. Returns nullopt when there was nothing to delete (never existed
  // or already deleted): deleting is idempotent.
  core::Result<std::optional<store::StoredResource>> Delete(store::WriteTx& tx,
                                                            std::string_view type,
                                                            std::string_view id,
                                                            std::optional<int64_t> if_match,
                                                            core::EpochMillis now,
                                                            const WriteContext& context = {}) const;

  // Stores a version whose JSON text and index rows the caller computed already (a create
  // prepared outside the transaction). No hooks run: callers use it only for types without.
  core::Result<WriteResult> PutPrepared(store::WriteTx& tx, store::StoredResource& stored,
                                        const std::vector<store::IndexEntry>& index) const;
  // True when a write hook wants writes of `type` (made for a request when `with_caller`).
  bool HasHooksFor(std::string_view type, bool with_caller = true) const;

  // Sets id, meta.versionId and meta.lastUpdated (id after resourceType, meta after id).
  static void Stamp(fhir::Json& resource, std::string_view id, int64_t version,
                    core::EpochMillis now);

 private:
  core::Result<WriteResult> Put(store::WriteTx& tx, fhir::Json& resource, const std::string& id,
                                int64_t version, std::string_view method, core::EpochMillis now,
                                const PreparedContent* expected = nullptr) const;

  core::Status RunHooks(store::WriteTx& tx, store::WriteKind kind, std::string_view type,
                        std::string_view id, fhir::Json* resource,
                        const store::StoredResource* previous, const WriteContext& context,
                        core::EpochMillis now) const;
  // The checks of a domain write: depth, resourceType, validation.
  core::Status CheckScoped(const fhir::Json& resource, const store::WriteScope& scope) const;

  // A hook with its types (empty: all) and CallerOnly(), read once at construction: Types()
  // builds a vector on every call, and this runs for every write.
  struct HookEntry {
    store::WriteHook* hook = nullptr;
    std::vector<std::string> types;
    bool caller_only = false;
    bool Wants(std::string_view type) const;
  };

  IndexFunction index_;
  std::vector<HookEntry> hooks_;
  std::function<core::Status(const fhir::Json&)> validate_;
};

}  // namespace medalliance::api::rest
