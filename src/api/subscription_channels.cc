#include "api/subscription_channels.h"

#include <algorithm>
#include <type_traits>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>

#include "api/http_adapter.h"
#include "fhir/json/json.h"

namespace medalliance::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using core::Error;

struct SubscriptionChannels::TlsClient {
  TlsClient() : context(asio::ssl::context::tls_client) {
    boost::system::error_code ec;
    context.set_default_verify_paths(ec);
    context.set_verify_mode(asio::ssl::verify_peer);
  }
  asio::ssl::context context;
};

namespace {

std::string CustodianOf(const fhir::Json& resource) {
  const fhir::Json* meta = resource.Find("meta");
  const fhir::Json* security = meta != nullptr ? meta->Find("security") : nullptr;
  if (security == nullptr || !security->IsArray())
    return {};
  for (const fhir::Json& label : security->Items()) {
    if (label.IsObject() &&
        label.GetStringMember("system") == "https://fhir.medalliance.cn/CodeSystem/custodian")
      return std::string(label.GetStringMember("code"));
  }
  return {};
}

class BindSession final : public http::WebSocketSession {
 public:
  BindSession(SubscriptionChannels& channels, std::shared_ptr<http::WebSocketPeer> peer,
              store::Caller caller)
      : channels_(channels), peer_(std::move(peer)), caller_(std::move(caller)) {}
  void OnText(const std::string& text) override {
    std::string_view line = text;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    if (!line.starts_with("bind ")) {
      peer_->Send("error unknown command: expected 'bind <subscription-id>'");
      return;
    }
    std::string id(line.substr(5));
    peer_->Send(channels_.Bind(peer_, caller_, id));
  }
  void OnClose() override { channels_.Unbind(peer_.get()); }

 private:
  SubscriptionChannels& channels_;
  std::shared_ptr<http::WebSocketPeer> peer_;
  store::Caller caller_;
};

// Runs one asynchronous step to completion on `io`; the stream's expiry bounds it (a
// synchronous call would ignore beast::tcp_stream's timeouts and could wait forever on a
// receiver that accepts and never answers).
template <typename Start>
boost::system::error_code RunStep(asio::io_context& io, Start&& start) {
  boost::system::error_code result = asio::error::would_block;
  start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

// Connects (within connect_timeout), then for TLS shakes hands, sends the POST and reads the
// answer, all within request_timeout.
template <typename Stream>
core::Status Exchange(asio::io_context& io, Stream& stream,
                      const tcp::resolver::results_type& endpoints,
                      bhttp::request<bhttp::string_body>& request, const std::string& endpoint,
                      const SubscriptionChannelOptions& options) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(options.connect_timeout);
  if (auto ec = RunStep(io, [&](auto handler) { lowest.async_connect(endpoints, handler); })) {
    return Error::Unavailable("cannot connect to " + endpoint + ": " + ec.message());
  }
  lowest.expires_after(options.request_timeout);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    if (auto ec = RunStep(io, [&](auto handler) {
          stream.async_handshake(asio::ssl::stream_base::client, handler);
        })) {
      return Error::Unavailable("TLS handshake with " + endpoint + " failed: " + ec.message());
    }
  }
  if (auto ec = RunStep(io, [&](auto handler) { bhttp::async_write(stream, request, handler); })) {
    return Error::Unavailable("sending to " + endpoint + " failed: " + ec.message());
  }
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  if (auto ec = RunStep(
          io, [&](auto handler) { bhttp::async_read(stream, buffer, response, handler); })) {
    return Error::Unavailable("no answer from " + endpoint + ": " + ec.message());
  }
  boost::system::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  unsigned status = response.result_int();
  if (status < 200 || status >= 300) {
    return Error::Unavailable("the rest-hook endpoint " + endpoint + " answered " +
                              std::to_string(status));
  }
  return {};
}

}  // namespace

SubscriptionChannels::SubscriptionChannels(store::Store& store, const SecurityGate* gate,
                                           SubscriptionChannelOptions options)
    : store_(store), gate_(gate), options_(options), tls_(std::make_unique<TlsClient>()) {}

SubscriptionChannels::~SubscriptionChannels() = default;

core::Status SubscriptionChannels::Deliver(const subscription::Notification& notification) {
  if (notification.channel == subscription::ChannelType::kWebSocket)
    return Ping(notification);
  return Post(notification);
}

core::Status SubscriptionChannels::Post(const subscription::Notification& notification) {
  auto url = boost::urls::parse_uri(notification.endpoint);
  if (!url)
    return Error::Unprocessable("malformed rest-hook endpoint " + notification.endpoint);
  bool https = url->scheme() == "https";
  std::string host = url->host_address();
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  std::string port = url->has_port() ? std::string(url->port()) : (https ? "443" : "80");
  std::string target = std::string(url->encoded_path());
  if (target.empty())
    target = "/";
  if (url->has_query())
    target += "?" + std::string(url->encoded_query());
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, target, 11};
  request.set(bhttp::field::host, std::string(url->encoded_host_and_port()));
  request.set(bhttp::field::user_agent, "medalliance-subscriptions");
  for (const auto& [name, value] : notification.headers) request.set(name, value);
  if (!notification.content_type.empty())
    request.set(bhttp::field::content_type, notification.content_type);
  request.body() = notification.body;
  request.keep_alive(false);
  request.prepare_payload();
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port);
    if (https) {
      beast::ssl_stream<beast::tcp_stream> stream(io, tls_->context);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()))
        return Error::Unavailable("cannot set the TLS server name for " + host);
      stream.set_verify_callback(asio::ssl::host_name_verification(host));
      return Exchange(io, stream, endpoints, request, notification.endpoint, options_);
    }
    beast::tcp_stream stream(io);
    return Exchange(io, stream, endpoints, request, notification.endpoint, options_);
  } catch (const std::exception& e) {
    return Error::Unavailable("delivery to " + notification.endpoint + " failed: " + e.what());
  }
}

core::Status SubscriptionChannels::Ping(const subscription::Notification& notification) {
  std::vector<std::shared_ptr<http::WebSocketPeer>> peers;
  {
    std::lock_guard lock(mutex_);
    auto it = bound_.find(notification.subscription_id);
    if (it != bound_.end()) {
      std::erase_if(it->second, [](const auto& weak) { return weak.expired(); });
      for (const auto& weak : it->second) {
        if (auto peer = weak.lock())
          peers.push_back(std::move(peer));
      }
    }
  }
  if (peers.empty())
    return Error::Unavailable("no websocket is bound to Subscription/" +
                              notification.subscription_id);
  for (const auto& peer : peers) peer->Send("ping " + notification.subscription_id);
  return {};
}

std::string SubscriptionChannels::Bind(const std::shared_ptr<http::WebSocketPeer>& peer,
                                       const store::Caller& caller, const std::string& id) {
  std::string answer;
  core::Status read = store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("Subscription", id));
    if (!current.has_value() || current->deleted) {
      answer = "error " + id + " not found";
      return {};
    }
    MA_ASSIGN_OR_RETURN(fhir::Json json, fhir::ParseJson(current->json));
    if (caller.authenticated && CustodianOf(json) != caller.organization_id) {
      answer = "error " + id + " not found";  // another member's: no trace
      return {};
    }
    const fhir::Json* channel = json.Find("channel");
    if (channel == nullptr || channel->GetStringMember("type") != "websocket") {
      answer = "error " + id + " is not a websocket subscription";
      return {};
    }
    return {};
  });
  if (!read)
    return "error " + id + " " + read.error().GetMessage();
  if (!answer.empty())
    return answer;
  std::lock_guard lock(mutex_);
  bound_[id].push_back(peer);
  return "bound " + id;
}

void SubscriptionChannels::Unbind(const http::WebSocketPeer* peer) {
  std::lock_guard lock(mutex_);
  for (auto it = bound_.begin(); it != bound_.end();) {
    std::erase_if(it->second, [&](const auto& weak) {
      auto locked = weak.lock();
      return !locked || locked.get() == peer;
    });
    it = it->second.empty() ? bound_.erase(it) : std::next(it);
  }
}

http::WebSocketAcceptor SubscriptionChannels::WebSocketAcceptor() {
  return
      [this](const http::Request& upgrade,
             std::shared_ptr<http::WebSocketPeer> peer) -> std::shared_ptr<http::WebSocketSession> {
        store::Caller caller;
        if (gate_ != nullptr && gate_->Enabled()) {
          http::Request check = upgrade;
          check.method = "GET";
          check.path = "/Subscription";
          check.target = "/Subscription";
          check.query.clear();
          if (!check.headers.Has("Authorization")) {
            std::string_view query = upgrade.query;
            while (!query.empty()) {
              size_t amp = query.find('&');
              std::string_view pair = query.substr(0, amp);
              if (pair.starts_with("access_token="))
                check.headers.Set("Authorization", "Bearer " + std::string(pair.substr(13)));
              query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
            }
          }
          rest::FhirRequest request = ToFhirRequest(check, "");
          if (gate_->Admit(check, request).has_value())
            return nullptr;
          caller = request.GetCaller();
        }
        return std::make_shared<BindSession>(*this, std::move(peer), std::move(caller));
      };
}

}  // namespace medalliance::api
