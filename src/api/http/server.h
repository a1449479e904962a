#pragma once
// The HTTP/1.1 server: Boost.Beast with C++20 coroutines, one io_context run by N threads,
// keep-alive, TCP_NODELAY, gzip in both directions, one JSON log line per request. Beast and
// Asio stay inside server.cc; callers see only the plain types of api/http/message.h.
//
// Handlers are blocking: each runs on an io thread, so at most `threads` handlers run at once
// and a slow handler delays only the connections that wait for a free thread.
//
// Thread-safety: Start/Stop/Wait/GetPort may be called from any thread except a handler
// (Stop from a handler would wait for that handler). The handler is called concurrently
// from several threads and must be thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http/message.h"
#include "core/result.h"

namespace medalliance::api::http {

// Called once per request on an io thread. Exceptions are caught by the server as a last
// resort (logged, answered 500); code above should return error responses instead.
using Handler = std::function<Response(Request&)>;

// One accepted WebSocket connection, as the application sees it. Send and Close may be called
// from any thread; messages are sent in order, after the handshake.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
};

// The application side of one WebSocket connection; called on the connection's io thread.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void OnText(const std::string& text) = 0;
  virtual void OnClose() = 0;
};

// Called for a WebSocket upgrade request on ServerOptions.websocket_path, before the
// handshake: returns the session, or null to refuse it (403). Must not block.
using WebSocketAcceptor = std::function<std::shared_ptr<WebSocketSession>(
    const Request& upgrade, std::shared_ptr<WebSocketPeer> peer)>;

// Builds the response for errors the server detects itself (no handler involved):
// 400 malformed HTTP or bad gzip body, 413 body too large, 415 unknown Content-Encoding,
// 431 header too large, 500 handler threw, 503 too many connections. It must not throw.
using ErrorResponder = std::function<Response(int status, std::string message)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                      // 0 = any free port; see Server::GetPort()
  int threads = 0;                           // 0 = std::thread::hardware_concurrency()
  size_t max_body_bytes = 16 * 1024 * 1024;  // also applies to a gunzipped request body
  size_t max_header_bytes = 16 * 1024;       // request line + fields
  int max_connections = 10000;               // beyond it: 503 and close
  std::chrono::seconds idle_timeout{60};     // keep-alive idle time and per-read/write limit
  std::chrono::seconds stop_timeout{10};     // Stop() waits this long for in-flight requests
  bool gzip = true;                          // compress responses >= 1 KiB when accepted
  int gzip_level = 1;                        // zlib level; 1 already shrinks FHIR JSON ~5x
  bool log_requests = true;                  // one spdlog info line per request
  ErrorResponder error_responder;            // empty = text/plain "<status> <message>"
  // TLS: PEM files of the certificate chain and its private key; both empty = plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // WebSocket upgrades on this path go to `websocket` (unset: no WebSockets; the request
  // reaches the handler as any other).
  std::string websocket_path = "/websocket";
  WebSocketAcceptor websocket;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();  // Stop()s if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the io threads. Errors: kUnavailable when the address cannot
  // be bound (in use, bad host); kBadRequest when called twice.
  core::Status Start();

  // The bound port (the chosen one when options.port was 0); 0 before Start().
  uint16_t GetPort() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets in-flight
  // requests finish (answering them with Connection: close) for up to options.stop_timeout,
  // then aborts the rest and joins the threads. Idempotent.
  void Stop();

  // Blocks until Stop() has completed (from another thread).
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medalliance::api::http
