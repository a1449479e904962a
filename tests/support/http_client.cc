#include "support/http_client.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <zlib.h>

namespace medalliance::test_support {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCodeT = boost::system::error_code;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

std::optional<std::string> Gunzip(std::string_view data) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK)
    return std::nullopt;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    size_t used = out.size();
    out.resize(used + std::max<size_t>(16384, data.size() * 4));
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    stream.avail_out = static_cast<uInt>(out.size() - used);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
    if (rc == Z_BUF_ERROR && stream.avail_in > 0)
      rc = Z_OK;  // output was full
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END)
    return std::nullopt;
  return out;
}

}  // namespace

std::string_view Headers::Get(std::string_view name) const {
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(field.first, name))
      return field.second;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [name](const Field& field) { return EqualsIgnoreCase(field.first, name); });
}

void Headers::Set(std::string name, std::string value) {
  fields_.erase(
      std::remove_if(fields_.begin(), fields_.end(),
                     [&name](const Field& field) { return EqualsIgnoreCase(field.first, name); }),
      fields_.end());
  fields_.emplace_back(std::move(name), std::move(value));
}

class HttpClient::Impl {
 public:
  Impl(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

  // Runs queued operations until they complete; the tcp_stream deadline bounds them.
  void Run() {
    io_.restart();
    io_.run();
  }

  ErrorCodeT Connect(std::chrono::milliseconds timeout) {
    Close();
    stream_.emplace(io_);
    buffer_.clear();
    ErrorCodeT ec;
    asio::ip::address address = asio::ip::make_address(host_, ec);
    tcp::endpoint endpoint;
    if (ec) {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(host_, std::to_string(port_), ec);
      if (ec)
        return ec;
      endpoint = results.begin()->endpoint();
    } else {
      endpoint = tcp::endpoint(address, port_);
    }
    stream_->expires_after(timeout);
    stream_->async_connect(endpoint, [&ec](ErrorCodeT result) { ec = result; });
    Run();
    if (!ec)
      stream_->socket().set_option(tcp::no_delay(true), ec);
    if (ec)
      Close();
    return ec;
  }

  ErrorCodeT Write(std::string_view bytes, std::chrono::milliseconds timeout) {
    ErrorCodeT ec;
    stream_->expires_after(timeout);
    asio::async_write(*stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&ec](ErrorCodeT result, size_t) { ec = result; });
    Run();
    return ec;
  }

  // Reads one response; `got_bytes` tells whether any response byte arrived.
  ErrorCodeT Read(bool head, std::chrono::milliseconds timeout, Response& response, bool& got_bytes,
                  bool& keep_alive) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(1024 * 1024);
    if (head)
      parser.skip(true);
    ErrorCodeT ec;
    size_t before = buffer_.size();
    stream_->expires_after(timeout);
    bhttp::async_read(*stream_, buffer_, parser, [&ec](ErrorCodeT result, size_t) { ec = result; });
    Run();
    got_bytes = before > 0 || parser.got_some();
    if (ec)
      return ec;
    auto message = parser.release();
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());
    keep_alive = message.keep_alive();
    return ec;
  }

  bool IsOpen() const { return stream_.has_value() && stream_->socket().is_open(); }

  void Close() {
    if (stream_) {
      ErrorCodeT ec;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_->socket().close(ec);
      stream_.reset();
    }
    buffer_.clear();
  }

 private:
  std::string host_;
  uint16_t port_;
  asio::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(host), port)), options_(options) {}

HttpClient::~HttpClient() = default;

bool HttpClient::IsConnected() const {
  return impl_->IsOpen();
}

void HttpClient::Close() {
  impl_->Close();
}

Response HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                          const Headers& headers) {
  std::string bytes;
  bytes.reserve(256 + body.size());
  bytes.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!headers.Has("Host"))
    bytes.append("Host: localhost\r\n");
  if (!headers.Has("User-Agent"))
    bytes.append("User-Agent: medalliance-test\r\n");
  bool has_length = headers.Has("Content-Length") || headers.Has("Transfer-Encoding");
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
    bytes.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  for (const auto& [name, value] : headers)
    bytes.append(name).append(": ").append(value).append("\r\n");
  bytes.append("\r\n").append(body);
  return SendRaw(bytes, method == "HEAD");
}

Response HttpClient::SendRaw(std::string_view bytes, bool head) {
  Response response;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->IsOpen();
    if (!reused) {
      if (ErrorCodeT ec = impl_->Connect(options_.timeout); ec) {
        response.error = "connect: " + ec.message();
        return response;
      }
      ++connect_count_;
    }
    ErrorCodeT ec = impl_->Write(bytes, options_.timeout);
    bool got_bytes = false;
    bool keep_alive = false;
    if (!ec)
      ec = impl_->Read(head, options_.timeout, response, got_bytes, keep_alive);
    if (ec) {
      impl_->Close();
      response = Response{};
      response.error = ec.message();
      if (reused && !got_bytes && ec != beast::error::timeout)
        continue;  // stale keep-alive
      return response;
    }
    if (!keep_alive)
      impl_->Close();
    if (options_.decompress && EqualsIgnoreCase(response.headers.Get("Content-Encoding"), "gzip")) {
      std::optional<std::string> plain = Gunzip(response.body);
      if (!plain) {
        response.status = 0;
        response.error = "corrupt gzip response body";
        return response;
      }
      response.body = std::move(*plain);
    }
    return response;
  }
  return response;
}

}  // namespace medalliance::test_support
