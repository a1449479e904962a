#pragma once
// The transport of FHIR Subscription notifications (doc/subscriptions.md), implementing
// subscription::Transport for the dispatcher:
//  - rest-hook: an HTTP POST to channel.endpoint (plain HTTP, or HTTPS with the system trust
//    store and host name checks) with the channel's headers and X-Subscription-Id; the body is
//    a history Bundle with the resource for payload application/fhir+json, else empty. Any 2xx
//    answer counts as delivered; anything else (refused, timeout, other status) is an error.
//  - websocket (R4): a client opens ws[s]://host/websocket, sends "bind <subscription-id>" and
//    gets "bound <id>" (or "error <id> <why>"); each notification sends "ping <id>" to every
//    socket bound to the subscription. None bound: an error (retried, like a failed POST).
//    With authentication on, the upgrade request carries a bearer token (Authorization
//    header, or ?access_token= for browsers) with read access to Subscription, and only a
//    caller of the subscription's owner member may bind it (others get "error <id> not found").
//
// Thread-safety: Deliver and the websocket sessions run concurrently; the hub is guarded.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/auth/gate.h"
#include "api/http/server.h"
#include "store/store.h"
#include "subscription/subscription.h"

namespace medalliance::api {

struct SubscriptionChannelOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};  // the whole POST and its answer
};

class SubscriptionChannels final : public subscription::Transport {
 public:
  // `store` and `gate` (may be null: no authentication) are not owned.
  SubscriptionChannels(store::Store& store, const SecurityGate* gate,
                       SubscriptionChannelOptions options = {});
  ~SubscriptionChannels() override;
  SubscriptionChannels(const SubscriptionChannels&) = delete;
  SubscriptionChannels& operator=(const SubscriptionChannels&) = delete;

  core::Status Deliver(const subscription::Notification& notification) override;

  // For http::ServerOptions::websocket.
  http::WebSocketAcceptor WebSocketAcceptor();

  // Binds `peer` to subscription `id` for `caller`; the answer line to send.
  std::string Bind(const std::shared_ptr<http::WebSocketPeer>& peer, const store::Caller& caller,
                   const std::string& id);
  void Unbind(const http::WebSocketPeer* peer);

 private:
  core::Status Post(const subscription::Notification& notification);
  core::Status Ping(const subscription::Notification& notification);

  store::Store& store_;
  const SecurityGate* gate_;
  SubscriptionChannelOptions options_;
  struct TlsClient;
  std::unique_ptr<TlsClient> tls_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<http::WebSocketPeer>>> bound_;
};

}  // namespace medalliance::api
