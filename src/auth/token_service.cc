#include "auth/token_service.h"

#include <fstream>
#include <mutex>
#include <sstream>

#include "auth/jose.h"
#include "auth/password.h"
#include "auth/scopes.h"
#include "fhir/json/json.h"

namespace medalliance::auth {

using fhir::Json;

namespace {

// store::Caller names the member by its bare Organization id (the access rules, referrals and
// audit compare it with reference ids); the registration keeps "Organization/<id>".
std::string MemberId(std::string_view organization) {
  constexpr std::string_view kPrefix = "Organization/";
  if (organization.starts_with(kPrefix))
    organization.remove_prefix(kPrefix.size());
  return std::string(organization);
}

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

TokenOutcome Refusal(int status, std::string error, std::string description) {
  TokenOutcome outcome;
  outcome.status = status;
  outcome.error = std::move(error);
  outcome.error_description = std::move(description);
  return outcome;
}

std::string_view Text(const Json& object, std::string_view key) {
  const Json* member = object.Find(key);
  return member != nullptr && member->IsString() ? std::string_view(member->GetString())
                                                 : std::string_view();
}

std::optional<int64_t> Number(const Json& object, std::string_view key) {
  const Json* member = object.Find(key);
  int64_t value = 0;
  if (member == nullptr || !member->IsNumber() || !member->GetInt64(&value))
    return std::nullopt;
  return value;
}

bool AudienceMatches(const Json& payload, std::string_view expected) {
  const Json* aud = payload.Find("aud");
  if (aud == nullptr)
    return false;
  if (aud->IsString())
    return aud->GetString() == expected;
  if (aud->IsArray()) {
    for (const Json& item : aud->Items()) {
      if (item.IsString() && item.GetString() == expected)
        return true;
    }
  }
  return false;
}

core::Result<Json> LoadJwks(const ClientRecord& client) {
  std::string text = client.jwks;
  if (!client.jwks_path.empty()) {
    std::ifstream in(client.jwks_path, std::ios::binary);
    if (!in)
      return core::Error::Unavailable("cannot read the client's JWKS file " + client.jwks_path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  return fhir::ParseJson(text);
}

Json StringArray(const std::vector<std::string>& items) {
  Json array = Json::MakeArray();
  for (const std::string& item : items) array.PushBack(Json::MakeString(item));
  return array;
}

}  // namespace

std::string_view SecurityEventName(SecurityEvent::Kind kind) {
  switch (kind) {
    case SecurityEvent::Kind::kTokenIssued:
      return "token-issued";
    case SecurityEvent::Kind::kTokenRefused:
      return "token-refused";
    case SecurityEvent::Kind::kLogin:
      return "login";
    case SecurityEvent::Kind::kLoginRefused:
      return "login-refused";
    case SecurityEvent::Kind::kAccessRefused:
      return "access-refused";
    case SecurityEvent::Kind::kBreakGlass:
      return "break-glass";
  }
  return "?";
}

bool IsKnownRole(std::string_view role) {
  return role == "clinician" || role == "referral-coordinator" || role == "alliance-admin" ||
         role == "data-steward" || role == "researcher";
}

std::vector<std::string> RoleScopes(std::string_view role) {
  if (role == "clinician" || role == "referral-coordinator" || role == "alliance-admin")
    return {"user/*.cruds"};
  if (role == "data-steward" || role == "researcher")
    return {"user/*.rs"};
  return {};
}

TokenService::TokenService(store::Store& store, TokenServiceOptions options)
    : auth_store_(store), options_(std::move(options)) {
  if (options_.clock == nullptr)
    options_.clock = &core::SystemClock::Get();
}

core::Status TokenService::Init() {
  MA_ASSIGN_OR_RETURN(key_, auth_store_.LoadOrCreateSigningKey(options_.clock->Now()));
  return core::Ok{};
}

void TokenService::Emit(SecurityEvent event) const {
  if (!options_.on_event)
    return;
  event.time = options_.clock->Now();
  options_.on_event(event);
}

TokenOutcome TokenService::Issue(const TokenRequest& request) {
  const int64_t now = options_.clock->Now() / 1000;
  if (request.grant_type == "client_credentials")
    return IssueForClient(request, now);
  if (request.grant_type == "password")
    return IssueForPerson(request, now);
  return Refusal(400, "unsupported_grant_type",
                 "grant_type must be client_credentials (or password for people)");
}

TokenOutcome TokenService::IssueForClient(const TokenRequest& request, int64_t now) {
  SecurityEvent event;
  event.kind = SecurityEvent::Kind::kTokenRefused;
  event.client_id = request.client_id;
  event.remote_address = request.remote_address;
  event.scope = request.scope;
  auto refuse = [&](int status, std::string error, std::string description) {
    event.detail = description;
    Emit(event);
    return Refusal(status, std::move(error), std::move(description));
  };
  if (request.client_assertion_type != kJwtBearer) {
    return refuse(400, "invalid_request",
                  "client_assertion_type must be " + std::string(kJwtBearer));
  }
  if (request.client_assertion.empty())
    return refuse(400, "invalid_request", "client_assertion is missing");
  core::Result<Jws> jws = ParseJws(request.client_assertion);
  if (!jws)
    return refuse(401, "invalid_client", jws.error().GetMessage());
  std::string_view alg = Text(jws->header, "alg");
  if (alg != "RS384" && alg != "ES384") {
    return refuse(401, "invalid_client",
                  "the assertion's alg '" + std::string(alg) + "' is not RS384 or ES384");
  }
  const Json& claims = jws->payload;
  std::string client_id(Text(claims, "iss"));
  event.client_id = client_id;
  if (client_id.empty() || Text(claims, "sub") != client_id)
    return refuse(401, "invalid_client", "the assertion's iss and sub must both be the client_id");
  if (!request.client_id.empty() && request.client_id != client_id)
    return refuse(401, "invalid_client", "client_id does not match the assertion's iss");
  core::Result<std::optional<ClientRecord>> found = auth_store_.GetClient(client_id);
  if (!found)
    return refuse(503, "temporarily_unavailable", found.error().GetMessage());
  if (!found->has_value())
    return refuse(401, "invalid_client", "unknown client '" + client_id + "'");
  const ClientRecord& client = **found;
  event.organization_id = client.organization_id;
  if (client.revoked_at.has_value())
    return refuse(401, "invalid_client", "client '" + client_id + "' has been revoked");
  if (!AudienceMatches(claims, request.token_endpoint)) {
    return refuse(401, "invalid_client",
                  "the assertion's aud must be the token endpoint " + request.token_endpoint);
  }
  const int64_t skew = options_.clock_skew_seconds;
  std::optional<int64_t> exp = Number(claims, "exp");
  if (!exp)
    return refuse(401, "invalid_client", "the assertion has no exp");
  if (*exp <= now - skew)
    return refuse(401, "invalid_client", "the assertion has expired");
  if (*exp > now + options_.max_assertion_lifetime_seconds + skew) {
    return refuse(401, "invalid_client",
                  "the assertion's exp is more than " +
                      std::to_string(options_.max_assertion_lifetime_seconds) + " seconds ahead");
  }
  for (std::string_view claim : {"nbf", "iat"}) {
    std::optional<int64_t> value = Number(claims, claim);
    if (value && *value > now + skew) {
      return refuse(401, "invalid_client",
                    "the assertion is not valid yet (" + std::string(claim) + " in the future)");
    }
  }
  std::string jti(Text(claims, "jti"));
  if (jti.empty() || jti.size() > 256)
    return refuse(401, "invalid_client", "the assertion needs a jti of at most 256 characters");
  core::Result<Json> jwks = LoadJwks(client);
  if (!jwks)
    return refuse(401, "invalid_client", "the client's JWKS: " + jwks.error().GetMessage());
  if (core::Status verified = VerifyJws(*jws, *jwks); !verified)
    return refuse(401, "invalid_client", verified.error().GetMessage());
  core::Result<bool> fresh = auth_store_.RecordJti(client_id, jti, std::max(*exp, now) + skew, now);
  if (!fresh)
    return refuse(503, "temporarily_unavailable", fresh.error().GetMessage());
  if (!*fresh)
    return refuse(401, "invalid_client", "the assertion's jti has been used before");

  std::vector<std::string> granted = GrantScopes(SplitScopes(request.scope), client.scopes);
  if (granted.empty()) {
    return refuse(400, "invalid_scope",
                  "none of the requested scopes is registered for this client (registered: " +
                      JoinScopes(client.scopes) + ")");
  }
  store::Caller caller;
  caller.authenticated = true;
  caller.client_id = client_id;
  caller.organization_id = MemberId(client.organization_id);
  caller.roles = client.roles.empty() ? std::vector<std::string>{"system"} : client.roles;
  caller.scopes = granted;
  TokenOutcome outcome;
  outcome.access_token = Sign(caller, now);
  outcome.expires_in = options_.token_lifetime_seconds;
  outcome.scope = JoinScopes(granted);
  event.kind = SecurityEvent::Kind::kTokenIssued;
  event.scope = outcome.scope;
  Emit(event);
  return outcome;
}

TokenOutcome TokenService::IssueForPerson(const TokenRequest& request, int64_t now) {
  SecurityEvent event;
  event.kind = SecurityEvent::Kind::kLoginRefused;
  event.username = request.username;
  event.remote_address = request.remote_address;
  auto refuse = [&](int status, std::string error, std::string description) {
    event.detail = description;
    Emit(event);
    return Refusal(status, std::move(error), std::move(description));
  };
  if (request.username.empty() || request.password.empty())
    return refuse(400, "invalid_request", "username and password are required");
  core::Result<std::optional<UserRecord>> found = auth_store_.GetUser(request.username);
  if (!found)
    return refuse(503, "temporarily_unavailable", found.error().GetMessage());
  // One answer for an unknown user, a disabled one and a wrong password.
  if (!found->has_value() || (*found)->disabled ||
      !VerifyPassword(request.password, (*found)->password_hash)) {
    return refuse(400, "invalid_grant", "wrong username or password");
  }
  const UserRecord& user = **found;
  event.organization_id = user.organization_id;
  std::vector<std::string> allowed = RoleScopes(user.role);
  std::vector<std::string> requested = request.scope.empty() ? allowed : SplitScopes(request.scope);
  std::vector<std::string> granted = GrantScopes(requested, allowed);
  if (granted.empty())
    return refuse(400, "invalid_scope", "the role " + user.role + " allows " + JoinScopes(allowed));
  store::Caller caller;
  caller.authenticated = true;
  caller.organization_id = MemberId(user.organization_id);
  caller.practitioner_id = user.practitioner_id;
  caller.roles = {user.role};
  if (user.break_glass)
    caller.roles.emplace_back("break-glass");
  caller.scopes = granted;
  TokenOutcome outcome;
  outcome.access_token = Sign(caller, now);
  outcome.expires_in = options_.token_lifetime_seconds;
  outcome.scope = JoinScopes(granted);
  event.kind = SecurityEvent::Kind::kLogin;
  event.scope = outcome.scope;
  Emit(event);
  return outcome;
}

// A compact signed token: base64url(claims) "." base64url(the first 16 bytes of
// HMAC-SHA256(key, kTokenContext || base64url(claims))). Clients treat access tokens as opaque
// (RFC 6749 §1.4), and every request carries this one in its Authorization header, where
// each byte costs the HTTP parser and the token cache: a JWT of the same content (header,
// registered claims, a 256-bit signature) was 341 bytes for a hospital system, this ~120.
// Claims: o member, c client_id, p practitioner, r roles, s scope, e expiry (epoch seconds);
// no random id (two tokens of the same grant issued in the same second are the same token,
// which is harmless). A 128-bit tag is the usual truncation of HMAC-SHA256 (RFC 2104 §5).
std::string TokenService::Sign(const store::Caller& caller, int64_t now) const {
  Json claims = Json::MakeObject();
  claims.Set("o", Json::MakeString(caller.organization_id));
  if (!caller.client_id.empty())
    claims.Set("c", Json::MakeString(caller.client_id));
  if (!caller.practitioner_id.empty())
    claims.Set("p", Json::MakeString(caller.practitioner_id));
  claims.Set("r", StringArray(caller.roles));
  claims.Set("s", Json::MakeString(JoinScopes(caller.scopes)));
  claims.Set("e", Json::MakeNumber(now + options_.token_lifetime_seconds));
  std::string payload = Base64UrlEncode(fhir::WriteJson(claims));
  return payload + "." + TokenTag(payload);
}

std::string TokenService::TokenTag(std::string_view payload) const {
  std::string input(kTokenContext);
  input += payload;
  return Base64UrlEncode(HmacSha256(key_.secret, input).substr(0, kTokenTagBytes));
}

core::Result<store::Caller> TokenService::Validate(std::string_view access_token) const {
  MA_ASSIGN_OR_RETURN(std::shared_ptr<const ValidatedToken> token, ValidateShared(access_token));
  return token->caller;
}

core::Result<std::shared_ptr<const ValidatedToken>> TokenService::ValidateShared(
    std::string_view access_token) const {
  const int64_t now = options_.clock->Now() / 1000;
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(access_token);
    if (it != cache_.end() && it->second->expires_at > now)
      return it->second;
  }
  auto token = std::make_shared<ValidatedToken>();
  MA_ASSIGN_OR_RETURN(token->caller, ValidateUncached(access_token, &token->expires_at));
  token->scopes = ScopeSet(token->caller.scopes);
  token->reads_every_type = token->scopes.Allows("*", Interaction::kRead) &&
                            token->scopes.Allows("*", Interaction::kSearch);
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() >= kMaxCachedTokens) {
    std::erase_if(cache_, [now](const auto& item) { return item.second->expires_at <= now; });
    if (cache_.size() >= kMaxCachedTokens)
      cache_.clear();
  }
  cache_.insert_or_assign(std::string(access_token), token);
  return std::shared_ptr<const ValidatedToken>(std::move(token));
}

core::Result<store::Caller> TokenService::ValidateUncached(std::string_view access_token,
                                                           int64_t* expires_at) const {
  auto refuse = [](std::string message) {
    return core::Error(core::ErrorCode::kUnauthorized, std::move(message));
  };
  const size_t dot = access_token.find('.');
  if (dot == std::string_view::npos || access_token.find('.', dot + 1) != std::string_view::npos)
    return refuse("the access token is malformed");
  std::string_view payload = access_token.substr(0, dot);
  // The tag as this server computes it, in its one canonical encoding: a token another key
  // signed, or altered anywhere, does not compare equal.
  if (!SecureEquals(access_token.substr(dot + 1), TokenTag(payload)))
    return refuse("the access token's signature does not verify");
  std::optional<std::string> text = Base64UrlDecode(payload);
  if (!text.has_value())
    return refuse("the access token is malformed");
  core::Result<Json> parsed = fhir::ParseJson(*text);
  if (!parsed || !parsed->IsObject())
    return refuse("the access token is malformed");
  const Json& claims = *parsed;
  std::optional<int64_t> exp = Number(claims, "e");
  const int64_t now = options_.clock->Now() / 1000;
  if (!exp || *exp <= now)
    return refuse("the access token has expired");
  *expires_at = *exp;
  store::Caller caller;
  caller.authenticated = true;
  caller.client_id = std::string(Text(claims, "c"));
  caller.organization_id = std::string(Text(claims, "o"));
  caller.practitioner_id = std::string(Text(claims, "p"));
  if (const Json* roles = claims.Find("r"); roles != nullptr && roles->IsArray()) {
    for (const Json& role : roles->Items()) {
      if (role.IsString())
        caller.roles.push_back(role.GetString());
    }
  }
  caller.scopes = SplitScopes(Text(claims, "s"));
  return caller;
}

}  // namespace medalliance::auth
