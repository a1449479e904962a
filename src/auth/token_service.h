#pragma once
// The authorization server of SMART Backend Services
// (https://hl7.org/fhir/smart-app-launch/backend-services.html) and of people's logins:
// checks a client's signed assertion (or a person's password), issues short-lived access
// tokens signed by the server, and turns a presented access token back into a store::Caller.
//
// Access tokens are JWTs signed HS256 with a 32-byte key generated at first start and kept
// in auth_keys, so they survive a restart and every node sharing the database accepts them.
// They carry sub, client_id or username, org, roles, scope, iat, exp and jti.
//
// Thread-safety: all methods may be called concurrently after Init().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/auth_store.h"
#include "auth/scopes.h"
#include "core/clock.h"
#include "core/result.h"
#include "store/hooks.h"

namespace medalliance::auth {

// A security event for the audit trail (the audit module subscribes; logged meanwhile).
struct SecurityEvent {
  enum class Kind {
    kTokenIssued,
    kTokenRefused,
    kLogin,
    kLoginRefused,
    kAccessRefused,  // a request refused for its token (401) or its scopes (403)
    kBreakGlass,     // a request with the emergency override admitted
  };
  Kind kind = Kind::kTokenIssued;
  core::EpochMillis time = 0;
  std::string client_id;        // the client, when a system asked
  std::string username;         // the person, when a person logged in (or practitioner)
  std::string organization_id;  // the member, when known
  std::string remote_address;
  std::string scope;   // granted scopes (issued) or requested ones (refused)
  std::string detail;  // why it was refused
};
std::string_view SecurityEventName(SecurityEvent::Kind kind);
using SecurityEventSink = std::function<void(const SecurityEvent&)>;

struct TokenServiceOptions {
  int token_lifetime_seconds = 300;
  int max_assertion_lifetime_seconds = 300;  // exp at most this far ahead
  int clock_skew_seconds = 30;               // tolerated for exp, nbf and iat
  const core::Clock* clock = nullptr;        // nullptr: the system clock
  SecurityEventSink on_event;                // may be empty
};

// A form posted to the token endpoint, and where it was posted.
struct TokenRequest {
  std::string grant_type;
  std::string client_assertion_type;
  std::string client_assertion;
  std::string client_id;  // optional with an assertion
  std::string scope;
  std::string username;  // grant_type=password (people, console)
  std::string password;
  std::string token_endpoint;  // the URL an assertion's aud must name
  std::string remote_address;
};

// An OAuth 2.0 answer (RFC 6749 §5.1 / §5.2).
struct TokenOutcome {
  int status = 200;
  std::string error;  // invalid_request, invalid_client, invalid_grant, invalid_scope, ...
  std::string error_description;
  std::string access_token;
  int expires_in = 0;
  std::string scope;
};

// A verified access token: its caller and, parsed once, its scopes.
struct ValidatedToken {
  store::Caller caller;
  ScopeSet scopes;
  // The scopes allow read and search on every resource type (system/*.rs, *.read, ...):
  // a GET then needs no per-request scope check.
  bool reads_every_type = false;
  int64_t expires_at = 0;  // epoch seconds
};

// The scopes a person's role grants (user/ context).
std::vector<std::string> RoleScopes(std::string_view role);
bool IsKnownRole(std::string_view role);

class TokenService {
 public:
  TokenService(store::Store& store, TokenServiceOptions options);
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  // Loads or creates the signing key. Call once before the other methods.
  core::Status Init();

  // grant_type client_credentials (with a jwt-bearer client assertion) or password.
  TokenOutcome Issue(const TokenRequest& request);

  // Errors: kUnauthorized (malformed, bad signature, expired, another issuer's key).
  // Validated tokens are cached until they expire (bounded), so a client's requests pay the
  // signature check once per token.
  core::Result<store::Caller> Validate(std::string_view access_token) const;
  // The same, sharing the cached entry: no copy of the caller, scopes parsed once per token.
  core::Result<std::shared_ptr<const ValidatedToken>> ValidateShared(
      std::string_view access_token) const;

  AuthStore& GetStore() { return auth_store_; }

 private:
  TokenOutcome IssueForClient(const TokenRequest& request, int64_t now);
  TokenOutcome IssueForPerson(const TokenRequest& request, int64_t now);
  std::string Sign(const store::Caller& caller, int64_t now) const;
  // The signature part of a token over its claims part (see Sign).
  std::string TokenTag(std::string_view payload) const;
  static constexpr std::string_view kTokenContext = "medalliance access token v1.";
  static constexpr size_t kTokenTagBytes = 16;
  void Emit(SecurityEvent event) const;

  core::Result<store::Caller> ValidateUncached(std::string_view access_token,
                                               int64_t* expires_at) const;

  AuthStore auth_store_;
  TokenServiceOptions options_;
  AuthStore::SigningKey key_;

  // Looked up by the token's bytes without copying them (heterogeneous lookup). The hash covers
  // the last 24 bytes, which hold the tag (distinct per grant); equality compares all.
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text.substr(text.size() > 24 ? text.size() - 24 : 0));
    }
  };
  static constexpr size_t kMaxCachedTokens = 10000;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const ValidatedToken>, TokenHash,
                             std::equal_to<>>
      cache_;  // by the token text
};

}  // namespace medalliance::auth
