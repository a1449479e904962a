// RestService::ProcessBundle: batch and transaction Bundles.
//
// A transaction is all-or-nothing: every entry is validated first, then all writes run in one
// store transaction in the order the specification prescribes (DELETE, POST, PUT/PATCH, then
// GET/HEAD after commit). urn:uuid: and other fullUrls of created entries are resolved in
// every reference of the other entries, and conditional references ("Patient?identifier=x|1")
// are resolved by search. A batch dispatches each entry on its own.

#include <map>
#include <unordered_map>

#include "api/rest/outcome.h"
#include "api/rest/rest_service.h"
#include "core/base64.h"
#include "core/ids.h"
#include "core/time.h"

namespace medalliance::api::rest {

using core::Error;
using core::Result;
using fhir::Json;
using store::StoredResource;

namespace {

std::string StatusText(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    case 304:
      return "304 Not Modified";
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 409:
      return "409 Conflict";
    case 410:
      return "410 Gone";
    case 412:
      return "412 Precondition Failed";
    case 415:
      return "415 Unsupported Media Type";
    case 422:
      return "422 Unprocessable Entity";
    default:
      return std::to_string(status);
  }
}

std::string EntryPath(size_t index) {
  return "Bundle.entry[" + std::to_string(index) + "]";
}

Error AtEntry(Error error, size_t index, std::string_view suffix = ".resource") {
  error.WithLocationPrefix(EntryPath(index) + std::string(suffix));
  for (core::Issue& issue : error.MutableIssues()) {
    if (issue.diagnostics.find("Bundle.entry[") == std::string::npos) {
      issue.diagnostics = EntryPath(index) + ": " + issue.diagnostics;
    }
  }
  return error;
}

// Visits every "reference" string below the root of a resource tree, while `fn(Json&)`
// returns true; false when it stopped. A resource's root is never a Reference, so the visited
// nodes live in nested storage that stays put when the writer later adds id/meta at the root.
template <typename Fn>
bool VisitReferences(Json& node, Fn& fn, bool root = true) {
  if (node.IsObject()) {
    for (auto& [key, value] : node.Members()) {
      if (value.IsString()) {
        if (!root && std::string_view(key) == "reference" && !fn(value))  // the size first
          return false;
      } else if ((value.IsObject() || value.IsArray()) && !VisitReferences(value, fn, false)) {
        return false;
      }
    }
  } else if (node.IsArray()) {
    for (Json& item : node.Items()) {
      if ((item.IsObject() || item.IsArray()) && !VisitReferences(item, fn, false))
        return false;
    }
  }
  return true;
}

// VisitReferences for a visitor that can fail: the first error stops the walk and is returned.
// (PrecomputeCreates, on the importer's reading thread, visits with no Status per node.)
template <typename Fn>
core::Status ForEachReference(Json& node, Fn&& fn) {
  core::Status status = core::Ok{};
  auto visit = [&](Json& value) {
    status = fn(value);
    return status.has_value();
  };
  VisitReferences(node, visit);
  return status;
}

// An empty response Bundle of `type` (batch-response, transaction-response) with a new id.
Json ResponseBundle(std::string_view type) {
  Json response = Json::MakeObject();
  response.Set("resourceType", Json::MakeString("Bundle"));
  response.Set("id", Json::MakeString(core::NewId()));
  response.Set("type", Json::MakeString(std::string(type)));
  return response;
}

}  // namespace

// A Bundle parsed, validated and made ready to write: the work that needs no database, done
// by PrepareBundle (possibly on another thread), and written by CommitBundle.
struct RestService::PreparedBundle {
  enum class EntryKind { kDelete = 0, kCreate = 1, kUpdate = 2, kPatch = 3, kRead = 4 };

  struct Entry {
    size_t index = 0;
    EntryKind kind = EntryKind::kRead;
    std::string method;
    std::string url;
    std::string type;
    std::string id;
    QueryParams params;
    std::string full_url;
    std::string if_none_exist;
    std::optional<int64_t> if_match;
    Json resource;  // the body (create/update), or the patch document (patch)
    // A create whose references, stamp, JSON text and index rows were computed before the
    // transaction (see PrepareBundle).
    std::optional<store::StoredResource> precomputed;
    std::vector<store::IndexEntry> precomputed_index;
    // A create of a type with write hooks, prepared on the speculation that they change
    // nothing (PrepareBundle's `speculate`).
    std::optional<PreparedContent> speculative;
    // Its references were rewritten to the assigned ids when it was prepared, and nothing
    // in the transaction can change them: CommitBundle does not walk it again.
    bool references_resolved = false;
    // Results:
    std::vector<core::Issue> warnings;  // from write hooks
    int status = 200;
    std::optional<StoredResource> stored;
    std::string location;
  };

  bool transaction = true;
  std::string base_url;
  const store::Caller* caller = nullptr;  // who sent it; null for local tools
  std::vector<Entry> entries;
  std::vector<std::optional<Error>> batch_errors;
  std::unordered_map<std::string, std::string> assigned;  // fullUrl -> Type/id
  std::vector<size_t> order;                              // the order writes run in
};

void RestService::PreparedBundleDeleter::operator()(PreparedBundle* bundle) const {
  delete bundle;
}

// For a transaction without conditional parts, finishes every create whose type has no write
// hook before the store transaction: rewrites its references to the ids assigned up front,
// stamps it (version 1, the preparation time), and computes its JSON text and index rows.
// The importer prepares on its reading thread, so this work overlaps with the writes. With
// `speculate`, creates of types with hooks get the same work done on a copy (PreparedContent),
// used at commit only if the hooks left the resource equal to it.
void RestService::PrecomputeCreates(PreparedBundle& prepared, bool speculate) const {
  using EntryKind = PreparedBundle::EntryKind;
  if (!prepared.transaction)
    return;
  for (const PreparedBundle::Entry& entry : prepared.entries) {
    bool conditional_target =
        (entry.kind == EntryKind::kUpdate || entry.kind == EntryKind::kDelete) && entry.id.empty();
    // A conditional create may resolve a fullUrl to an existing resource instead.
    if (!entry.if_none_exist.empty() || conditional_target)
      return;
  }
  core::EpochMillis now = config_.clock->Now();
  for (PreparedBundle::Entry& entry : prepared.entries) {
    if (entry.kind != EntryKind::kCreate)
      continue;
    const bool hooked = writer_.HasHooksFor(entry.type, prepared.caller != nullptr);
    if (hooked && !speculate)
      continue;
    // References are rewritten in the entry itself: the ids assigned up front are final (no
    // conditional create or update can change them, see above). With hooks, the entry then
    // stays as it is for CommitBundle, and the speculation works on a copy.
    Json& resource = entry.resource;
    bool conditional_reference = false;
    auto rewrite = [&](Json& value) {
      const std::string& reference = value.GetString();
      auto found = prepared.assigned.find(reference);
      if (found != prepared.assigned.end()) {
        value = Json::MakeString(found->second);
      } else if (size_t question = reference.find('?');
                 question != std::string::npos && reference.find('/') > question) {
        conditional_reference = true;  // resolved by search inside the transaction
      }
      return true;
    };
    VisitReferences(resource, rewrite);
    if (conditional_reference)
      continue;
    if (hooked) {
      entry.references_resolved = true;
      Json copy = entry.resource;
      copy.Erase("id");
      ResourceWriter::Stamp(copy, entry.id, 1, now);
      PreparedContent content;
      content.now = now;
      content.json = fhir::WriteJson(copy);
      content.index = searcher_.Index(copy);
      content.resource = std::move(copy);
      entry.speculative = std::move(content);
      continue;
    }
    entry.resource.Erase("id");
    ResourceWriter::Stamp(entry.resource, entry.id, 1, now);
    store::StoredResource stored;
    stored.type = entry.type;
    stored.id = entry.id;
    stored.version = 1;
    stored.last_updated = now;
    stored.method = "POST";
    stored.json = fhir::WriteJson(entry.resource);
    entry.precomputed_index = searcher_.Index(entry.resource);
    entry.precomputed = std::move(stored);
    entry.resource = Json();  // no longer needed
  }
}

Result<Json> RestService::ProcessBundle(Json bundle, const std::string& base_url,
                                        const store::Caller* caller) const {
  MA_ASSIGN_OR_RETURN(PreparedBundlePtr prepared,
                      PrepareBundle(std::move(bundle), base_url, caller));
  return CommitBundle(*prepared);
}

Result<RestService::PreparedBundlePtr> RestService::PrepareBundle(Json bundle,
                                                                  const std::string& base_url,
                                                                  const store::Caller* caller,
                                                                  bool speculate) const {
  using Entry = PreparedBundle::Entry;
  using EntryKind = PreparedBundle::EntryKind;
  if (bundle.GetStringMember("resourceType") != "Bundle") {
    return Error::BadRequest("POST to the base URL takes a Bundle", "Bundle.resourceType");
  }
  std::string bundle_type(bundle.GetStringMember("type"));
  if (bundle_type != "transaction" && bundle_type != "batch") {
    return Error::BadRequest(
        "the Bundle type must be transaction or batch, not '" + bundle_type + "'", "Bundle.type");
  }
  const bool transaction = bundle_type == "transaction";
  Json* entries_json = bundle.Find("entry");
  size_t entry_count =
      entries_json != nullptr && entries_json->IsArray() ? entries_json->Size() : 0;
  if (entry_count > config_.max_bundle_entries) {
    return Error(core::ErrorCode::kPayloadTooLarge,
                 "the Bundle has " + std::to_string(entry_count) + " entries; the limit is " +
                     std::to_string(config_.max_bundle_entries));
  }

  PreparedBundlePtr prepared(new PreparedBundle);
  prepared->transaction = transaction;
  prepared->base_url = base_url;
  prepared->caller = caller;
  std::vector<Entry>& entries = prepared->entries;
  std::vector<std::optional<Error>>& batch_errors = prepared->batch_errors;
  // Parse every entry's request.
  entries.resize(entry_count);
  batch_errors.resize(entry_count);
  for (size_t i = 0; i < entry_count; ++i) {
    Json& entry_json = entries_json->Items()[i];
    Entry& entry = entries[i];
    entry.index = i;
    auto fail = [&](Error error) -> std::optional<Error> {
      if (transaction)
        return error;
      batch_errors[i] = std::move(error);
      return std::nullopt;
    };
    const Json* request = entry_json.Find("request");
    if (request == nullptr || !request->IsObject()) {
      if (auto error =
              fail(Error::BadRequest("the entry has no request", EntryPath(i) + ".request"))) {
        return *error;
      }
      continue;
    }
    entry.method = std::string(request->GetStringMember("method"));
    entry.url = std::string(request->GetStringMember("url"));
    entry.full_url = std::string(entry_json.GetStringMember("fullUrl"));
    entry.if_none_exist = std::string(request->GetStringMember("ifNoneExist"));
    std::string_view if_match = request->GetStringMember("ifMatch");
    if (!if_match.empty())
      entry.if_match = ParseETagVersion(if_match);
    if (Json* resource = entry_json.Find("resource"))
      entry.resource = std::move(*resource);

    std::string url = entry.url;
    if (url.starts_with(base_url + "/"))
      url = url.substr(base_url.size() + 1);
    entry.url = url;
    size_t question = url.find('?');
    std::string path = url.substr(0, question);
    if (question != std::string::npos)
      entry.params = ParseQueryString(url.substr(question + 1));
    size_t slash = path.find('/');
    entry.type = path.substr(0, slash);
    if (slash != std::string::npos)
      entry.id = path.substr(slash + 1);

    std::string problem;
    if (entry.method == "POST") {
      entry.kind = EntryKind::kCreate;
    } else if (entry.method == "PUT") {
      entry.kind = EntryKind::kUpdate;
    } else if (entry.method == "PATCH") {
      entry.kind = EntryKind::kPatch;
    } else if (entry.method == "DELETE") {
      entry.kind = EntryKind::kDelete;
    } else if (entry.method == "GET" || entry.method == "HEAD") {
      entry.kind = EntryKind::kRead;
    } else {
      problem = "unknown request method '" + entry.method + "'";
    }
    if (problem.empty() && entry.url.empty())
      problem = "the entry's request has no url";
    if (problem.empty() && entry.kind != EntryKind::kRead && !IsResourceType(entry.type)) {
      problem = "unknown resource type '" + entry.type + "' in request url";
    }
    if (problem.empty() && (entry.kind == EntryKind::kCreate || entry.kind == EntryKind::kUpdate)) {
      if (!entry.resource.IsObject()) {
        problem = entry.method + " entry has no resource";
      } else if (entry.resource.GetStringMember("resourceType") != entry.type) {
        problem = "the entry's resource is a " +
                  std::string(entry.resource.GetStringMember("resourceType")) +
                  " but its request url names " + entry.type;
      }
    }
    if (problem.empty() && entry.kind == EntryKind::kUpdate && entry.id.empty() &&
        entry.params.empty()) {
      problem = "a PUT entry needs an id or search criteria in its url";
    }
    if (problem.empty() && (entry.kind == EntryKind::kPatch) && entry.id.empty()) {
      problem = "a PATCH entry needs an id in its url";
    }
    if (problem.empty() && entry.kind == EntryKind::kPatch) {
      // A JSON Patch travels as a Binary with contentType application/json-patch+json.
      if (entry.resource.GetStringMember("resourceType") != "Binary" ||
          entry.resource.GetStringMember("contentType") != "application/json-patch+json") {
        problem = "a PATCH entry must carry a Binary with contentType application/json-patch+json";
      } else {
        std::optional<std::string> text =
            core::Base64Decode(entry.resource.GetStringMember("data"), /*skip_whitespace=*/true);
        Result<Json> patch = text.has_value() ? fhir::ParseJson(*text)
                                              : Result<Json>(Error::BadRequest("bad base64"));
        if (!patch) {
          problem = "the PATCH entry's Binary.data is not a JSON Patch document: " +
                    patch.error().GetMessage();
        } else {
          entry.resource = std::move(*patch);
        }
      }
    }
    if (!problem.empty()) {
      if (auto error = fail(Error::BadRequest(problem, EntryPath(i) + ".request")))
        return *error;
      continue;
    }
    if (entry.kind == EntryKind::kCreate || entry.kind == EntryKind::kUpdate) {
      if (entry.kind == EntryKind::kUpdate && !entry.id.empty()) {
        std::string_view body_id = entry.resource.GetStringMember("id");
        if (!body_id.empty() && body_id != entry.id) {
          if (auto error = fail(Error::BadRequest("the resource id differs from the request url",
                                                  EntryPath(i) + ".resource.id"))) {
            return *error;
          }
          continue;
        }
      }
      if (auto status = Validate(entry.resource); !status) {
        if (auto error = fail(AtEntry(status.error(), i)))
          return *error;
        continue;
      }
    }
  }

  if (transaction) {
    // Transaction. Ids for created resources are assigned up front so references can point at
    // them; the mapping fullUrl -> "Type/id" is completed inside the store transaction, where
    // conditional creates may resolve to an existing resource instead.
    std::unordered_map<std::string, std::string>& assigned = prepared->assigned;
    for (Entry& entry : entries) {
      if (entry.kind == EntryKind::kCreate) {
        entry.id = core::NewId();
        if (!entry.full_url.empty()) {
          if (assigned.count(entry.full_url) != 0) {
            return Error::BadRequest("duplicate fullUrl '" + entry.full_url + "'",
                                     EntryPath(entry.index) + ".fullUrl");
          }
          assigned[entry.full_url] = entry.type + "/" + entry.id;
        }
      } else if (entry.kind == EntryKind::kUpdate && !entry.id.empty() && !entry.full_url.empty()) {
        assigned[entry.full_url] = entry.type + "/" + entry.id;
      }
    }
    std::vector<size_t>& order = prepared->order;
    order.resize(entry_count);
    for (size_t i = 0; i < entry_count; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      auto rank = [&](const Entry& entry) {
        return entry.kind == EntryKind::kPatch ? 2 : static_cast<int>(entry.kind);
      };
      return rank(entries[a]) < rank(entries[b]);
    });
  }

  PrecomputeCreates(*prepared, speculate);
  return prepared;
}

// One transaction Bundle's write: Write() may run it more than once (a re-run after
// SQLITE_BUSY), so its state lives here, across runs.
struct RestService::TransactionRun {
  explicit TransactionRun(PreparedBundle& bundle) : prepared(bundle) {}
  PreparedBundle& prepared;
  core::EpochMillis now = 0;
  // References are rewritten in place; each run first restores the texts the previous run
  // replaced.
  std::vector<std::pair<Json*, std::string>> rewritten;
  std::unique_ptr<access::Session> session;
  search::VisibilityPredicate visible;
};

Result<Json> RestService::CommitBundle(PreparedBundle& prepared, bool entries_wanted) const {
  PreparedBundle* const one = &prepared;
  return std::move(CommitBundles(std::span(&one, 1), entries_wanted).front());
}

std::vector<Result<Json>> RestService::CommitBundles(std::span<PreparedBundle* const> bundles,
                                                     bool entries_wanted) const {
  std::vector<Result<Json>> results;
  results.reserve(bundles.size());
  size_t next = 0;
  while (next < bundles.size()) {
    if (!bundles[next]->transaction) {
      results.push_back(CommitBatch(*bundles[next]));
      ++next;
      continue;
    }
    // A run of transactions: one store write each, handed to the store together.
    size_t end = next;
    while (end < bundles.size() && bundles[end]->transaction) ++end;
    std::vector<std::unique_ptr<TransactionRun>> runs;
    std::vector<std::function<core::Status(store::WriteTx&)>> writes;
    for (size_t i = next; i < end; ++i) {
      auto run = std::make_unique<TransactionRun>(*bundles[i]);
      run->now = config_.clock->Now();
      FhirRequest who;
      if (bundles[i]->caller != nullptr)
        who.SetCaller(*bundles[i]->caller);
      run->session = MakeSession(who);
      run->visible = Predicate(run->session.get());
      writes.emplace_back(
          [this, state = run.get()](store::WriteTx& tx) { return WriteTransaction(*state, tx); });
      runs.push_back(std::move(run));
    }
    std::vector<core::Status> written = store_.WriteEach(writes);
    for (size_t i = next; i < end; ++i) {
      core::Status& status = written[i - next];
      if (!status) {
        results.push_back(std::move(status).error());
      } else {
        results.push_back(TransactionResponse(*bundles[i], entries_wanted));
      }
    }
    next = end;
  }
  return results;
}

Json RestService::CommitBatch(PreparedBundle& prepared) const {
  using Entry = PreparedBundle::Entry;
  using EntryKind = PreparedBundle::EntryKind;
  const std::string& base_url = prepared.base_url;
  std::vector<Entry>& entries = prepared.entries;
  std::vector<std::optional<Error>>& batch_errors = prepared.batch_errors;
  const size_t entry_count = entries.size();
  Json response = ResponseBundle("batch-response");
  Json response_entries = Json::MakeArray();
  for (size_t i = 0; i < entry_count; ++i) {
    Entry& entry = entries[i];
    if (batch_errors[i].has_value()) {
      Json out = Json::MakeObject();
      Json resp = Json::MakeObject();
      resp.Set("status", Json::MakeString(StatusText(batch_errors[i]->GetHttpStatus())));
      resp.Set("outcome", MakeOperationOutcome(*batch_errors[i]));
      out.Set("response", std::move(resp));
      response_entries.PushBack(std::move(out));
      continue;
    }
    FhirRequest sub;
    sub.method = entry.method;
    sub.base_url = base_url;
    if (prepared.caller != nullptr)
      sub.SetCaller(*prepared.caller);
    sub.params = entry.params;
    SplitPath(entry.url.substr(0, entry.url.find('?')), sub.segments);
    if (entry.kind == EntryKind::kPatch) {
      sub.content_type = "application/json-patch+json";
    } else {
      sub.content_type = "application/fhir+json";
    }
    if (entry.resource.IsObject() || entry.resource.IsArray()) {
      sub.body = fhir::WriteJson(entry.resource);
    }
    if (!entry.if_none_exist.empty())
      sub.headers.Set("If-None-Exist", entry.if_none_exist);
    if (entry.if_match.has_value()) {
      sub.headers.Set("If-Match", "W/\"" + std::to_string(*entry.if_match) + "\"");
    }
    sub.headers.Set("Prefer", "return=minimal");
    FhirResponse result = Handle(sub);
    Json out = Json::MakeObject();
    if (entry.kind == EntryKind::kRead && !result.body.empty() && result.status < 300) {
      Result<Json> resource = fhir::ParseJson(result.body);
      if (resource)
        out.Set("resource", std::move(*resource));
    }
    Json resp = Json::MakeObject();
    resp.Set("status", Json::MakeString(StatusText(result.status)));
    std::string_view location = result.headers.Get("Location");
    if (!location.empty())
      resp.Set("location", Json::MakeString(std::string(location)));
    std::string_view etag = result.headers.Get("ETag");
    if (!etag.empty())
      resp.Set("etag", Json::MakeString(std::string(etag)));
    if (result.status >= 400 && !result.body.empty()) {
      Result<Json> outcome = fhir::ParseJson(result.body);
      if (outcome)
        resp.Set("outcome", std::move(*outcome));
    }
    out.Set("response", std::move(resp));
    response_entries.PushBack(std::move(out));
  }
  response.Set("entry", std::move(response_entries));
  return response;
}

core::Status RestService::WriteTransaction(TransactionRun& run, store::WriteTx& tx) const {
  using Entry = PreparedBundle::Entry;
  using EntryKind = PreparedBundle::EntryKind;
  PreparedBundle& prepared = run.prepared;
  std::vector<Entry>& entries = prepared.entries;
  const std::unordered_map<std::string, std::string>& assigned = prepared.assigned;
  const std::vector<size_t>& order = prepared.order;
  const size_t entry_count = entries.size();
  const core::EpochMillis now = run.now;
  std::vector<std::pair<Json*, std::string>>& rewritten = run.rewritten;
  const search::VisibilityPredicate& visible = run.visible;
  const store::Caller* caller = prepared.caller;
  for (auto it = rewritten.rbegin(); it != rewritten.rend(); ++it) {
    *it->first = Json::MakeString(std::move(it->second));
  }
  rewritten.clear();
  std::unordered_map<std::string, std::string> references = assigned;
  for (Entry& entry : entries) {
    entry.stored.reset();
    entry.location.clear();
    entry.warnings.clear();
  }
  // Conditional creates resolve first: a match replaces the planned id.
  std::vector<bool> skip(entry_count, false);
  for (Entry& entry : entries) {
    if (entry.kind != EntryKind::kCreate || entry.if_none_exist.empty())
      continue;
    std::string_view criteria = entry.if_none_exist;
    if (criteria.starts_with(entry.type + "?"))
      criteria.remove_prefix(entry.type.size() + 1);
    auto matches = FindMatches(tx, entry.type, ParseQueryString(criteria), visible);
    if (!matches)
      return AtEntry(std::move(matches).error(), entry.index, ".request.ifNoneExist");
    if (matches->size() > 1) {
      return AtEntry(Error::PreconditionFailed("ifNoneExist matches more than one resource"),
                     entry.index, ".request.ifNoneExist");
    }
    if (matches->size() == 1) {
      skip[entry.index] = true;
      entry.status = 200;
      entry.stored = matches->front();
      if (!entry.full_url.empty()) {
        references[entry.full_url] = entry.type + "/" + matches->front().id;
      }
    }
  }
  // Conditional updates and deletes resolve their target before any write.
  for (Entry& entry : entries) {
    if ((entry.kind != EntryKind::kUpdate && entry.kind != EntryKind::kDelete) ||
        !entry.id.empty()) {
      continue;
    }
    auto matches = FindMatches(tx, entry.type, entry.params, visible);
    if (!matches)
      return AtEntry(std::move(matches).error(), entry.index, ".request.url");
    if (matches->size() > 1) {
      return AtEntry(Error::PreconditionFailed("the conditional url matches more than one "
                                               "resource"),
                     entry.index, ".request.url");
    }
    if (matches->size() == 1) {
      entry.id = matches->front().id;
    } else if (entry.kind == EntryKind::kUpdate) {
      std::string_view body_id = entry.resource.GetStringMember("id");
      entry.id = body_id.empty() ? core::NewId() : std::string(body_id);
    }
    if (entry.kind == EntryKind::kUpdate && !entry.full_url.empty()) {
      references[entry.full_url] = entry.type + "/" + entry.id;
    }
  }
  // Conditional references are resolved once each.
  std::unordered_map<std::string, std::string> conditional_cache;
  for (size_t position : order) {
    Entry& entry = entries[position];
    if (skip[position])
      continue;
    if (entry.precomputed.has_value()) {
      auto result = writer_.PutPrepared(tx, *entry.precomputed, entry.precomputed_index);
      if (!result)
        return AtEntry(std::move(result).error(), entry.index);
      entry.status = 201;
      entry.stored = *entry.precomputed;
      entry.location = entry.stored->type + "/" + entry.stored->id + "/_history/1";
      continue;
    }
    auto replace = [&](Json& value, const std::string& target) {
      rewritten.emplace_back(&value, value.GetString());
      value = Json::MakeString(target);
    };
    auto rewrite = [&](Json& value) -> core::Status {
      const std::string& reference = value.GetString();
      auto found = references.find(reference);
      if (found != references.end()) {
        replace(value, found->second);
        return {};
      }
      size_t question = reference.find('?');
      if (question == std::string::npos || reference.find('/') < question)
        return {};
      auto cached = conditional_cache.find(reference);
      if (cached != conditional_cache.end()) {
        replace(value, cached->second);
        return {};
      }
      std::string type = reference.substr(0, question);
      if (!IsResourceType(type)) {
        return Error::Unprocessable("conditional reference '" + reference +
                                    "' names an unknown resource type");
      }
      MA_ASSIGN_OR_RETURN(
          auto matches,
          FindMatches(tx, type, ParseQueryString(reference.substr(question + 1)), visible));
      if (matches.size() != 1) {
        return Error::PreconditionFailed("conditional reference '" + reference + "' matches " +
                                         std::to_string(matches.size()) +
                                         " resources; it must match exactly one");
      }
      std::string target = type + "/" + matches.front().id;
      conditional_cache[reference] = target;
      replace(value, target);
      return {};
    };
    Json& resource = entry.resource;
    if ((entry.kind == EntryKind::kCreate || entry.kind == EntryKind::kUpdate) &&
        !entry.references_resolved) {
      if (auto status = ForEachReference(resource, rewrite); !status) {
        return AtEntry(std::move(status).error(), entry.index);
      }
    }
    switch (entry.kind) {
      case EntryKind::kCreate: {
        resource.Erase("id");
        auto result = writer_.Create(tx, resource, entry.id, now, {caller, &entry.warnings},
                                     entry.speculative.has_value() ? &*entry.speculative : nullptr);
        if (!result)
          return AtEntry(std::move(result).error(), entry.index);
        entry.status = 201;
        entry.stored = std::move(result->stored);
        break;
      }
      case EntryKind::kUpdate: {
        auto result = writer_.Update(tx, resource, entry.id, entry.if_match, "PUT", now,
                                     {caller, &entry.warnings});
        if (!result)
          return AtEntry(std::move(result).error(), entry.index);
        entry.status = result->created ? 201 : 200;
        entry.stored = std::move(result->stored);
        break;
      }
      case EntryKind::kPatch: {
        MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(entry.type, entry.id));
        if (!current.has_value() || current->deleted) {
          return AtEntry(Error::NotFound(entry.type + "/" + entry.id + " is not known"),
                         entry.index, ".request.url");
        }
        if (!config_.apply_json_patch)
          return Error::NotImplemented("JSON Patch unavailable");
        MA_ASSIGN_OR_RETURN(Json patched, fhir::ParseJson(current->json));
        if (auto status = config_.apply_json_patch(patched, entry.resource); !status) {
          return AtEntry(std::move(status).error(), entry.index);
        }
        if (auto status = Validate(patched); !status) {
          return AtEntry(std::move(status).error(), entry.index);
        }
        std::optional<int64_t> expected =
            entry.if_match.has_value() ? entry.if_match : std::optional<int64_t>(current->version);
        auto result = writer_.Update(tx, patched, entry.id, expected, "PATCH", now,
                                     {caller, &entry.warnings});
        if (!result)
          return AtEntry(std::move(result).error(), entry.index);
        entry.status = 200;
        entry.stored = std::move(result->stored);
        break;
      }
      case EntryKind::kDelete: {
        entry.status = 204;
        if (entry.id.empty())
          break;  // conditional delete that matched nothing
        auto result = writer_.Delete(tx, entry.type, entry.id, entry.if_match, now,
                                     {caller, &entry.warnings});
        if (!result)
          return AtEntry(std::move(result).error(), entry.index);
        break;
      }
      case EntryKind::kRead:
        break;
    }
    if (entry.stored.has_value() && entry.status == 201) {
      entry.location = entry.stored->type + "/" + entry.stored->id + "/_history/" +
                       std::to_string(entry.stored->version);
    }
  }
  return {};
}

Json RestService::TransactionResponse(PreparedBundle& prepared, bool entries_wanted) const {
  using Entry = PreparedBundle::Entry;
  using EntryKind = PreparedBundle::EntryKind;
  const std::string& base_url = prepared.base_url;
  std::vector<Entry>& entries = prepared.entries;
  Json response = ResponseBundle("transaction-response");
  Json response_entries = Json::MakeArray();

  // The entries of a transaction share one lastUpdated: formatted once.
  core::EpochMillis formatted_at = 0;
  std::string formatted;
  auto format_instant = [&](core::EpochMillis millis) -> const std::string& {
    if (formatted.empty() || formatted_at != millis) {
      formatted = core::FormatInstant(millis);
      formatted_at = millis;
    }
    return formatted;
  };
  auto entry_response = [&](const Entry& entry) {
    Json out = Json::MakeObject();
    Json resp = Json::MakeObject();
    resp.Set("status", Json::MakeString(StatusText(entry.status)));
    if (entry.stored.has_value()) {
      const StoredResource& stored = *entry.stored;
      if (!entry.location.empty())
        resp.Set("location", Json::MakeString(entry.location));
      resp.Set("etag", Json::MakeString("W/\"" + std::to_string(stored.version) + "\""));
      resp.Set("lastModified", Json::MakeString(format_instant(stored.last_updated)));
    }
    if (!entry.warnings.empty()) {
      Json outcome = Json::MakeObject();
      outcome.Set("resourceType", Json::MakeString("OperationOutcome"));
      AppendIssues(outcome, entry.warnings);
      resp.Set("outcome", std::move(outcome));
    }
    out.Set("response", std::move(resp));
    return out;
  };

  for (Entry& entry : entries) {
    if (entry.kind == EntryKind::kRead) {
      FhirRequest sub;
      sub.method = "GET";
      sub.base_url = base_url;
      if (prepared.caller != nullptr)
        sub.SetCaller(*prepared.caller);
      SplitPath(entry.url.substr(0, entry.url.find('?')), sub.segments);
      sub.params = entry.params;
      FhirResponse result = Handle(sub);
      Json out = Json::MakeObject();
      if (!result.body.empty() && result.status < 300) {
        Result<Json> body = fhir::ParseJson(result.body);
        if (body)
          out.Set("resource", std::move(*body));
      }
      Json resp = Json::MakeObject();
      resp.Set("status", Json::MakeString(StatusText(result.status)));
      out.Set("response", std::move(resp));
      response_entries.PushBack(std::move(out));
      continue;
    }
    if (!entries_wanted)
      continue;
    Json out = entry_response(entry);
    if (entry.stored.has_value() && !entry.stored->deleted) {
      out.SetAt(0, "fullUrl",
                Json::MakeString(base_url + "/" + entry.stored->type + "/" + entry.stored->id));
    }
    response_entries.PushBack(std::move(out));
  }
  response.Set("entry", std::move(response_entries));
  return response;
}

}  // namespace medalliance::api::rest
