#pragma once
// A FHIR R4 Subscription as the server runs it (doc/subscriptions.md): criteria (a search the
// in-memory matcher understands), channel (rest-hook or websocket), its owner member and
// status; and the Transport seam through which api/ delivers notifications.
//
// Thread-safety: Subscription values are immutable once parsed; a Transport must be
// thread-safe (the dispatcher's workers call it concurrently).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "search/match.h"

namespace medalliance::subscription {

enum class ChannelType { kRestHook, kWebSocket };

struct Subscription {
  std::string id;
  std::string status;  // requested, active, error, off
  std::string owner;   // the member that created it (custodian label); empty without auth
  search::MatchCriteria criteria;
  ChannelType channel = ChannelType::kRestHook;
  std::string endpoint;                                      // rest-hook URL
  std::vector<std::pair<std::string, std::string>> headers;  // rest-hook extra headers
  bool full_payload = false;  // payload application/fhir+json: the resource is sent
  // Whether notifications are matched and sent (active or error).
  bool Live() const { return status == "active" || status == "error"; }
};

// Reads and checks a Subscription resource. kBadRequest for criteria outside the matcher's
// subset (naming the parameter), kUnprocessable for an unsupported channel, a missing or
// non-http(s) endpoint, a payload other than application/fhir+json, or a malformed header.
core::Result<Subscription> ParseSubscription(const fhir::Json& resource);

// One notification to send.
struct Notification {
  std::string subscription_id;
  ChannelType channel = ChannelType::kRestHook;
  std::string endpoint;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // empty: no body
  std::string body;
  std::string focus;        // "Type/id/_history/n"
  int64_t enqueued_at = 0;  // epoch millis of the write that matched
};

// The channels' transport (api/ implements it: HTTP POST for rest-hook, a ping on the bound
// websockets). Deliver returns an error when the notification was not received (connection
// refused, timeout, non-2xx answer, no websocket bound): it will be retried.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual core::Status Deliver(const Notification& notification) = 0;
};

}  // namespace medalliance::subscription
