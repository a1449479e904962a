#include "api/rest/rest_service.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "api/rest/bundle_builder.h"
#include "api/rest/outcome.h"
#include "core/ids.h"
#include "core/percent.h"
#include "core/time.h"

namespace medalliance::api::rest {

using core::Error;
using core::Result;
using fhir::Json;
using store::StoredResource;

namespace {

// A malformed escape in a URL part is taken literally, as before Boost.URL decoded them.
std::string PercentDecode(std::string_view text, bool plus_is_space) {
  return core::PercentDecode(text, plus_is_space).value_or(std::string(text));
}

std::string ETag(int64_t version) {
  return "W/\"" + std::to_string(version) + "\"";
}

std::string VersionLocation(const std::string& base, const StoredResource& stored) {
  return base + "/" + stored.type + "/" + stored.id + "/_history/" + std::to_string(stored.version);
}

enum class PreferReturn { kRepresentation, kMinimal, kOperationOutcome };

PreferReturn GetPreferReturn(const HeaderList& headers) {
  std::string_view prefer = headers.Get("Prefer");
  if (prefer.find("return=minimal") != std::string_view::npos)
    return PreferReturn::kMinimal;
  if (prefer.find("return=OperationOutcome") != std::string_view::npos) {
    return PreferReturn::kOperationOutcome;
  }
  return PreferReturn::kRepresentation;
}

void SetVersionHeaders(FhirResponse& response, const StoredResource& stored) {
  response.headers.Set("ETag", ETag(stored.version));
  response.headers.Set("Last-Modified", core::FormatHttpDate(stored.last_updated));
}

FhirResponse MethodNotAllowed(const std::string& method, const std::string& what,
                              const std::string& allowed) {
  FhirResponse response = ErrorResponse(
      Error(core::ErrorCode::kMethodNotAllowed, method + " is not allowed on " + what));
  response.headers.Set("Allow", allowed);
  return response;
}

}  // namespace

void SplitPath(std::string_view raw_path, std::vector<std::string>& segments) {
  size_t start = 0;
  while (start < raw_path.size()) {
    size_t slash = raw_path.find('/', start);
    std::string_view segment = raw_path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!segment.empty())
      segments.push_back(PercentDecode(segment, false));
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
}

QueryParams ParseQueryString(std::string_view query) {
  QueryParams params;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view pair =
        query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string name = PercentDecode(pair.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
      params.emplace_back(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos)
      break;
    start = amp + 1;
  }
  return params;
}

std::optional<int64_t> ParseETagVersion(std::string_view etag) {
  while (!etag.empty() && etag.front() == ' ') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == ' ') etag.remove_suffix(1);
  if (etag.starts_with("W/"))
    etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  int64_t version = 0;
  auto [end, ec] = std::from_chars(etag.data(), etag.data() + etag.size(), version);
  if (ec != std::errc() || end != etag.data() + etag.size() || etag.empty() || version < 1) {
    return std::nullopt;  // versions start at 1
  }
  return version;
}

RestService::RestService(store::Store& store, RestConfig config)
    : store_(store),
      config_(std::move(config)),
      writer_([this](const Json& resource) { return searcher_.Index(resource); }, config_.hooks,
              config_.validate) {
  std::sort(config_.resource_types.begin(), config_.resource_types.end());
  if (config_.clock == nullptr)
    config_.clock = &core::SystemClock::Get();
}

bool RestService::IsResourceType(std::string_view type) const {
  return std::binary_search(config_.resource_types.begin(), config_.resource_types.end(), type);
}

FhirResponse RestService::Handle(const FhirRequest& request) const {
  FhirResponse response = Dispatch(request);
  if (response.status == 403 || (response.status == 405 && !request.segments.empty() &&
                                 request.segments[0] == "AuditEvent")) {
    // A refused write is a security event (access_guard.cc).
    AuditRefusal(request, request.method, "", "HTTP " + std::to_string(response.status));
  }
  if (!response.headers.Has("Content-Type") && !response.body.empty()) {
    response.headers.Set("Content-Type", "application/fhir+json; charset=utf-8");
  }
  return response;
}

core::Status RestService::Validate(const Json& resource) const {
  if (!config_.validate)
    return {};
  return config_.validate(resource);
}

Result<Json> RestService::ParseResourceBody(const FhirRequest& request,
                                            std::string_view expected_type) const {
  if (request.body.empty())
    return Error::BadRequest("the request has no body");
  MA_ASSIGN_OR_RETURN(Json resource, fhir::ParseJson(request.body));
  if (!resource.IsObject())
    return Error::BadRequest("the body is not a JSON object");
  std::string_view type = resource.GetStringMember("resourceType");
  if (type.empty()) {
    return Error::BadRequest("the body has no resourceType", "resourceType");
  }
  if (!expected_type.empty() && type != expected_type) {
    return Error::BadRequest(
        "the body is a " + std::string(type) + " but the URL names " + std::string(expected_type),
        "resourceType");
  }
  return resource;
}

FhirResponse RestService::WriteResponse(const FhirRequest& request, const StoredResource& stored,
                                        int status,
                                        const std::vector<core::Issue>& warnings) const {
  FhirResponse response;
  response.status = status;
  SetVersionHeaders(response, stored);
  if (status == 201)
    response.headers.Set("Location", VersionLocation(request.base_url, stored));
  switch (GetPreferReturn(request.headers)) {
    case PreferReturn::kMinimal:
      break;
    case PreferReturn::kOperationOutcome: {
      Json outcome = MakeOutcome(core::Severity::kInformation, "informational",
                                 (status == 201 ? "created " : "updated ") + stored.type + "/" +
                                     stored.id + " version " + std::to_string(stored.version));
      AppendIssues(outcome, warnings);
      response.body = fhir::WriteJson(outcome);
      break;
    }
    case PreferReturn::kRepresentation:
      response.body = stored.json;
      break;
  }
  return response;
}

FhirResponse RestService::Dispatch(const FhirRequest& request) const {
  const std::vector<std::string>& seg = request.segments;
  const std::string& method = request.method;
  bool is_get = method == "GET" || method == "HEAD";

  if (seg.empty()) {
    if (method == "POST")
      return PostBundle(request);
    if (is_get) {
      return ErrorResponse(Error::NotImplemented(
          "searching across all resource types is not supported; name a resource type"));
    }
    return MethodNotAllowed(method, "the base URL", "POST");
  }
  if (seg[0] == "metadata" && seg.size() == 1) {
    if (is_get)
      return Capabilities(request);
    return MethodNotAllowed(method, "/metadata", "GET");
  }
  if (seg[0] == "_history" && seg.size() == 1) {
    if (is_get)
      return History(request, nullptr, nullptr);
    return MethodNotAllowed(method, "/_history", "GET");
  }
  if (seg.size() == 3 && seg[0] == "Patient" && seg[2] == "$everything") {
    if (AsksForMpi(request.params))  // linked_search.cc: across linked Patients
      return InvokeOperation(request, "Patient", seg[1], "everything");
    return PatientEverything(request, seg[1]);  // search_routes.cc
  }
  if (seg.back().starts_with("$") && seg.size() <= 3) {
    if (seg.size() >= 2 && !IsResourceType(seg[0])) {
      return ErrorResponse(Error::NotFound("unknown resource type '" + seg[0] + "'"));
    }
    if (seg.size() == 3 && !core::IsValidId(seg[1])) {
      return ErrorResponse(Error::BadRequest("'" + seg[1] + "' is not a valid resource id"));
    }
    return InvokeOperation(request, seg.size() >= 2 ? seg[0] : std::string(),
                           seg.size() == 3 ? seg[1] : std::string(), seg.back().substr(1));
  }
  const std::string& type = seg[0];
  if (type == "AuditEvent" && (method == "PUT" || method == "PATCH" || method == "DELETE")) {
    // The audit trail is append-only (doc/security.md), whoever asks.
    return MethodNotAllowed(method, "AuditEvent (the audit trail is append-only)", "GET, POST");
  }
  if (!IsResourceType(type)) {
    return ErrorResponse(Error::NotFound("unknown resource type or path '" + type + "'"));
  }
  if (seg.size() == 1) {
    if (is_get)
      return Search(request, type, request.params);
    if (method == "POST")
      return Create(request, type);
    if (method == "PUT")
      return ConditionalUpdate(request, type);
    if (method == "DELETE")
      return ConditionalDelete(request, type);
    return MethodNotAllowed(method, type, "GET, POST, PUT, DELETE");
  }
  const std::string& second = seg[1];
  if (seg.size() == 2 && second == "_search") {
    if (method != "POST")
      return MethodNotAllowed(method, type + "/_search", "POST");
    if (request.content_type != "application/x-www-form-urlencoded") {
      return ErrorResponse(Error(core::ErrorCode::kUnsupportedMediaType,
                                 "POST _search takes application/x-www-form-urlencoded"));
    }
    QueryParams params = request.params;
    QueryParams form = ParseQueryString(request.body);
    params.insert(params.end(), form.begin(), form.end());
    return Search(request, type, params);
  }
  if (seg.size() == 2 && second == "_history") {
    if (is_get)
      return History(request, &type, nullptr);
    return MethodNotAllowed(method, type + "/_history", "GET");
  }
  if (!core::IsValidId(second)) {
    return ErrorResponse(Error::BadRequest("'" + second + "' is not a valid resource id"));
  }
  if (seg.size() == 2) {
    if (is_get)
      return Read(request, type, second);
    if (method == "PUT")
      return Update(request, type, second);
    if (method == "PATCH")
      return Patch(request, type, second);
    if (method == "DELETE")
      return Delete(request, type, second);
    return MethodNotAllowed(method, type + "/" + second, "GET, PUT, PATCH, DELETE");
  }
  if (seg.size() == 3 && IsResourceType(seg[2])) {
    return CompartmentSearch(request, type, second, seg[2]);  // search_routes.cc
  }
  if (seg[2] == "_history") {
    if (!is_get)
      return MethodNotAllowed(method, "history", "GET");
    if (seg.size() == 3)
      return History(request, &type, &second);
    if (seg.size() == 4)
      return VersionRead(request, type, second, seg[3]);
  }
  return ErrorResponse(Error::NotFound("unknown path"));
}

FhirResponse RestService::Create(const FhirRequest& request, const std::string& type) const {
  Result<Json> parsed = ParseResourceBody(request, type);
  if (!parsed)
    return ErrorResponse(parsed.error());
  Json& resource = *parsed;
  resource.Erase("id");  // the server assigns the id of a created resource
  if (auto status = Validate(resource); !status)
    return ErrorResponse(status.error());

  std::string_view if_none_exist = request.headers.Get("If-None-Exist");
  std::string id = core::NewId();
  StoredResource stored;
  int status_code = 201;
  core::EpochMillis now = config_.clock->Now();
  std::vector<core::Issue> warnings;
  WriteContext context{&request.GetCaller(), &warnings};
  std::unique_ptr<access::Session> session = MakeSession(request);
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    status_code = 201;
    warnings.clear();
    if (!if_none_exist.empty()) {
      QueryParams params = ParseQueryString(if_none_exist.starts_with(type + "?")
                                                ? if_none_exist.substr(type.size() + 1)
                                                : if_none_exist);
      MA_ASSIGN_OR_RETURN(auto matches, FindMatches(tx, type, params, Predicate(session.get())));
      if (matches.size() > 1) {
        return Error::PreconditionFailed("If-None-Exist matches " + std::to_string(matches.size()) +
                                         " resources");
      }
      if (matches.size() == 1) {
        stored = std::move(matches.front());
        status_code = 200;
        return {};
      }
    }
    MA_ASSIGN_OR_RETURN(WriteResult result, writer_.Create(tx, resource, id, now, context));
    stored = std::move(result.stored);
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  return WriteResponse(request, stored, status_code, warnings);
}

FhirResponse RestService::Read(const FhirRequest& request, const std::string& type,
                               const std::string& id) const {
  std::optional<StoredResource> current;
  std::unique_ptr<access::Session> session = MakeSession(request);
  bool hidden = false;
  core::Status status = store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(current, tx.ReadCurrent(type, id));
    hidden = false;
    if (session != nullptr && current.has_value()) {
      MA_ASSIGN_OR_RETURN(bool visible, session->Visible(tx, *current));
      hidden = !visible;
    }
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  if (hidden)
    AuditRefusal(request, "read", type + "/" + id, "not visible to the caller");
  if (!current.has_value() || hidden) {
    return ErrorResponse(Error::NotFound(type + "/" + id + " is not known"));
  }
  if (core::Status audited = AuditReads(request, session.get(), "read"); !audited)
    return ErrorResponse(audited.error());
  if (current->deleted) {
    FhirResponse response = ErrorResponse(Error::Gone(type + "/" + id + " was deleted (version " +
                                                      std::to_string(current->version) + ")"));
    SetVersionHeaders(response, *current);
    return response;
  }
  FhirResponse response;
  SetVersionHeaders(response, *current);
  std::string_view if_none_match = request.headers.Get("If-None-Match");
  if (!if_none_match.empty()) {
    std::optional<int64_t> version = ParseETagVersion(if_none_match);
    if (if_none_match == "*" || (version.has_value() && *version == current->version)) {
      response.status = 304;
      return response;
    }
  }
  std::string_view if_modified_since = request.headers.Get("If-Modified-Since");
  if (!if_modified_since.empty()) {
    Result<core::EpochMillis> since = core::ParseHttpDate(if_modified_since);
    // HTTP dates have second precision: not modified when lastUpdated is within that second.
    if (since.has_value() && current->last_updated < *since + 1000) {
      response.status = 304;
      return response;
    }
  }
  response.body = std::move(current->json);
  return response;
}

FhirResponse RestService::VersionRead(const FhirRequest& request, const std::string& type,
                                      const std::string& id, const std::string& version) const {
  int64_t number = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (ec != std::errc() || end != version.data() + version.size() || number < 1) {
    return ErrorResponse(
        Error::NotFound("version '" + version + "' of " + type + "/" + id + " is not known"));
  }
  std::optional<StoredResource> stored;
  std::unique_ptr<access::Session> session = MakeSession(request);
  bool hidden = false;
  core::Status status = store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(stored, tx.ReadVersion(type, id, number));
    hidden = false;
    if (session != nullptr && stored.has_value()) {
      MA_ASSIGN_OR_RETURN(bool visible, session->Visible(tx, *stored));
      hidden = !visible;
    }
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  if (hidden)
    AuditRefusal(request, "vread", type + "/" + id, "not visible to the caller");
  else if (core::Status audited = AuditReads(request, session.get(), "vread"); !audited)
    return ErrorResponse(audited.error());
  if (!stored.has_value() || hidden) {
    return ErrorResponse(
        Error::NotFound("version " + version + " of " + type + "/" + id + " is not known"));
  }
  if (stored->deleted) {
    FhirResponse response = ErrorResponse(
        Error::Gone("version " + version + " of " + type + "/" + id + " is a deletion"));
    SetVersionHeaders(response, *stored);
    return response;
  }
  FhirResponse response;
  SetVersionHeaders(response, *stored);
  response.body = std::move(stored->json);
  return response;
}

FhirResponse RestService::Update(const FhirRequest& request, const std::string& type,
                                 const std::string& id) const {
  Result<Json> parsed = ParseResourceBody(request, type);
  if (!parsed)
    return ErrorResponse(parsed.error());
  Json& resource = *parsed;
  std::string_view body_id = resource.GetStringMember("id");
  if (body_id.empty()) {
    return ErrorResponse(
        Error::BadRequest("an update must carry the resource id in the body", "id"));
  }
  if (body_id != id) {
    return ErrorResponse(Error::BadRequest(
        "the body's id '" + std::string(body_id) + "' differs from the URL's id '" + id + "'",
        type + ".id"));
  }
  if (auto status = Validate(resource); !status)
    return ErrorResponse(status.error());
  std::optional<int64_t> if_match;
  std::string_view if_match_header = request.headers.Get("If-Match");
  if (!if_match_header.empty()) {
    if_match = ParseETagVersion(if_match_header);
    if (!if_match.has_value()) {
      return ErrorResponse(
          Error::BadRequest("malformed If-Match header '" + std::string(if_match_header) + "'"));
    }
  }
  core::EpochMillis now = config_.clock->Now();
  WriteResult result;
  std::vector<core::Issue> warnings;
  WriteContext context{&request.GetCaller(), &warnings};
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    warnings.clear();
    MA_ASSIGN_OR_RETURN(result, writer_.Update(tx, resource, id, if_match, "PUT", now, context));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  return WriteResponse(request, result.stored, result.created ? 201 : 200, warnings);
}

FhirResponse RestService::ConditionalUpdate(const FhirRequest& request,
                                            const std::string& type) const {
  if (request.params.empty()) {
    return MethodNotAllowed("PUT", type + " without an id or search criteria", "GET, POST");
  }
  Result<Json> parsed = ParseResourceBody(request, type);
  if (!parsed)
    return ErrorResponse(parsed.error());
  Json& resource = *parsed;
  if (auto status = Validate(resource); !status)
    return ErrorResponse(status.error());
  std::string body_id(resource.GetStringMember("id"));
  core::EpochMillis now = config_.clock->Now();
  WriteResult result;
  std::vector<core::Issue> warnings;
  WriteContext context{&request.GetCaller(), &warnings};
  std::unique_ptr<access::Session> session = MakeSession(request);
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    warnings.clear();
    MA_ASSIGN_OR_RETURN(auto matches,
                        FindMatches(tx, type, request.params, Predicate(session.get())));
    if (matches.size() > 1) {
      return Error::PreconditionFailed("the conditional update criteria match " +
                                       std::to_string(matches.size()) + " resources");
    }
    std::string id;
    if (matches.size() == 1) {
      id = matches.front().id;
      if (!body_id.empty() && body_id != id) {
        return Error::BadRequest("the body's id '" + body_id +
                                 "' differs from the matching resource's id '" + id + "'");
      }
    } else {
      id = body_id.empty() ? core::NewId() : body_id;
    }
    MA_ASSIGN_OR_RETURN(result,
                        writer_.Update(tx, resource, id, std::nullopt, "PUT", now, context));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  return WriteResponse(request, result.stored, result.created ? 201 : 200, warnings);
}

FhirResponse RestService::Patch(const FhirRequest& request, const std::string& type,
                                const std::string& id) const {
  // JSON Patch (application/json-patch+json) or FHIRPath Patch (a Parameters resource).
  const bool json_patch = request.content_type == "application/json-patch+json";
  const bool fhirpath_patch =
      request.content_type == "application/fhir+json" || request.content_type == "application/json";
  if (!json_patch && !fhirpath_patch) {
    return ErrorResponse(Error(core::ErrorCode::kUnsupportedMediaType,
                               "PATCH takes a JSON Patch document (application/json-patch+json) "
                               "or a FHIRPath Patch Parameters resource (application/fhir+json)"));
  }
  const auto& apply = json_patch ? config_.apply_json_patch : config_.apply_fhirpath_patch;
  if (!apply)
    return ErrorResponse(Error::NotImplemented("this patch format is not available"));
  Result<Json> patch = fhir::ParseJson(request.body);
  if (!patch)
    return ErrorResponse(patch.error());
  if (fhirpath_patch && patch->GetStringMember("resourceType") != "Parameters") {
    return ErrorResponse(
        Error::BadRequest("a FHIRPath Patch body must be a Parameters resource", "Parameters"));
  }
  std::optional<int64_t> if_match;
  std::string_view if_match_header = request.headers.Get("If-Match");
  if (!if_match_header.empty()) {
    if_match = ParseETagVersion(if_match_header);
    if (!if_match.has_value()) {
      return ErrorResponse(Error::BadRequest("malformed If-Match header"));
    }
  }
  core::EpochMillis now = config_.clock->Now();
  WriteResult result;
  std::vector<core::Issue> warnings;
  WriteContext context{&request.GetCaller(), &warnings};
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    warnings.clear();
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
    if (!current.has_value())
      return Error::NotFound(type + "/" + id + " is not known");
    if (current->deleted)
      return Error::Gone(type + "/" + id + " was deleted");
    if (if_match.has_value() && *if_match != current->version) {
      return Error::PreconditionFailed("version conflict: If-Match asks for version " +
                                       std::to_string(*if_match) + ", the current version is " +
                                       std::to_string(current->version));
    }
    MA_ASSIGN_OR_RETURN(Json resource, fhir::ParseJson(current->json));
    MA_RETURN_IF_ERROR(apply(resource, *patch));
    if (resource.GetStringMember("resourceType") != type || resource.GetStringMember("id") != id) {
      return Error::Unprocessable("a patch may not change the resource type or id");
    }
    MA_RETURN_IF_ERROR(Validate(resource));
    MA_ASSIGN_OR_RETURN(result,
                        writer_.Update(tx, resource, id, current->version, "PATCH", now, context));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  return WriteResponse(request, result.stored, 200, warnings);
}

FhirResponse RestService::Delete(const FhirRequest& request, const std::string& type,
                                 const std::string& id) const {
  std::optional<int64_t> if_match;
  std::string_view if_match_header = request.headers.Get("If-Match");
  if (!if_match_header.empty()) {
    if_match = ParseETagVersion(if_match_header);
    if (!if_match.has_value())
      return ErrorResponse(Error::BadRequest("malformed If-Match header"));
  }
  core::EpochMillis now = config_.clock->Now();
  std::optional<StoredResource> marker;
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(marker, writer_.Delete(tx, type, id, if_match, now,
                                               WriteContext{&request.GetCaller(), nullptr}));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  FhirResponse response;
  response.status = 204;
  if (marker.has_value())
    response.headers.Set("ETag", ETag(marker->version));
  if (GetPreferReturn(request.headers) == PreferReturn::kOperationOutcome) {
    response.status = 200;
    response.body = fhir::WriteJson(
        MakeOutcome(core::Severity::kInformation, "informational",
                    marker.has_value() ? "deleted " + type + "/" + id
                                       : type + "/" + id + " did not exist or was deleted"));
  }
  return response;
}

FhirResponse RestService::ConditionalDelete(const FhirRequest& request,
                                            const std::string& type) const {
  if (request.params.empty()) {
    return MethodNotAllowed("DELETE", type + " without an id or search criteria", "GET, POST");
  }
  core::EpochMillis now = config_.clock->Now();
  int deleted = 0;
  std::unique_ptr<access::Session> session = MakeSession(request);
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    deleted = 0;
    MA_ASSIGN_OR_RETURN(auto matches,
                        FindMatches(tx, type, request.params, Predicate(session.get())));
    if (matches.size() > 1) {
      return Error::PreconditionFailed("the conditional delete criteria match " +
                                       std::to_string(matches.size()) +
                                       " resources; only single deletes are supported");
    }
    for (const StoredResource& match : matches) {
      MA_ASSIGN_OR_RETURN(auto marker, writer_.Delete(tx, type, match.id, std::nullopt, now,
                                                      WriteContext{&request.GetCaller(), nullptr}));
      if (marker.has_value())
        ++deleted;
    }
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  FhirResponse response;
  response.status = 204;
  return response;
}

Result<std::vector<StoredResource>> RestService::FindMatches(
    store::ReadTx& tx, const std::string& type, const QueryParams& params,
    const search::VisibilityPredicate& visible) const {
  search::SearchRequest search_request;
  search_request.visible = visible;
  search_request.type = type;
  search_request.params = params;
  search_request.strict = true;  // unknown criteria must not silently match everything
  search_request.default_count = 2;
  search_request.max_count = 2;
  // Two matches are enough to refuse a conditional interaction.
  MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher_.Search(tx, search_request));
  return std::move(page.matches);
}

search::SearchRequest RestService::MakeSearchRequest(const FhirRequest& request,
                                                     const std::string& type,
                                                     const QueryParams& params) const {
  search::SearchRequest search_request;
  search_request.type = type;
  search_request.params = params;
  search_request.strict = PreferStrict(request.headers);
  search_request.default_count = config_.default_page_size;
  search_request.max_count = config_.max_page_size;
  search_request.base_url = request.base_url;
  return search_request;
}

FhirResponse RestService::RunSearch(const FhirRequest& request,
                                    const search::SearchRequest& search_request) const {
  search::SearchPage page;
  std::unique_ptr<access::Session> session = MakeSession(request);
  search::SearchRequest guarded = search_request;
  if (session != nullptr)
    guarded.visible = Predicate(session.get());
  core::Status status = store_.Read([&](store::ReadTx& tx) -> core::Status {
    if (AsksForLinkedPatients(guarded.params)) {  // linked_search.cc
      search::SearchRequest expanded = guarded;
      MA_ASSIGN_OR_RETURN(expanded.params, ExpandLinkedPatients(tx, guarded));
      MA_ASSIGN_OR_RETURN(page, searcher_.Search(tx, expanded));
      return {};
    }
    MA_ASSIGN_OR_RETURN(page, searcher_.Search(tx, guarded));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  // The query is recorded with the accesses to audit; an own member's search (the common case)
  // has none, and AuditReads would record nothing: no string built per request.
  if (session != nullptr && session->HasAccessesToAudit()) {
    std::string query = search_request.type;
    for (size_t i = 0; i < search_request.params.size(); ++i) {
      query += (i == 0 ? "?" : "&") + search_request.params[i].first + "=" +
               search_request.params[i].second;
    }
    core::Status audited = AuditReads(
        request, session.get(),
        search_request.compartment.has_value() ? "search-compartment" : "search-type", query);
    if (!audited)
      return ErrorResponse(audited.error());
  }
  FhirResponse response;
  response.body =
      BuildSearchBundle(request.base_url, search_request.type, page, config_.clock->Now());
  return response;
}

FhirResponse RestService::Search(const FhirRequest& request, const std::string& type,
                                 const QueryParams& params) const {
  return RunSearch(request, MakeSearchRequest(request, type, params));
}

FhirResponse RestService::History(const FhirRequest& request, const std::string* type,
                                  const std::string* id) const {
  store::HistoryQuery query;
  if (type != nullptr)
    query.type = *type;
  if (id != nullptr)
    query.id = *id;
  query.count = config_.default_page_size;
  for (const auto& [name, value] : request.params) {
    if (name == "_since" || name == "_at") {
      Result<core::DateRange> range = core::ParseFhirDateTime(value);
      if (!range) {
        Error error = range.error();
        error.MutableIssues()[0].expression = name;
        return ErrorResponse(error);
      }
      if (name == "_since") {
        query.since = range->low;
      } else {
        query.at = range->high - 1;
      }
    } else if (name == "_count") {
      int count = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec != std::errc() || end != value.data() + value.size() || count < 0) {
        return ErrorResponse(Error::BadRequest("_count must be a non-negative integer", "_count"));
      }
      query.count = std::min(count, config_.max_page_size);
    } else if (name == "_before_sequence") {
      int64_t cursor = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), cursor);
      if (ec != std::errc() || end != value.data() + value.size()) {
        return ErrorResponse(Error::BadRequest("malformed paging cursor", name));
      }
      query.before_sequence = cursor;
    } else if (name == "_format" || name == "_pretty") {
      continue;
    } else if (PreferStrict(request.headers)) {
      return ErrorResponse(Error::BadRequest("unknown history parameter '" + name + "'", name));
    }
  }
  std::vector<StoredResource> entries;
  int64_t total = 0;
  bool exists = true;
  store::HistoryQuery page_query = query;
  page_query.count = query.count + 1;  // one more tells whether a next page exists
  std::unique_ptr<access::Session> session = MakeSession(request);
  core::Status status = store_.Read([&](store::ReadTx& tx) -> core::Status {
    if (id != nullptr) {
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(*type, *id));
      exists = current.has_value();
      if (exists && session != nullptr) {
        MA_ASSIGN_OR_RETURN(exists, session->Visible(tx, *current));
      }
      if (!exists)
        return {};
    }
    if (session == nullptr) {
      MA_ASSIGN_OR_RETURN(entries, tx.History(page_query));
      store::HistoryQuery count_query = query;
      count_query.before_sequence.reset();
      MA_ASSIGN_OR_RETURN(total, tx.CountHistory(count_query));
      return {};
    }
    // Restricted: only visible versions, pages refilled, the total counted over visible ones.
    entries.clear();
    total = 0;
    store::HistoryQuery scan = query;
    scan.before_sequence.reset();
    scan.count = 500;
    for (;;) {
      MA_ASSIGN_OR_RETURN(std::vector<StoredResource> batch, tx.History(scan));
      for (StoredResource& version : batch) {
        MA_ASSIGN_OR_RETURN(bool visible, session->Visible(tx, version));
        if (!visible)
          continue;
        ++total;
        bool in_page =
            !query.before_sequence.has_value() || version.sequence < *query.before_sequence;
        if (in_page && static_cast<int>(entries.size()) < page_query.count)
          entries.push_back(std::move(version));
      }
      if (batch.size() < static_cast<size_t>(scan.count))
        break;
      scan.before_sequence = batch.back().sequence;
    }
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  if (!exists)
    return ErrorResponse(Error::NotFound(*type + "/" + *id + " is not known"));
  core::Status audited = AuditReads(request, session.get(),
                                    id != nullptr     ? "history-instance"
                                    : type != nullptr ? "history-type"
                                                      : "history-system");
  if (!audited)
    return ErrorResponse(audited.error());
  bool has_more = entries.size() > static_cast<size_t>(query.count);
  if (has_more)
    entries.resize(static_cast<size_t>(query.count));
  std::string path;
  if (type != nullptr)
    path += "/" + *type;
  if (id != nullptr)
    path += "/" + *id;
  path += "/_history";
  FhirResponse response;
  response.body = BuildHistoryBundle(request.base_url, path, request.params, entries, total,
                                     has_more, query.count, config_.clock->Now());
  return response;
}

FhirResponse RestService::PostBundle(const FhirRequest& request) const {
  Result<Json> parsed = ParseResourceBody(request, "Bundle");
  if (!parsed)
    return ErrorResponse(parsed.error());
  Result<Json> result = ProcessBundle(std::move(*parsed), request.base_url, &request.GetCaller());
  if (!result)
    return ErrorResponse(result.error());
  FhirResponse response;
  response.body = fhir::WriteJson(*result);
  return response;
}

}  // namespace medalliance::api::rest
