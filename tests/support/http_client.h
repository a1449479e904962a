#pragma once
// A small synchronous HTTP/1.1 client for tests and benchmarks: one keep-alive connection,
// reopened when the server closed it, per-request timeout, optional gunzip of responses.
// It depends on Beast only in its .cc, so tests include it without Beast's compile cost.
//
// Thread-safety: one HttpClient per thread; an instance is not safe for concurrent use.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace medalliance::test_support {

// Header fields in order, with case-insensitive lookup.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // First value of `name` in any case, or "".
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  void Set(std::string name, std::string value);
  size_t size() const { return fields_.size(); }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

struct Response {
  int status = 0;     // 0 = transport failure; see `error`
  Headers headers;    // as received (Content-Encoding stays even when the body was gunzipped)
  std::string body;   // gunzipped when the client decompresses and the server sent gzip
  std::string error;  // transport error message when status == 0
};

struct HttpClientOptions {
  std::chrono::milliseconds timeout{30000};  // per request: connect, write and read
  bool decompress = true;                    // gunzip Content-Encoding: gzip bodies
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request on the kept-alive connection (opening one when needed) and reads the
  // response. Adds Host, User-Agent and Content-Length unless given in `headers`. A request
  // that fails on a reused connection before any response byte arrives is retried once on a
  // new connection (the server may have closed it while idle).
  Response Send(std::string_view method, std::string_view target, std::string_view body = {},
                const Headers& headers = {});
  Response Get(std::string_view target, const Headers& headers = {}) {
    return Send("GET", target, {}, headers);
  }

  // Writes `bytes` as they are (for malformed requests) on the current or a new connection
  // and reads one response. `head` says the request was HEAD (no body follows).
  Response SendRaw(std::string_view bytes, bool head = false);

  void SetDecompress(bool decompress) { options_.decompress = decompress; }
  // TCP connections opened so far; stays 1 across requests when keep-alive works.
  int GetConnectCount() const { return connect_count_; }
  bool IsConnected() const;
  void Close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  HttpClientOptions options_;
  int connect_count_ = 0;
};

}  // namespace medalliance::test_support
