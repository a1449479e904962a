#include "api/auth/gate.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "api/rest/outcome.h"
#include "api/rest/rest_service.h"
#include "fhir/json/json.h"

namespace medalliance::api {

using auth::Interaction;
using fhir::Json;

namespace {

constexpr size_t kMaxBuckets = 100000;
constexpr size_t kMaxBreakGlassReason = 1000;

// Operations that only read, so a read scope suffices even when they are POSTed.
const std::set<std::string, std::less<>>& ReadOnlyOperations() {
  static const std::set<std::string, std::less<>> kNames = {
      "match",     "everything", "validate",      "expand", "lookup",
      "translate", "subsumes",   "validate-code", "lastn",  "meta"};
  return kNames;
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

http::Response JsonResponse(int status, const Json& body) {
  http::Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json");
  response.headers.Set("Cache-Control", "no-store");
  response.headers.Set("Pragma", "no-cache");
  response.body = fhir::WriteJson(body);
  return response;
}

Json Strings(std::initializer_list<std::string_view> items) {
  Json array = Json::MakeArray();
  for (std::string_view item : items) array.PushBack(Json::MakeString(std::string(item)));
  return array;
}

void AddPathAccess(std::vector<NeededAccess>& needed, std::string_view method,
                   const std::vector<std::string>& seg,
                   const std::function<bool(std::string_view)>& is_type) {
  const bool get = method == "GET" || method == "HEAD";
  auto add = [&needed](std::string type, Interaction interaction) {
    needed.push_back({std::move(type), interaction});
  };
  if (seg.empty()) {
    add("*", get ? Interaction::kSearch : Interaction::kCreate);
    return;
  }
  if (seg.back().starts_with("$") && seg.size() <= 3) {
    std::string type = seg.size() >= 2 ? seg[0] : "*";
    std::string_view name = std::string_view(seg.back()).substr(1);
    if (name == "everything") {  // every type of the patient's compartment
      add(type, Interaction::kRead);
      add("*", Interaction::kSearch);
      return;
    }
    add(type, seg.size() == 3 ? Interaction::kRead : Interaction::kSearch);
    if (!get && !ReadOnlyOperations().contains(name)) {
      add(type, Interaction::kCreate);
      add(type, Interaction::kUpdate);
    }
    return;
  }
  if (seg[0] == "_history") {
    add("*", Interaction::kSearch);
    return;
  }
  const std::string& type = is_type(seg[0]) ? seg[0] : std::string("*");
  if (seg.size() == 1) {
    if (get) {
      add(type, Interaction::kSearch);
    } else if (method == "POST") {
      add(type, Interaction::kCreate);
    } else if (method == "PUT") {
      add(type, Interaction::kUpdate);
      add(type, Interaction::kSearch);
    } else if (method == "DELETE") {
      add(type, Interaction::kDelete);
      add(type, Interaction::kSearch);
    } else {
      add(type, Interaction::kUpdate);
    }
    return;
  }
  if (seg[1] == "_search" || seg[1] == "_history") {
    add(type, Interaction::kSearch);
    return;
  }
  if (seg.size() == 2) {
    if (get) {
      add(type, Interaction::kRead);
    } else if (method == "DELETE") {
      add(type, Interaction::kDelete);
    } else {
      add(type, Interaction::kUpdate);
    }
    return;
  }
  if (seg.size() == 3 && is_type(seg[2])) {  // compartment search
    add(type, Interaction::kRead);
    add(seg[2], Interaction::kSearch);
    return;
  }
  add(type, Interaction::kRead);  // _history, _history/vid
}

// _include=Source:param:Target needs read on Target (on every type without a target);
// _revinclude=Source:param needs search on Source.
void AddIncludeAccess(std::vector<NeededAccess>& needed, const rest::QueryParams& params,
                      const std::function<bool(std::string_view)>& is_type) {
  for (const auto& [name, value] : params) {
    std::string_view base = std::string_view(name).substr(0, name.find(':'));
    if (base != "_include" && base != "_revinclude")
      continue;
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
      size_t colon = value.find(':', start);
      parts.push_back(std::string_view(value).substr(start, colon - start));
      if (colon == std::string::npos)
        break;
      start = colon + 1;
    }
    if (base == "_include") {
      std::string target = parts.size() >= 3 && is_type(parts[2]) ? std::string(parts[2]) : "*";
      needed.push_back({target, Interaction::kRead});
    } else {
      std::string source = !parts.empty() && is_type(parts[0]) ? std::string(parts[0]) : "*";
      needed.push_back({source, Interaction::kSearch});
    }
  }
}

void AddBundleAccess(std::vector<NeededAccess>& needed, const rest::FhirRequest& request,
                     const std::function<bool(std::string_view)>& is_type) {
  core::Result<Json> bundle = fhir::ParseJson(request.body);
  if (!bundle || !bundle->IsObject())
    return;  // the REST layer answers 400; nothing is done
  const Json* entries = bundle->Find("entry");
  if (entries == nullptr || !entries->IsArray())
    return;
  for (const Json& entry : entries->Items()) {
    const Json* entry_request = entry.IsObject() ? entry.Find("request") : nullptr;
    if (entry_request == nullptr) {
      needed.push_back({"*", Interaction::kCreate});
      continue;
    }
    std::string method(entry_request->GetStringMember("method"));
    std::string_view url = entry_request->GetStringMember("url");
    if (url.starts_with(request.base_url + "/"))
      url.remove_prefix(request.base_url.size() + 1);
    std::string_view path = url.substr(0, url.find('?'));
    std::vector<std::string> seg;
    rest::SplitPath(path, seg);
    if (seg.empty() || !is_type(seg[0]) || url.find("://") != std::string_view::npos) {
      // Not a type this server knows: ask for the permission on every type.
      seg = {"*"};
      if (path.find('/') != std::string_view::npos)
        seg.emplace_back("id");
    }
    AddPathAccess(needed, method, seg, is_type);
    if (method == "GET" && url.find('?') != std::string_view::npos)
      AddIncludeAccess(needed, rest::ParseQueryString(url.substr(url.find('?') + 1)), is_type);
  }
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !http::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

RateLimiter::RateLimiter(double per_second, double burst)
    : per_second_(per_second), burst_(burst > 0 ? burst : std::max(1.0, per_second)) {}

bool RateLimiter::Admit(const std::string& key, int* retry_after_seconds) {
  if (per_second_ <= 0)
    return true;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (buckets_.size() > kMaxBuckets) {
    // Full buckets carry no state worth keeping: drop them.
    std::erase_if(buckets_, [&](const auto& item) {
      double elapsed = std::chrono::duration<double>(now - item.second.last).count();
      return item.second.tokens + elapsed * per_second_ >= burst_;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& bucket = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - bucket.last).count();
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed * per_second_);
    bucket.last = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return true;
  }
  *retry_after_seconds =
      std::max(1, static_cast<int>(std::ceil((1 - bucket.tokens) / per_second_)));
  return false;
}

std::vector<NeededAccess> RequiredAccess(const rest::FhirRequest& request,
                                         const std::function<bool(std::string_view)>& is_type) {
  std::vector<NeededAccess> needed;
  const std::vector<std::string>& seg = request.segments;
  if (seg.empty() && request.method == "POST") {
    AddBundleAccess(needed, request, is_type);
    return needed;
  }
  AddPathAccess(needed, request.method, seg, is_type);
  AddIncludeAccess(needed, request.params, is_type);
  if (seg.size() == 2 && seg[1] == "_search" && request.method == "POST")
    AddIncludeAccess(needed, rest::ParseQueryString(request.body), is_type);
  return needed;
}

SecurityGate::SecurityGate(SecurityOptions options, std::function<bool(std::string_view)> is_type)
    : options_(std::move(options)),
      is_type_(std::move(is_type)),
      limiter_(options_.rate_per_second, options_.rate_burst) {}

std::optional<http::Response> SecurityGate::HandleEndpoint(const http::Request& request,
                                                           const std::string& base_url) const {
  if (request.path == "/.well-known/smart-configuration") {
    if (request.method != "GET" && request.method != "HEAD")
      return std::nullopt;
    return SmartConfiguration(base_url);
  }
  if (request.path != "/auth/token" && request.path != "/auth/login")
    return std::nullopt;
  if (options_.tokens == nullptr)
    return std::nullopt;
  int retry_after = 0;
  if (!limiter_.Admit("addr:" + request.remote_address, &retry_after)) {
    http::Response response = JsonResponse(429, [] {
      Json body = Json::MakeObject();
      body.Set("error", Json::MakeString("slow_down"));
      return body;
    }());
    response.headers.Set("Retry-After", std::to_string(retry_after));
    return response;
  }
  if (request.method != "POST") {
    Json body = Json::MakeObject();
    body.Set("error", Json::MakeString("invalid_request"));
    body.Set("error_description", Json::MakeString("use POST"));
    http::Response response = JsonResponse(405, body);
    response.headers.Set("Allow", "POST");
    return response;
  }
  return Token(request, base_url, request.path == "/auth/login");
}

http::Response SecurityGate::SmartConfiguration(const std::string& base_url) const {
  Json config = Json::MakeObject();
  config.Set("issuer", Json::MakeString(base_url));
  config.Set("token_endpoint", Json::MakeString(base_url + "/auth/token"));
  config.Set("token_endpoint_auth_methods_supported", Strings({"private_key_jwt"}));
  config.Set("token_endpoint_auth_signing_alg_values_supported", Strings({"RS384", "ES384"}));
  config.Set("grant_types_supported", Strings({"client_credentials"}));
  config.Set(
      "scopes_supported",
      Strings({"system/*.read", "system/*.write", "system/*.*", "system/*.rs", "system/*.cruds",
               "system/[ResourceType].[cruds]", "user/*.rs", "user/*.cruds"}));
  config.Set("capabilities",
             Strings({"client-confidential-asymmetric", "permission-v1", "permission-v2"}));
  return JsonResponse(200, config);
}

http::Response SecurityGate::Token(const http::Request& request, const std::string& base_url,
                                   bool login) const {
  auto error = [](int status, std::string code, std::string description) {
    Json body = Json::MakeObject();
    body.Set("error", Json::MakeString(std::move(code)));
    body.Set("error_description", Json::MakeString(std::move(description)));
    return JsonResponse(status, body);
  };
  std::string_view content_type = request.headers.Get("Content-Type");
  if (!http::EqualsIgnoreCase(content_type.substr(0, content_type.find(';')),
                              "application/x-www-form-urlencoded")) {
    return error(400, "invalid_request", "send application/x-www-form-urlencoded");
  }
  auth::TokenRequest token_request;
  for (const auto& [name, value] : rest::ParseQueryString(request.body)) {
    if (name == "grant_type") {
      token_request.grant_type = value;
    } else if (name == "client_assertion_type") {
      token_request.client_assertion_type = value;
    } else if (name == "client_assertion") {
      token_request.client_assertion = value;
    } else if (name == "client_id") {
      token_request.client_id = value;
    } else if (name == "scope") {
      token_request.scope = value;
    } else if (name == "username") {
      token_request.username = value;
    } else if (name == "password") {
      token_request.password = value;
    }
  }
  if (login)
    token_request.grant_type = "password";
  token_request.token_endpoint = base_url + "/auth/token";
  token_request.remote_address = request.remote_address;
  auth::TokenOutcome outcome = options_.tokens->Issue(token_request);
  if (!outcome.error.empty())
    return error(outcome.status, outcome.error, outcome.error_description);
  Json body = Json::MakeObject();
  body.Set("access_token", Json::MakeString(outcome.access_token));
  body.Set("token_type", Json::MakeString("bearer"));
  body.Set("expires_in", Json::MakeNumber(int64_t{outcome.expires_in}));
  body.Set("scope", Json::MakeString(outcome.scope));
  return JsonResponse(200, body);
}

std::optional<rest::FhirResponse> SecurityGate::Admit(const http::Request& http_request,
                                                      rest::FhirRequest& request) const {
  std::optional<rest::FhirResponse> refusal = Check(http_request, request);
  if (!options_.on_event)
    return refusal;
  const bool refused = refusal.has_value() && (refusal->status == 401 || refusal->status == 403);
  if (!refused && !(request.GetCaller().break_glass_reason && !refusal))
    return refusal;
  auth::SecurityEvent event;
  event.kind =
      refused ? auth::SecurityEvent::Kind::kAccessRefused : auth::SecurityEvent::Kind::kBreakGlass;
  event.client_id = request.GetCaller().client_id;
  event.username = request.GetCaller().practitioner_id;
  event.organization_id = request.GetCaller().organization_id;
  event.remote_address = http_request.remote_address;
  event.scope = auth::JoinScopes(request.GetCaller().scopes);
  event.detail =
      http_request.method + " " + http_request.target + ": " +
      (refused ? std::to_string(refusal->status) : *request.GetCaller().break_glass_reason);
  options_.on_event(event);
  return refusal;
}

std::optional<rest::FhirResponse> SecurityGate::Check(const http::Request& http_request,
                                                      rest::FhirRequest& request) const {
  const bool public_path = request.segments.size() == 1 && request.segments[0] == "metadata";
  // The rate limiter's key, built only when a limit is configured.
  std::string rate_key;
  if (limiter_.Enabled())
    rate_key = "addr:" + http_request.remote_address;
  std::shared_ptr<const auth::ValidatedToken> verified;  // parsed scopes, cached with the token
  if (options_.enabled && !public_path) {
    std::string_view token = BearerToken(request.headers.Get("Authorization"));
    if (token.empty()) {
      rest::FhirResponse response = rest::ErrorResponse(core::Error(
          core::ErrorCode::kUnauthorized, "an access token is required (Authorization: Bearer)"));
      response.headers.Set("WWW-Authenticate", "Bearer realm=" + Quote(options_.realm));
      return response;
    }
    core::Result<std::shared_ptr<const auth::ValidatedToken>> validated =
        options_.tokens->ValidateShared(token);
    if (!validated) {
      rest::FhirResponse response = rest::ErrorResponse(validated.error());
      response.headers.Set("WWW-Authenticate", "Bearer realm=" + Quote(options_.realm) +
                                                   ", error=\"invalid_token\", error_description=" +
                                                   Quote(validated.error().GetMessage()));
      return response;
    }
    verified = std::move(*validated);
    // Shared with the cached token (aliasing pointer): no copy of the caller per request.
    request.caller = std::shared_ptr<const store::Caller>(verified, &verified->caller);
    if (limiter_.Enabled()) {
      rate_key = request.GetCaller().client_id.empty()
                     ? "org:" + request.GetCaller().organization_id + ":" +
                           request.GetCaller().practitioner_id
                     : "client:" + request.GetCaller().client_id;
    }
  }
  int retry_after = 0;
  if (limiter_.Enabled() && !limiter_.Admit(rate_key, &retry_after)) {
    rest::FhirResponse response = rest::ErrorResponse(
        core::Error(core::ErrorCode::kTooManyRequests,
                    "too many requests; retry after " + std::to_string(retry_after) + " s"));
    response.headers.Set("Retry-After", std::to_string(retry_after));
    return response;
  }
  if (!options_.enabled || public_path)
    return std::nullopt;

  if (request.headers.Has("X-Break-Glass")) {
    std::string_view reason = request.headers.Get("X-Break-Glass");
    const auto& roles = request.GetCaller().roles;
    if (std::find(roles.begin(), roles.end(), "break-glass") == roles.end()) {
      return rest::ErrorResponse(core::Error::Forbidden(
          "the access token carries no break-glass permission", "X-Break-Glass"));
    }
    while (!reason.empty() && reason.front() == ' ') reason.remove_prefix(1);
    if (reason.empty() || reason.size() > kMaxBreakGlassReason) {
      return rest::ErrorResponse(core::Error::BadRequest(
          "X-Break-Glass needs a reason of 1 to 1000 characters", "X-Break-Glass"));
    }
    request.MutableCaller().break_glass_reason = std::string(reason);
  }

  // Every need of a GET is a read or a search (RequiredAccess): scopes granting both on every
  // type need no per-request check.
  if (verified->reads_every_type && (request.method == "GET" || request.method == "HEAD"))
    return std::nullopt;
  const auth::ScopeSet& scopes = verified->scopes;
  const std::string context = request.GetCaller().client_id.empty() ? "user" : "system";
  for (const NeededAccess& access : RequiredAccess(request, is_type_)) {
    if (scopes.Allows(access.type, access.interaction))
      continue;
    std::string needed = auth::DescribeNeededScope(context, access.type, access.interaction);
    rest::FhirResponse response = rest::ErrorResponse(core::Error::Forbidden(
        "insufficient scope: " + std::string(auth::InteractionName(access.interaction)) + " on " +
        (access.type == "*" ? std::string("every resource type") : access.type) + " needs " +
        needed + "; granted: " + auth::JoinScopes(request.GetCaller().scopes)));
    response.headers.Set("WWW-Authenticate", "Bearer realm=" + Quote(options_.realm) +
                                                 ", error=\"insufficient_scope\", scope=" +
                                                 Quote(needed.substr(0, needed.find(' '))));
    return response;
  }
  return std::nullopt;
}

}  // namespace medalliance::api
