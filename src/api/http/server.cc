#include "api/http/server.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/http/gzip.h"
#include "core/percent.h"

namespace medalliance::api::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCodeT = boost::system::error_code;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kGzipMinBytes = 1024;
constexpr size_t kMaxDrainBytes = 8 * 1024 * 1024;
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;

// One accepted connection. `idle` is true while the session waits for the next request
// header; it is read and written only on the connection's strand.
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One accepted connection, plain or TLS. `idle` is true while the session waits for the next
// request header; it is read and written only on the connection's strand.
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  Connection(tcp::socket socket, asio::ssl::context& context)
      : stream(tcp::socket(socket.get_executor())),
        tls(std::make_unique<TlsStream>(beast::tcp_stream(std::move(socket)), context)) {}
  // The TCP layer: `stream`, or the one under `tls`.
  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : stream; }
  beast::tcp_stream stream;  // unused (closed) when tls is set
  std::unique_ptr<TlsStream> tls;
  bool idle = true;
  // Set while the connection is a WebSocket: Stop() closes it through this (on the strand).
  std::function<void()> close_websocket;
};

// A WebSocket over `Next` (tcp_stream or the TLS stream): the peer handed to the application.
// Everything runs on the connection's strand; Send/Close post to it.
template <typename Next>
class WebSocketPeerImpl final : public WebSocketPeer,
                                public std::enable_shared_from_this<WebSocketPeerImpl<Next>> {
 public:
  using WsStream = beast::websocket::stream<Next>;
  explicit WebSocketPeerImpl(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  void Send(std::string text) override {
    asio::post(executor_, [self = this->shared_from_this(), text = std::move(text)]() mutable {
      if (self->closed_)
        return;
      self->queue_.push_back(std::move(text));
      self->Pump();
    });
  }
  void Close() override {
    asio::post(executor_, [self = this->shared_from_this()] { self->CloseNow(); });
  }
  // On the strand.
  void CloseNow() {
    closed_ = true;
    queue_.clear();
    if (ws_) {
      ErrorCodeT ec;
      beast::get_lowest_layer(*ws_).socket().close(ec);
    }
  }
  void Open(std::shared_ptr<WsStream> ws) {
    ws_ = std::move(ws);
    open_ = true;
    Pump();
  }

 private:
  void Pump() {
    if (!open_ || writing_ || closed_ || queue_.empty())
      return;
    writing_ = true;
    asio::co_spawn(executor_, WriteLoop(this->shared_from_this()), asio::detached);
  }
  static asio::awaitable<void> WriteLoop(std::shared_ptr<WebSocketPeerImpl> self) {
    while (!self->queue_.empty() && !self->closed_) {
      std::string text = std::move(self->queue_.front());
      self->queue_.pop_front();
      self->ws_->text(true);
      auto [ec, written] = co_await self->ws_->async_write(asio::buffer(text), kNoThrow);
      (void)written;
      if (ec) {
        self->CloseNow();
        break;
      }
    }
    self->writing_ = false;
  }

  asio::any_io_executor executor_;
  std::shared_ptr<WsStream> ws_;
  std::deque<std::string> queue_;
  bool open_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

void AppendJsonEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
}

// RFC 9110 IMF-fixdate of the current second, cached per thread.
std::string_view HttpDate() {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    cached = fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} GMT", kDays[tm.tm_wday % 7],
                         tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                         tm.tm_min, tm.tm_sec);
    cached_second = now;
  }
  return cached;
}

bool ContainsToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token))
      return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != text.npos;
}

// Maps a failed header/body read to the status to answer with, or 0 to close silently
// (peer went away, timeout, shutdown).
int StatusForReadError(const ErrorCodeT& ec) {
  if (ec == bhttp::error::body_limit)
    return 413;
  if (ec == bhttp::error::header_limit)
    return 431;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message)
    return 0;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category())
    return 400;
  return 0;
}

Response DefaultErrorResponse(int status, std::string message) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "text/plain; charset=utf-8");
  response.body = std::to_string(status) + " " + message + "\n";
  return response;
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        thread_count_(options_.threads > 0
                          ? options_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
        io_(thread_count_),
        acceptor_strand_(asio::make_strand(io_)),
        acceptor_(acceptor_strand_) {}

  ~Impl() { Stop(); }

  core::Status Start();
  void Stop();
  void Wait();
  uint16_t GetPort() const { return port_.load(); }

 private:
  enum class State { kNew, kRunning, kStopping, kStopped };

  asio::awaitable<void> AcceptLoop();
  // Runs the TLS handshake, then Serve over the TLS stream.
  asio::awaitable<void> ServeTls(std::shared_ptr<Connection> connection);
  template <typename Stream>
  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection, Stream& stream);
  asio::awaitable<void> Reject(tcp::socket socket);
  // Runs the WebSocket handshake over `next` (moved out of the connection) and the session.
  template <typename Next>
  asio::awaitable<void> ServeWebSocket(std::shared_ptr<Connection> connection, Next next,
                                       BeastRequest upgrade,
                                       std::shared_ptr<WebSocketPeerImpl<Next>> peer,
                                       std::shared_ptr<WebSocketSession> session);
  // Writes `response` and returns whether the connection may stay open.
  template <typename Stream>
  asio::awaitable<bool> Send(Stream& stream, Response response, unsigned version, bool head,
                             bool keep_alive, bool accepts_gzip, std::string_view method,
                             std::string_view path, std::string_view remote,
                             std::chrono::steady_clock::time_point start);
  // Shuts down sending, reads and discards what the peer still sends (so it gets our
  // response instead of a reset), then closes.
  template <typename Stream>
  asio::awaitable<void> DrainAndClose(Stream& stream);
  Response ErrorResponse(int status, std::string message);
  Response CallHandler(Request& request);
  // Decodes the body per Content-Encoding; returns 0 or an error status with `message`.
  int DecodeBody(Request& request, std::string& message);
  bool Register(const std::shared_ptr<Connection>& connection);
  void Unregister(const std::shared_ptr<Connection>& connection);

  static void LogCoroutineError(std::exception_ptr error) {
    if (!error)
      return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("http: connection coroutine failed: {}", e.what());
    } catch (...) {
      spdlog::error("http: connection coroutine failed with an unknown exception");
    }
  }

  const ServerOptions options_;
  const Handler handler_;
  const int thread_count_;
  // Declared first among the Asio members so it is destroyed last.
  asio::io_context io_;
  std::optional<asio::ssl::context> tls_context_;  // set when serving TLS
  asio::strand<asio::io_context::executor_type> acceptor_strand_;
  tcp::acceptor acceptor_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> connection_count_{0};

  std::mutex mutex_;  // guards state_ and live_
  std::condition_variable changed_;
  State state_ = State::kNew;
  std::unordered_set<std::shared_ptr<Connection>> live_;
};

core::Status Server::Impl::Start() {
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kNew)
      return core::Error::BadRequest("http server already started");
  }
  ErrorCodeT ec;
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    tls_context_.emplace(asio::ssl::context::tls_server);
    tls_context_->set_options(asio::ssl::context::default_workarounds |
                                  asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                              ec);
    if (!ec)
      tls_context_->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      tls_context_.reset();
      return core::Error::Unavailable("cannot load the TLS certificate " + options_.tls_cert_file +
                                      ": " + ec.message());
    }
    tls_context_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      tls_context_.reset();
      return core::Error::Unavailable("cannot load the TLS key " + options_.tls_key_file + ": " +
                                      ec.message());
    }
  }
  asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty()) {
      return core::Error::Unavailable("cannot resolve host '" + options_.host + "'");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, options_.port);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return core::Error::Unavailable("cannot open socket for " + where + ": " + ec.message());
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    acceptor_.close(ec);
    return core::Error::Unavailable("cannot bind " + where + ": " + ec.message());
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    acceptor_.close(ec);
    return core::Error::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();

  asio::co_spawn(acceptor_strand_, AcceptLoop(), &Impl::LogCoroutineError);
  work_.emplace(io_.get_executor());
  {
    std::lock_guard lock(mutex_);
    state_ = State::kRunning;
  }
  threads_.reserve(static_cast<size_t>(thread_count_));
  for (int i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: io thread caught: {}", e.what());
        }
      }
    });
  }
  return core::Ok{};
}

void Server::Impl::Stop() {
  std::vector<std::shared_ptr<Connection>> snapshot;
  {
    std::unique_lock lock(mutex_);
    if (state_ == State::kNew) {
      state_ = State::kStopped;
      changed_.notify_all();
      return;
    }
    if (state_ == State::kStopping) {
      changed_.wait(lock, [this] { return state_ == State::kStopped; });
      return;
    }
    if (state_ == State::kStopped)
      return;
    state_ = State::kStopping;
    stopping_ = true;
    snapshot.assign(live_.begin(), live_.end());
  }
  asio::post(acceptor_strand_, [this] {
    ErrorCodeT ec;
    acceptor_.close(ec);
  });
  // Idle keep-alive connections are closed now; busy ones finish their request, answer it
  // with Connection: close and end on their own (Serve checks stopping_).
  for (const std::shared_ptr<Connection>& connection : snapshot) {
    asio::post(connection->Tcp().get_executor(), [connection] {
      if (connection->close_websocket) {
        connection->close_websocket();
      } else if (connection->idle) {
        ErrorCodeT ec;
        connection->Tcp().socket().close(ec);
      }
    });
  }
  {
    std::unique_lock lock(mutex_);
    bool drained = changed_.wait_for(lock, options_.stop_timeout, [this] { return live_.empty(); });
    if (!drained) {
      spdlog::warn("http: stop timed out with {} connections still open", live_.size());
    }
  }
  work_.reset();
  io_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  {
    std::lock_guard lock(mutex_);
    live_.clear();
    state_ = State::kStopped;
  }
  changed_.notify_all();
}

void Server::Impl::Wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return state_ == State::kStopped; });
}

bool Server::Impl::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex_);
  if (stopping_)
    return false;
  live_.insert(connection);
  connection_count_.store(static_cast<int>(live_.size()));
  return true;
}

void Server::Impl::Unregister(const std::shared_ptr<Connection>& connection) {
  {
    std::lock_guard lock(mutex_);
    live_.erase(connection);
    connection_count_.store(static_cast<int>(live_.size()));
  }
  changed_.notify_all();
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), kNoThrow);
    if (stopping_)
      co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
        co_return;
      // EMFILE and friends: back off instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      asio::steady_timer timer(acceptor_strand_, std::chrono::milliseconds(20));
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    if (connection_count_.load() >= options_.max_connections) {
      if (tls_context_) {  // a plain-text 503 means nothing to a TLS client: just close
        ErrorCodeT close_ec;
        socket.close(close_ec);
        continue;
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, Reject(std::move(socket)), &Impl::LogCoroutineError);
      continue;
    }
    auto connection = tls_context_ ? std::make_shared<Connection>(std::move(socket), *tls_context_)
                                   : std::make_shared<Connection>(std::move(socket));
    if (!Register(connection))
      co_return;
    if (connection->tls) {
      asio::co_spawn(connection->Tcp().get_executor(), ServeTls(connection),
                     &Impl::LogCoroutineError);
    } else {
      asio::co_spawn(connection->stream.get_executor(), Serve(connection, connection->stream),
                     &Impl::LogCoroutineError);
    }
  }
}

asio::awaitable<void> Server::Impl::Reject(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Response response = ErrorResponse(503, "too many connections");
  response.headers.Set("Retry-After", "1");
  co_await Send(stream, std::move(response), 11, false, false, false, "-", "-", "-",
                std::chrono::steady_clock::now());
  co_await DrainAndClose(stream);
}

asio::awaitable<void> Server::Impl::ServeTls(std::shared_ptr<Connection> connection) {
  TlsStream& stream = *connection->tls;
  beast::get_lowest_layer(stream).expires_after(options_.idle_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (ec) {
    ErrorCodeT close_ec;
    beast::get_lowest_layer(stream).socket().close(close_ec);
    Unregister(connection);
    co_return;
  }
  co_await Serve(connection, stream);
}

template <typename Stream>
asio::awaitable<void> Server::Impl::DrainAndClose(Stream& stream) {
  ErrorCodeT ec;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    beast::get_lowest_layer(stream).expires_after(kDrainTimeout);
    auto [shutdown_ec] = co_await stream.async_shutdown(kNoThrow);
    (void)shutdown_ec;
    beast::get_lowest_layer(stream).socket().close(ec);
    co_return;
  }
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
  beast::get_lowest_layer(stream).expires_after(kDrainTimeout);
  std::array<char, 16 * 1024> scratch;
  size_t total = 0;
  while (!ec && total < kMaxDrainBytes) {
    auto [read_ec, bytes] = co_await stream.async_read_some(asio::buffer(scratch), kNoThrow);
    ec = read_ec;
    total += bytes;
  }
  beast::get_lowest_layer(stream).socket().close(ec);
}

Response Server::Impl::ErrorResponse(int status, std::string message) {
  if (options_.error_responder) {
    try {
      return options_.error_responder(status, std::move(message));
    } catch (const std::exception& e) {
      spdlog::error("http: error_responder threw: {}", e.what());
    } catch (...) {
      spdlog::error("http: error_responder threw");
    }
    return DefaultErrorResponse(status, "error");
  }
  return DefaultErrorResponse(status, std::move(message));
}

Response Server::Impl::CallHandler(Request& request) {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler threw on {} {}: {}", request.method, request.path, e.what());
  } catch (...) {
    spdlog::error("http: handler threw a non-exception on {} {}", request.method, request.path);
  }
  return ErrorResponse(500, "internal server error");
}

int Server::Impl::DecodeBody(Request& request, std::string& message) {
  std::string_view encoding = request.headers.Get("Content-Encoding");
  if (encoding.empty() || EqualsIgnoreCase(encoding, "identity"))
    return 0;
  if (!EqualsIgnoreCase(encoding, "gzip") && !EqualsIgnoreCase(encoding, "x-gzip")) {
    message = "unsupported Content-Encoding '" + std::string(encoding) + "'";
    return 415;
  }
  core::Result<std::string> decoded = GzipDecompress(request.body, options_.max_body_bytes);
  if (!decoded.has_value()) {
    message = decoded.error().GetMessage();
    return decoded.error().GetHttpStatus();
  }
  request.body = std::move(decoded).value();
  request.headers.Remove("Content-Encoding");
  request.headers.Set("Content-Length", std::to_string(request.body.size()));
  return 0;
}

template <typename Stream>
asio::awaitable<void> Server::Impl::Serve(std::shared_ptr<Connection> connection, Stream& stream) {
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
  ErrorCodeT ec;
  tcp_layer.socket().set_option(tcp::no_delay(true), ec);
  std::string remote;
  tcp::endpoint peer = tcp_layer.socket().remote_endpoint(ec);
  if (!ec)
    remote = peer.address().to_string();
  beast::flat_buffer buffer;
  bool drain = false;
  for (;;) {
    connection->idle = true;
    if (stopping_)
      break;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<size_t>(options_.max_header_bytes, UINT32_MAX)));
    parser.body_limit(options_.max_body_bytes);
    tcp_layer.expires_after(options_.idle_timeout);
    auto [header_ec, header_bytes] =
        co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    connection->idle = false;
    auto start = std::chrono::steady_clock::now();
    ErrorCodeT read_ec = header_ec;
    if (!read_ec && !parser.is_done()) {
      const auto& header = parser.get();
      auto expect = header.find(bhttp::field::expect);
      if (expect != header.end() && EqualsIgnoreCase(expect->value(), "100-continue")) {
        auto [continue_ec, continue_bytes] =
            co_await asio::async_write(stream, asio::buffer(kContinue), kNoThrow);
        read_ec = continue_ec;
      }
      if (!read_ec) {
        tcp_layer.expires_after(options_.idle_timeout);
        auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
        read_ec = body_ec;
      }
    }
    if (read_ec) {
      int status = StatusForReadError(read_ec);
      if (status != 0) {
        std::string message = status == 413   ? "request body too large"
                              : status == 431 ? "request header fields too large"
                                              : "malformed HTTP request: " + read_ec.message();
        co_await Send(stream, ErrorResponse(status, std::move(message)), 11, false, false, false,
                      "-", "-", remote, start);
        drain = true;
      }
      break;
    }

    BeastRequest message = parser.release();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    std::string_view target = request.target;
    size_t question = target.find('?');
    std::string_view raw_path = target.substr(0, question);
    if (question != std::string_view::npos)
      request.query = std::string(target.substr(question + 1));
    for (const auto& field : message) {
      request.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.remote_address = remote;
    bool head = message.method() == bhttp::verb::head;
    bool accepts_gzip = options_.gzip && AcceptsGzip(request.headers.Get("Accept-Encoding"));

    int error_status = 0;
    std::string error_message;
    if (std::optional<std::string> path = core::PercentDecode(raw_path)) {
      request.path = std::move(*path);
      error_status = DecodeBody(request, error_message);
    } else {
      error_status = 400;
      error_message = "malformed percent-encoding in request path";
    }
    if (error_status == 0 && options_.websocket && request.path == options_.websocket_path &&
        beast::websocket::is_upgrade(message)) {
      auto ws_peer = std::make_shared<WebSocketPeerImpl<Stream>>(tcp_layer.get_executor());
      std::shared_ptr<WebSocketSession> session;
      try {
        session = options_.websocket(request, ws_peer);
      } catch (const std::exception& e) {
        spdlog::error("http: websocket acceptor threw: {}", e.what());
      }
      if (session) {
        co_await ServeWebSocket<Stream>(connection, std::move(stream), std::move(message), ws_peer,
                                        session);
        co_return;
      }
      error_status = 403;
      error_message = "websocket refused";
    }
    Response response = error_status != 0 ? ErrorResponse(error_status, std::move(error_message))
                                          : CallHandler(request);
    bool keep_alive = co_await Send(stream, std::move(response), message.version(), head,
                                    message.keep_alive() && error_status == 0, accepts_gzip,
                                    request.method, request.path, remote, start);
    if (!keep_alive)
      break;
  }
  if (drain) {
    co_await DrainAndClose(stream);
  } else {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      tcp_layer.expires_after(kDrainTimeout);
      auto [shutdown_ec] = co_await stream.async_shutdown(kNoThrow);
      (void)shutdown_ec;
    }
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer.socket().close(ec);
  }
  Unregister(connection);
}

template <typename Next>
asio::awaitable<void> Server::Impl::ServeWebSocket(std::shared_ptr<Connection> connection,
                                                   Next next, BeastRequest upgrade,
                                                   std::shared_ptr<WebSocketPeerImpl<Next>> peer,
                                                   std::shared_ptr<WebSocketSession> session) {
  using WsStream = beast::websocket::stream<Next>;
  auto ws = std::make_shared<WsStream>(std::move(next));
  beast::get_lowest_layer(*ws).expires_never();
  ws->set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::server));
  connection->idle = false;
  connection->close_websocket = [peer] { peer->CloseNow(); };
  auto [accept_ec] = co_await ws->async_accept(upgrade, kNoThrow);
  if (!accept_ec && !stopping_) {
    peer->Open(ws);
    for (;;) {
      beast::flat_buffer buffer;
      auto [read_ec, bytes] = co_await ws->async_read(buffer, kNoThrow);
      (void)bytes;
      if (read_ec)
        break;
      try {
        session->OnText(beast::buffers_to_string(buffer.data()));
      } catch (const std::exception& e) {
        spdlog::error("http: websocket session threw: {}", e.what());
        break;
      }
    }
  }
  try {
    session->OnClose();
  } catch (...) {
    spdlog::error("http: websocket session threw on close");
  }
  peer->CloseNow();
  connection->close_websocket = nullptr;
  Unregister(connection);
}

template <typename Stream>
asio::awaitable<bool> Server::Impl::Send(Stream& stream, Response response, unsigned version,
                                         bool head, bool keep_alive, bool accepts_gzip,
                                         std::string_view method, std::string_view path,
                                         std::string_view remote,
                                         std::chrono::steady_clock::time_point start) {
  int status = response.status;
  if (status < 100 || status > 999) {
    spdlog::error("http: handler returned invalid status {} for {} {}", status, method, path);
    response = ErrorResponse(500, "internal server error");
    status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  }
  BeastResponse res;
  res.version(version);
  res.result(static_cast<unsigned>(status));
  bool close = false;
  for (const auto& [name, value] : response.headers) {
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Connection")) {
      close = close || ContainsToken(value, "close");
      continue;
    }
    if (HasLineBreak(name) || HasLineBreak(value) || name.empty()) {
      spdlog::warn("http: dropped response header with a line break on {} {}", method, path);
      continue;
    }
    res.insert(name, value);
  }
  if (!response.headers.Has("Server"))
    res.set(bhttp::field::server, "medalliance");
  if (!response.headers.Has("Date"))
    res.set(bhttp::field::date, HttpDate());

  bool bodyless_status = status < 200 || status == 204 || status == 304;
  std::string body = bodyless_status ? std::string() : std::move(response.body);
  if (options_.gzip && body.size() >= kGzipMinBytes && !response.headers.Has("Content-Encoding")) {
    std::string_view vary = response.headers.Get("Vary");
    if (vary.empty()) {
      res.set(bhttp::field::vary, "Accept-Encoding");
    } else if (!ContainsToken(vary, "Accept-Encoding") && vary != "*") {
      res.set(bhttp::field::vary, std::string(vary) + ", Accept-Encoding");
    }
    if (accepts_gzip) {
      core::Result<std::string> compressed = GzipCompress(body, options_.gzip_level);
      if (compressed.has_value() && compressed->size() < body.size()) {
        body = std::move(compressed).value();
        res.set(bhttp::field::content_encoding, "gzip");
      }
    }
  }
  size_t body_bytes = body.size();
  if (!bodyless_status)
    res.content_length(body_bytes);
  if (!head)
    res.body() = std::move(body);
  keep_alive = keep_alive && !close && !stopping_.load();
  res.keep_alive(keep_alive);

  beast::get_lowest_layer(stream).expires_after(options_.idle_timeout);
  auto [write_ec, written] = co_await bhttp::async_write(stream, res, kNoThrow);
  (void)written;
  if (options_.log_requests && spdlog::should_log(spdlog::level::info)) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    std::string line = "{\"method\":\"";
    AppendJsonEscaped(line, method);
    line += "\",\"path\":\"";
    AppendJsonEscaped(line, path);
    line += fmt::format("\",\"status\":{},\"us\":{},\"bytes\":{},\"remote\":\"", status, micros,
                        head ? 0 : body_bytes);
    AppendJsonEscaped(line, remote);
    line += "\"}";
    spdlog::info("{}", line);
  }
  co_return !write_ec && keep_alive;
}

Server::Server(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() = default;

core::Status Server::Start() {
  return impl_->Start();
}

uint16_t Server::GetPort() const {
  return impl_->GetPort();
}

void Server::Stop() {
  impl_->Stop();
}

void Server::Wait() {
  impl_->Wait();
}

}  // namespace medalliance::api::http
