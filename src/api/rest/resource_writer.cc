#include "api/rest/resource_writer.h"

#include <algorithm>

#include "core/ids.h"
#include "core/time.h"

namespace medalliance::api::rest {

using core::Error;
using fhir::Json;

ResourceWriter::ResourceWriter(IndexFunction index, std::vector<store::WriteHook*> hooks,
                               std::function<core::Status(const fhir::Json&)> validate)
    : index_(std::move(index)), validate_(std::move(validate)) {
  hooks_.reserve(hooks.size());
  for (store::WriteHook* hook : hooks) hooks_.push_back({hook, hook->Types(), hook->CallerOnly()});
}

bool ResourceWriter::HookEntry::Wants(std::string_view type) const {
  return types.empty() || std::find(types.begin(), types.end(), type) != types.end();
}

void ResourceWriter::Stamp(Json& resource, std::string_view id, int64_t version,
                           core::EpochMillis now) {
  resource.SetAt(1, "id", Json::MakeString(std::string(id)));
  Json* meta = resource.Find("meta");
  if (meta == nullptr || !meta->IsObject()) {
    meta = &resource.SetAt(2, "meta", Json::MakeObject());
  }
  meta->SetAt(0, "versionId", Json::MakeString(std::to_string(version)));
  // A Bundle's resources share `now`: format it once per thread and run of equal stamps.
  thread_local core::EpochMillis formatted_millis = 0;
  thread_local std::string formatted;
  if (formatted.empty() || formatted_millis != now) {
    formatted = core::FormatInstant(now);
    formatted_millis = now;
  }
  meta->SetAt(1, "lastUpdated", Json::MakeString(formatted));
}

core::Result<WriteResult> ResourceWriter::Put(store::WriteTx& tx, Json& resource,
                                              const std::string& id, int64_t version,
                                              std::string_view method, core::EpochMillis now,
                                              const PreparedContent* expected) const {
  if (expected != nullptr)
    now = expected->now;
  Stamp(resource, id, version, now);
  WriteResult result;
  result.created = version == 1;
  store::StoredResource& stored = result.stored;
  stored.type = std::string(resource.GetStringMember("resourceType"));
  stored.id = id;
  stored.version = version;
  stored.last_updated = now;
  stored.method = std::string(method);
  if (expected != nullptr && resource == expected->resource) {
    stored.json = expected->json;
    MA_RETURN_IF_ERROR(tx.PutVersion(stored, expected->index));
    return result;
  }
  stored.json = fhir::WriteJson(resource);
  std::vector<store::IndexEntry> index;
  if (index_)
    index = index_(resource);
  MA_RETURN_IF_ERROR(tx.PutVersion(stored, index));
  return result;
}

core::Status ResourceWriter::RunHooks(store::WriteTx& tx, store::WriteKind kind,
                                      std::string_view type, std::string_view id, Json* resource,
                                      const store::StoredResource* previous,
                                      const WriteContext& context, core::EpochMillis now) const {
  for (const HookEntry& entry : hooks_) {
    if ((entry.caller_only && context.caller == nullptr) || !entry.Wants(type))
      continue;
    store::WriteEvent event;
    event.kind = kind;
    event.type = std::string(type);
    event.id = std::string(id);
    event.resource = resource;
    event.previous = previous;
    event.caller = context.caller;
    event.warnings = context.warnings;
    event.origin = context.origin;
    event.depth = context.depth;
    event.now = now;
    event.writer = this;
    MA_RETURN_IF_ERROR(entry.hook->BeforeWrite(tx, event));
  }
  return {};
}

bool ResourceWriter::HasHooksFor(std::string_view type, bool with_caller) const {
  for (const HookEntry& entry : hooks_) {
    if ((!entry.caller_only || with_caller) && entry.Wants(type))
      return true;
  }
  return false;
}

core::Result<WriteResult> ResourceWriter::PutPrepared(
    store::WriteTx& tx, store::StoredResource& stored,
    const std::vector<store::IndexEntry>& index) const {
  MA_RETURN_IF_ERROR(tx.PutVersion(stored, index));
  WriteResult result;
  result.stored = stored;
  result.created = stored.version == 1;
  return result;
}

core::Result<WriteResult> ResourceWriter::Create(store::WriteTx& tx, Json& resource,
                                                 const std::string& id, core::EpochMillis now,
                                                 const WriteContext& context,
                                                 const PreparedContent* expected) const {
  std::string resource_type(resource.GetStringMember("resourceType"));
  MA_RETURN_IF_ERROR(
      RunHooks(tx, store::WriteKind::kCreate, resource_type, id, &resource, nullptr, context, now));
  // New ids are fresh, so try version 1 first; the store refuses it if the id exists.
  core::Result<WriteResult> first = Put(tx, resource, id, 1, "POST", now, expected);
  if (first.has_value() || first.error().GetCode() != core::ErrorCode::kConflict)
    return first;
  std::string type(resource.GetStringMember("resourceType"));
  MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
  if (!current.has_value() || !current->deleted) {
    return Error::Conflict(type + "/" + id + " already exists");
  }
  MA_ASSIGN_OR_RETURN(WriteResult result, Put(tx, resource, id, current->version + 1, "POST", now));
  result.created = true;
  return result;
}

core::Result<WriteResult> ResourceWriter::Update(store::WriteTx& tx, Json& resource,
                                                 const std::string& id,
                                                 std::optional<int64_t> if_match,
                                                 std::string_view method, core::EpochMillis now,
                                                 const WriteContext& context) const {
  std::string type(resource.GetStringMember("resourceType"));
  MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
  int64_t current_version = current.has_value() ? current->version : 0;
  if (if_match.has_value() &&
      (!current.has_value() || current->deleted || *if_match != current_version)) {
    return Error::PreconditionFailed(
        "version conflict: If-Match asks for version " + std::to_string(*if_match) + " of " + type +
        "/" + id + ", the current version is " +
        (current.has_value() && !current->deleted ? std::to_string(current_version)
                                                  : std::string("none")));
  }
  bool exists = current.has_value() && !current->deleted;
  MA_RETURN_IF_ERROR(RunHooks(tx,
                              !exists             ? store::WriteKind::kCreate
                              : method == "PATCH" ? store::WriteKind::kPatch
                                                  : store::WriteKind::kUpdate,
                              type, id, &resource, exists ? &*current : nullptr, context, now));
  MA_ASSIGN_OR_RETURN(WriteResult result, Put(tx, resource, id, current_version + 1, method, now));
  result.created = !current.has_value() || current->deleted;
  return result;
}

core::Result<std::optional<store::StoredResource>> ResourceWriter::Delete(
    store::WriteTx& tx, std::string_view type, std::string_view id, std::optional<int64_t> if_match,
    core::EpochMillis now, const WriteContext& context) const {
  MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
  if (if_match.has_value() &&
      (!current.has_value() || current->deleted || current->version != *if_match)) {
    return Error::PreconditionFailed(
        "version conflict: If-Match does not name the current "
        "version of " +
        std::string(type) + "/" + std::string(id));
  }
  if (!current.has_value() || current->deleted)
    return std::optional<store::StoredResource>();
  MA_RETURN_IF_ERROR(
      RunHooks(tx, store::WriteKind::kDelete, type, id, nullptr, &*current, context, now));
  store::StoredResource marker;
  marker.type = std::string(type);
  marker.id = std::string(id);
  marker.version = current->version + 1;
  marker.last_updated = now;
  marker.deleted = true;
  marker.method = "DELETE";
  MA_RETURN_IF_ERROR(tx.PutVersion(marker, {}));
  return std::optional<store::StoredResource>(std::move(marker));
}

core::Status ResourceWriter::CheckScoped(const Json& resource,
                                         const store::WriteScope& scope) const {
  if (scope.depth > store::kMaxWriteDepth) {
    return Error::Internal("writes nested more than " + std::to_string(store::kMaxWriteDepth) +
                           " deep (hooks writing resources that trigger each other): " +
                           std::string(resource.GetStringMember("resourceType")) + " by " +
                           std::string(scope.origin));
  }
  if (!resource.IsObject() || resource.GetStringMember("resourceType").empty())
    return Error::Internal("a domain write without a resourceType");
  if (validate_)
    return validate_(resource);
  return {};
}

core::Result<store::StoredResource> ResourceWriter::Create(store::WriteTx& tx, Json& resource,
                                                           const store::WriteScope& scope,
                                                           std::string id) const {
  MA_RETURN_IF_ERROR(CheckScoped(resource, scope));
  if (id.empty())
    id = core::NewId();
  WriteContext context{scope.caller, scope.warnings, scope.origin, scope.depth};
  MA_ASSIGN_OR_RETURN(WriteResult result, Create(tx, resource, id, scope.now, context));
  return std::move(result.stored);
}

core::Result<store::StoredResource> ResourceWriter::Update(
    store::WriteTx& tx, Json& resource, const store::WriteScope& scope,
    std::optional<int64_t> expected_version) const {
  MA_RETURN_IF_ERROR(CheckScoped(resource, scope));
  const std::string id(resource.GetStringMember("id"));
  if (!core::IsValidId(id))
    return Error::Internal("a domain update without a valid id");
  WriteContext context{scope.caller, scope.warnings, scope.origin, scope.depth};
  core::Result<WriteResult> result =
      Update(tx, resource, id, expected_version, "PUT", scope.now, context);
  if (!result) {
    if (result.error().GetCode() == core::ErrorCode::kPreconditionFailed) {
      // Not the client's If-Match: another version than the one the module read.
      return Error::Conflict(result.error().GetMessage());
    }
    return std::move(result).error();
  }
  return std::move(result->stored);
}

}  // namespace medalliance::api::rest
