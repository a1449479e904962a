#include "api/http/server.h"

#include <atomic>
#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "api/http/gzip.h"
#include "support/http_client.h"

namespace medalliance::api::http {
namespace {

using test_support::HttpClient;
using test_support::HttpClientOptions;

std::string BigBody() {
  std::string body = "{\"resourceType\":\"Bundle\",\"entry\":[";
  for (int i = 0; i < 100; ++i) {
    body += "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"" + std::to_string(i) + "\"}},";
  }
  body += "{}]}";
  return body;
}

Response JsonErrorResponder(int status, std::string message) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/fhir+json");
  response.body = "{\"resourceType\":\"OperationOutcome\",\"diagnostics\":\"" + message + "\"}";
  return response;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    options.log_requests = log_requests_;
    if (options.threads == 0)
      options.threads = 2;
    if (!options.error_responder)
      options.error_responder = JsonErrorResponder;
    server_ =
        std::make_unique<Server>(options, [this](Request& request) { return Handle(request); });
    core::Status status = server_->Start();
    ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
    ASSERT_NE(server_->GetPort(), 0);
  }

  void TearDown() override {
    if (server_)
      server_->Stop();
  }

  Response Handle(Request& request) {
    ++calls_;
    Response response;
    if (request.path == "/throw")
      throw std::runtime_error("boom");
    if (request.path == "/big") {
      response.headers.Set("Content-Type", "application/fhir+json");
      response.body = BigBody();
      return response;
    }
    if (request.path == "/slow") {
      slow_entered_.set_value();
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      response.body = "slow done";
      return response;
    }
    if (request.path == "/status") {
      response.status = 201;
      response.headers.Set("Location", "/Patient/1/_history/1");
      return response;
    }
    response.headers.Set("Content-Type", "text/plain");
    response.body = request.method + " " + request.path + " q=" + request.query +
                    " body=" + request.body + " x=" + std::string(request.headers.Get("x-test")) +
                    " ce=" + std::string(request.headers.Get("Content-Encoding"));
    return response;
  }

  HttpClient MakeClient(HttpClientOptions options = {}) {
    return HttpClient("127.0.0.1", server_->GetPort(), options);
  }

  bool log_requests_ = false;
  std::unique_ptr<Server> server_;
  std::atomic<int> calls_{0};
  std::promise<void> slow_entered_;
};

TEST_F(ServerTest, GetAndPostRoundTrip) {
  StartServer();
  HttpClient client = MakeClient();
  auto get =
      client.Send("GET", "/Patient/a%20b?name=J%C3%BCrgen&_count=10", {}, {{"X-Test", "hello"}});
  ASSERT_EQ(get.status, 200) << get.error;
  EXPECT_EQ(get.body, "GET /Patient/a b q=name=J%C3%BCrgen&_count=10 body= x=hello ce=");
  EXPECT_EQ(get.headers.Get("server"), "medalliance");
  EXPECT_FALSE(get.headers.Get("Date").empty());
  EXPECT_EQ(get.headers.Get("content-length"), std::to_string(get.body.size()));

  auto post = client.Send("POST", "/Patient", "{\"resourceType\":\"Patient\"}",
                          {{"Content-Type", "application/fhir+json"}});
  ASSERT_EQ(post.status, 200) << post.error;
  EXPECT_EQ(post.body, "POST /Patient q= body={\"resourceType\":\"Patient\"} x= ce=");

  auto created = client.Send("POST", "/status", "{}");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.headers.Get("LOCATION"), "/Patient/1/_history/1");
}

TEST_F(ServerTest, KeepAliveReusesOneConnectionAcrossManyRequests) {
  StartServer();
  HttpClient client = MakeClient();
  for (int i = 0; i < 300; ++i) {
    auto response = client.Send("GET", "/n/" + std::to_string(i));
    ASSERT_EQ(response.status, 200) << response.error;
    ASSERT_EQ(response.body, "GET /n/" + std::to_string(i) + " q= body= x= ce=");
  }
  EXPECT_EQ(client.GetConnectCount(), 1);
  EXPECT_EQ(calls_.load(), 300);
}

TEST_F(ServerTest, ConnectionCloseRequestClosesTheConnection) {
  StartServer();
  HttpClient client = MakeClient();
  auto response = client.Send("GET", "/", {}, {{"Connection", "close"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.Get("Connection"), "close");
  EXPECT_FALSE(client.IsConnected());
}

TEST_F(ServerTest, BodyOverLimitIsAnswered413ByTheErrorResponder) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  HttpClient client = MakeClient();
  auto ok = client.Send("POST", "/x", std::string(1024, 'a'));
  EXPECT_EQ(ok.status, 200);
  auto too_big = client.Send("POST", "/x", std::string(1025, 'a'));
  EXPECT_EQ(too_big.status, 413) << too_big.error;
  EXPECT_EQ(too_big.headers.Get("Content-Type"), "application/fhir+json");
  EXPECT_NE(too_big.body.find("OperationOutcome"), std::string::npos);
  EXPECT_EQ(calls_.load(), 1);
  // The server closed that connection; the client reconnects transparently.
  auto after = client.Send("GET", "/again");
  EXPECT_EQ(after.status, 200);
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  ServerOptions options;
  options.max_body_bytes = 100;
  StartServer(options);
  HttpClient client = MakeClient();
  std::string chunk(80, 'b');
  std::string raw = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" +
                    chunk + "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n";
  auto response = client.SendRaw(raw);
  EXPECT_EQ(response.status, 413) << response.error;
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, MalformedRequestIs400AndOversizedHeaderIs431) {
  ServerOptions options;
  options.max_header_bytes = 512;
  StartServer(options);
  HttpClient client = MakeClient();
  auto bad = client.SendRaw("GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n");
  EXPECT_EQ(bad.status, 400) << bad.error;
  EXPECT_NE(bad.body.find("malformed"), std::string::npos);
  auto bad_escape = client.Send("GET", "/Patient/%zz");
  EXPECT_EQ(bad_escape.status, 400);
  auto huge = client.Send("GET", "/", {}, {{"X-Big", std::string(1000, 'h')}});
  EXPECT_EQ(huge.status, 431) << huge.error;
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, GzipsLargeResponsesOnlyWhenAsked) {
  StartServer();
  HttpClient raw_client = MakeClient({.decompress = false});
  auto gzipped = raw_client.Send("GET", "/big", {}, {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(gzipped.status, 200);
  EXPECT_EQ(gzipped.headers.Get("Content-Encoding"), "gzip");
  EXPECT_EQ(gzipped.headers.Get("Vary"), "Accept-Encoding");
  EXPECT_LT(gzipped.body.size(), BigBody().size() / 3);
  auto unzipped = GzipDecompress(gzipped.body, 1 << 20);
  ASSERT_TRUE(unzipped.has_value());
  EXPECT_EQ(unzipped.value(), BigBody());

  auto plain = raw_client.Send("GET", "/big");
  EXPECT_FALSE(plain.headers.Has("Content-Encoding"));
  EXPECT_EQ(plain.body, BigBody());
  auto refused = raw_client.Send("GET", "/big", {}, {{"Accept-Encoding", "gzip;q=0, identity"}});
  EXPECT_FALSE(refused.headers.Has("Content-Encoding"));

  auto small = raw_client.Send("GET", "/small", {}, {{"Accept-Encoding", "gzip"}});
  EXPECT_FALSE(small.headers.Has("Content-Encoding"));

  HttpClient decoding_client = MakeClient();
  auto decoded = decoding_client.Send("GET", "/big", {}, {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(decoded.headers.Get("Content-Encoding"), "gzip");
  EXPECT_EQ(decoded.body, BigBody());
}

TEST_F(ServerTest, GzipOffNeverCompresses) {
  ServerOptions options;
  options.gzip = false;
  StartServer(options);
  HttpClient client = MakeClient({.decompress = false});
  auto response = client.Send("GET", "/big", {}, {{"Accept-Encoding", "gzip"}});
  EXPECT_FALSE(response.headers.Has("Content-Encoding"));
  EXPECT_EQ(response.body, BigBody());
}

TEST_F(ServerTest, AcceptsGzipRequestBodies) {
  ServerOptions options;
  options.max_body_bytes = 4096;
  StartServer(options);
  HttpClient client = MakeClient();
  std::string body = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Chalmers\"}]}";
  auto compressed = GzipCompress(body);
  ASSERT_TRUE(compressed.has_value());
  auto response =
      client.Send("POST", "/Patient", compressed.value(), {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(response.status, 200) << response.error;
  EXPECT_EQ(response.body, "POST /Patient q= body=" + body + " x= ce=");

  // Small on the wire, too big once inflated: the limit applies to the decompressed size.
  auto bomb = GzipCompress(std::string(10000, 'z'));
  ASSERT_TRUE(bomb.has_value());
  ASSERT_LT(bomb->size(), 4096u);
  auto too_big = client.Send("POST", "/Patient", bomb.value(), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(too_big.status, 413);

  auto corrupt = client.Send("POST", "/Patient", "not gzip at all", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(corrupt.status, 400);
  auto unknown = client.Send("POST", "/Patient", body, {{"Content-Encoding", "br"}});
  EXPECT_EQ(unknown.status, 415);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, HeadOmitsBodyButKeepsContentLength) {
  StartServer();
  HttpClient client = MakeClient({.decompress = false});
  auto get = client.Send("GET", "/big");
  auto head = client.Send("HEAD", "/big");
  ASSERT_EQ(head.status, 200) << head.error;
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.headers.Get("Content-Length"), std::to_string(get.body.size()));
  auto head_gzip = client.Send("HEAD", "/big", {}, {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(head_gzip.headers.Get("Content-Encoding"), "gzip");
  EXPECT_TRUE(head_gzip.body.empty());
  // The connection is still in sync after the bodiless responses.
  auto after = client.Send("GET", "/after");
  EXPECT_EQ(after.body, "GET /after q= body= x= ce=");
  EXPECT_EQ(client.GetConnectCount(), 1);
}

TEST_F(ServerTest, HandlerExceptionBecomes500FromTheErrorResponder) {
  StartServer();
  HttpClient client = MakeClient();
  auto response = client.Send("GET", "/throw");
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.body.find("OperationOutcome"), std::string::npos);
  auto next = client.Send("GET", "/fine");
  EXPECT_EQ(next.status, 200);
}

TEST_F(ServerTest, DefaultErrorResponderAnswersPlainText) {
  server_ = std::make_unique<Server>(ServerOptions{.port = 0, .threads = 1, .log_requests = false},
                                     [](Request&) -> Response { throw 42; });
  ASSERT_TRUE(server_->Start().has_value());
  HttpClient client = MakeClient();
  auto response = client.Send("GET", "/");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.headers.Get("Content-Type"), "text/plain; charset=utf-8");
}

TEST_F(ServerTest, StopLetsAnInFlightRequestFinish) {
  StartServer();
  auto done = std::async(std::launch::async, [this] {
    HttpClient client = MakeClient();
    return client.Send("GET", "/slow");
  });
  ASSERT_EQ(slow_entered_.get_future().wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  auto stop_took = std::chrono::steady_clock::now() - start;
  auto response = done.get();
  EXPECT_EQ(response.status, 200) << response.error;
  EXPECT_EQ(response.body, "slow done");
  EXPECT_EQ(response.headers.Get("Connection"), "close");
  EXPECT_GE(stop_took, std::chrono::milliseconds(200));
  HttpClient late = MakeClient({.timeout = std::chrono::milliseconds(2000)});
  EXPECT_EQ(late.Send("GET", "/").status, 0);
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnectionsPromptly) {
  StartServer();
  HttpClient client = MakeClient();
  ASSERT_EQ(client.Send("GET", "/").status, 200);
  ASSERT_TRUE(client.IsConnected());
  auto start = std::chrono::steady_clock::now();
  std::thread waiter([this] { server_->Wait(); });
  server_->Stop();
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(ServerTest, ServesConcurrentClients) {
  ServerOptions options;
  options.threads = 4;
  StartServer(options);
  constexpr int kThreads = 8;
  constexpr int kRequests = 150;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &ok] {
      HttpClient client = MakeClient();
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto response = client.Send("POST", "/c", body);
        if (response.status == 200 && response.body == "POST /c q= body=" + body + " x= ce=") {
          ++ok;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(calls_.load(), kThreads * kRequests);
}

TEST_F(ServerTest, RejectsConnectionsOverTheLimitWith503) {
  ServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  HttpClient first = MakeClient();
  ASSERT_EQ(first.Send("GET", "/").status, 200);
  HttpClient second = MakeClient();
  auto rejected = second.Send("GET", "/");
  EXPECT_EQ(rejected.status, 503) << rejected.error;
  EXPECT_EQ(rejected.headers.Get("Retry-After"), "1");
  first.Close();
  // Closing is asynchronous on the server side; retry briefly.
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = second.Send("GET", "/").status;
  }
  EXPECT_EQ(status, 200);
}

TEST_F(ServerTest, StartFailsWhenThePortIsTaken) {
  StartServer();
  Server other(ServerOptions{.port = server_->GetPort(), .threads = 1},
               [](Request&) { return Response{}; });
  core::Status status = other.Start();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnavailable);
}

TEST_F(ServerTest, LogsOneJsonLinePerRequestOnlyWhenEnabled) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));

  log_requests_ = true;
  StartServer();
  HttpClient client = MakeClient();
  ASSERT_EQ(client.Send("GET", "/Patient/1?x=\"y\"").status, 200);
  server_->Stop();
  std::string with_logging = captured.str();
  captured.str("");

  log_requests_ = false;
  StartServer();
  HttpClient quiet = MakeClient();
  ASSERT_EQ(quiet.Send("GET", "/Patient/2").status, 200);
  server_->Stop();
  std::string without_logging = captured.str();
  spdlog::set_default_logger(previous);

  EXPECT_NE(with_logging.find("{\"method\":\"GET\",\"path\":\"/Patient/1\",\"status\":200,\"us\":"),
            std::string::npos)
      << with_logging;
  EXPECT_NE(with_logging.find("\"remote\":\"127.0.0.1\"}"), std::string::npos) << with_logging;
  EXPECT_EQ(without_logging.find("/Patient/2"), std::string::npos) << without_logging;
}

}  // namespace
}  // namespace medalliance::api::http
