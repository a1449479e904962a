#pragma once
// The security gate in front of the FHIR REST service: the public SMART endpoints
// (/.well-known/smart-configuration, POST /auth/token, POST /auth/login), bearer-token
// authentication (401 with WWW-Authenticate), SMART scope enforcement (403 naming the missing
// scope), the break-glass header, and a per-caller request rate (429 with Retry-After).
// Access rules between members (who may read which patient) are not decided here: the
// gate fills FhirRequest.caller and the rules below the REST layer read it.
//
// Break-glass: a request may carry `X-Break-Glass: <reason>` (purpose of use BTG,
// http://terminology.hl7.org/CodeSystem/v3-ActReason). It reaches Caller.break_glass_reason
// only when the token holds the "break-glass" role; otherwise the request is refused (403).
//
// Thread-safety: Admit and HandleEndpoint may run on many threads at once.

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/http/message.h"
#include "api/rest/request.h"
#include "auth/scopes.h"
#include "auth/token_service.h"

namespace medalliance::api {

// A token bucket per key (client_id, else remote address). per_second 0 disables it.
class RateLimiter {
 public:
  RateLimiter(double per_second, double burst);
  // True when a request of `key` may go ahead now; else *retry_after_seconds says when.
  bool Admit(const std::string& key, int* retry_after_seconds);
  bool Enabled() const { return per_second_ > 0; }

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  const double per_second_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

struct SecurityOptions {
  bool enabled = true;                   // false: --auth none (no token needed, no scopes)
  auth::TokenService* tokens = nullptr;  // not owned; required for the endpoints
  std::string realm = "medalliance";
  double rate_per_second = 0;  // requests per second per caller; 0 = unlimited
  double rate_burst = 0;       // bucket size; 0 = max(1, rate_per_second)
  // Refusals (401, 403) and admitted break-glass requests, for the audit trail. May be empty.
  auth::SecurityEventSink on_event;
};

// One permission a request needs: an interaction on a resource type ("*" = every type).
struct NeededAccess {
  std::string type;
  auth::Interaction interaction;
};

// What a FHIR request needs, from its method and path (and a Bundle's entries, and
// _include/_revinclude targets). `is_type` tells resource type names.
std::vector<NeededAccess> RequiredAccess(const rest::FhirRequest& request,
                                         const std::function<bool(std::string_view)>& is_type);

class SecurityGate {
 public:
  SecurityGate(SecurityOptions options, std::function<bool(std::string_view)> is_type);

  // Answers the security endpoints; nullopt when `request` is for another path.
  std::optional<http::Response> HandleEndpoint(const http::Request& request,
                                               const std::string& base_url) const;

  // Authenticates `request`, applies the rate limit and the scopes, and fills its caller.
  // Returns the refusal to send, or nullopt to go ahead.
  std::optional<rest::FhirResponse> Admit(const http::Request& http_request,
                                          rest::FhirRequest& request) const;

  bool Enabled() const { return options_.enabled; }

 private:
  std::optional<rest::FhirResponse> Check(const http::Request& http_request,
                                          rest::FhirRequest& request) const;
  http::Response SmartConfiguration(const std::string& base_url) const;
  http::Response Token(const http::Request& request, const std::string& base_url, bool login) const;

  SecurityOptions options_;
  std::function<bool(std::string_view)> is_type_;
  mutable RateLimiter limiter_;
};

}  // namespace medalliance::api
