// FHIR Subscriptions over HTTP against the real server: a rest-hook receiver that fails and
// recovers, a kill -9 between commit and delivery, websocket bind/ping, and the access rules
// (with authentication on, another member's patient data notifies nothing).

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/jose.h"
#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

// A minimal HTTP/1.1 receiver on 127.0.0.1 for rest-hook notifications: answers the queued
// statuses first, then 200, and records each request.
class Receiver {
 public:
  struct Received {
    std::string path;
    std::string head;
    std::string body;
  };

  explicit Receiver(uint16_t port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 64), 0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t Port() const { return port_; }
  void FailFirst(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_ = std::move(statuses);
  }
  std::vector<Received> Requests() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int Answered() const { return answered_.load(); }
  bool WaitFor(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Requests().size() >= count)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Requests().size() >= count;
  }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0)
        continue;
      int client = accept(fd_, nullptr, nullptr);
      if (client < 0)
        continue;
      Serve(client);
      close(client);
    }
  }
  void Serve(int client) {
    std::string data;
    char buffer[4096];
    size_t header_end = std::string::npos;
    while (header_end == std::string::npos) {
      ssize_t n = read(client, buffer, sizeof(buffer));
      if (n <= 0)
        return;
      data.append(buffer, static_cast<size_t>(n));
      header_end = data.find("\r\n\r\n");
    }
    std::string head = data.substr(0, header_end);
    size_t length = 0;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (size_t at = lower.find("content-length:"); at != std::string::npos)
      length = std::stoul(head.substr(at + 15));
    while (data.size() < header_end + 4 + length) {
      ssize_t n = read(client, buffer, sizeof(buffer));
      if (n <= 0)
        return;
      data.append(buffer, static_cast<size_t>(n));
    }
    int status = 200;
    {
      std::lock_guard lock(mutex_);
      ++answered_;  // before the request is listed, so that a waiter sees both
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.erase(statuses_.begin());
      } else {
        size_t space = head.find(' ');
        received_.push_back({head.substr(space + 1, head.find(' ', space + 1) - space - 1), head,
                             data.substr(header_end + 4, length)});
      }
    }
    std::string answer = "HTTP/1.1 " + std::to_string(status) +
                         " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(client, answer.data(), answer.size());
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::mutex mutex_;
  std::vector<int> statuses_;
  std::vector<Received> received_;
  std::thread thread_;
};

// A raw WebSocket client (RFC 6455, text frames under 126 bytes are enough here).
class WsClient {
 public:
  WsClient(uint16_t port, const std::string& target) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    std::string request = "GET " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
    (void)!write(fd_, request.data(), request.size());
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && ReadExact(&c, 1, 5000)) head += c;
    status_line_ = head.substr(0, head.find("\r\n"));
  }
  ~WsClient() { close(fd_); }
  bool Upgraded() const { return connected_ && status_line_.find(" 101 ") != std::string::npos; }
  const std::string& StatusLine() const { return status_line_; }
  void SendText(const std::string& text) {
    std::string frame;
    frame += static_cast<char>(0x81);
    frame += static_cast<char>(0x80 | text.size());
    frame.append(4, '\0');  // mask key 0: the payload is sent as is
    frame += text;
    (void)!write(fd_, frame.data(), frame.size());
  }
  // The next text message, or "" after `timeout_ms`.
  std::string ReadText(int timeout_ms = 5000) {
    unsigned char header[2];
    if (!ReadExact(reinterpret_cast<char*>(header), 2, timeout_ms))
      return "";
    size_t length = header[1] & 0x7f;
    if (length == 126) {
      unsigned char extended[2];
      if (!ReadExact(reinterpret_cast<char*>(extended), 2, timeout_ms))
        return "";
      length = (static_cast<size_t>(extended[0]) << 8) | extended[1];
    }
    std::string payload(length, '\0');
    if (length > 0 && !ReadExact(payload.data(), length, timeout_ms))
      return "";
    return payload;
  }

 private:
  bool ReadExact(char* out, size_t count, int timeout_ms) {
    size_t done = 0;
    while (done < count) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0)
        return false;
      ssize_t n = read(fd_, out + done, count - done);
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string status_line_;
};

std::string RestHookSubscription(const std::string& criteria, uint16_t port,
                                 const std::string& path) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"referrals",)"
         R"("criteria":")" +
         criteria + R"(","channel":{"type":"rest-hook","endpoint":"http://127.0.0.1:)" +
         std::to_string(port) + path +
         R"(","payload":"application/fhir+json","header":["X-Hook-Secret: s3cret"]}})";
}

std::string TaskFor(const std::string& owner) {
  return R"({"resourceType":"Task","status":"requested","intent":"order","owner":{"reference":")" +
         owner + R"("}})";
}

class SubscriptionServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream config(dir_.Path() / "server.conf");
    config << "subscription-backoff-ms = 150\nsubscription-max-backoff-ms = 400\n";
  }
  std::filesystem::path Db() const { return dir_.Path() / "subs.db"; }
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    extra.push_back("--config");
    extra.push_back((dir_.Path() / "server.conf").string());
    return extra;
  }
  std::string Create(HttpClient& client, const std::string& type, const std::string& body,
                     const Headers& headers = FhirJson()) {
    Response response = client.Send("POST", "/" + type, body, headers);
    EXPECT_EQ(response.status, 201) << response.body;
    return ParseBody(response).value("id", "");
  }

  TempDir dir_;
};

TEST_F(SubscriptionServerTest, RestHookIsRetriedUntilTheReceiverRecovers) {
  Receiver receiver;
  receiver.FailFirst({500, 503});
  TestServer server(Db(), Args());
  HttpClient client("127.0.0.1", server.Port());
  std::string subscription =
      Create(client, "Subscription",
             RestHookSubscription("Task?owner=Organization/sz-heart", receiver.Port(), "/hook"));
  EXPECT_EQ(ParseBody(client.Get("/Subscription/" + subscription))["status"], "active");
  std::string task = Create(client, "Task", TaskFor("Organization/sz-heart"));
  Create(client, "Task", TaskFor("Organization/gz-central"));  // not matching
  ASSERT_TRUE(receiver.WaitFor(1)) << server.Process().GetOutput();
  EXPECT_EQ(receiver.Answered(), 3);  // 500, 503, then 200
  Receiver::Received received = receiver.Requests()[0];
  EXPECT_EQ(received.path, "/hook");
  EXPECT_NE(received.head.find("X-Hook-Secret: s3cret"), std::string::npos) << received.head;
  EXPECT_NE(received.head.find("X-Subscription-Id: " + subscription), std::string::npos);
  Json bundle = Json::parse(received.body);
  EXPECT_EQ(bundle["type"], "history");
  EXPECT_EQ(bundle["entry"][0]["resource"]["id"], task);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(receiver.Requests().size(), 1u);  // delivered once: the non-matching Task sent nothing
}

TEST_F(SubscriptionServerTest, KillBetweenCommitAndDeliveryStillDeliversAfterRestart) {
  uint16_t port = 0;
  {
    Receiver probe;  // a free port nobody listens on until the restart
    port = probe.Port();
  }
  std::string task;
  {
    TestServer server(Db(), Args());
    HttpClient client("127.0.0.1", server.Port());
    Create(client, "Subscription", RestHookSubscription("Task", port, "/after-restart"));
    task = Create(client, "Task", TaskFor("Organization/sz-heart"));
    ASSERT_TRUE(server.Process().Kill(SIGKILL));
    auto status = server.Process().Wait();
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->signal, SIGKILL);
  }
  Receiver receiver(port);
  TestServer restarted(Db(), Args());
  ASSERT_TRUE(receiver.WaitFor(1)) << restarted.Process().GetOutput();
  Json bundle = Json::parse(receiver.Requests()[0].body);
  EXPECT_EQ(bundle["entry"][0]["resource"]["id"], task);
  EXPECT_EQ(receiver.Requests()[0].path, "/after-restart");
}

TEST_F(SubscriptionServerTest, WebSocketBindsAndReceivesPings) {
  TestServer server(Db(), Args());
  HttpClient client("127.0.0.1", server.Port());
  std::string subscription = Create(
      client, "Subscription",
      R"({"resourceType":"Subscription","status":"requested","reason":"board","criteria":"Task?status=requested","channel":{"type":"websocket"}})");
  Json metadata = ParseBody(client.Get("/metadata"));
  EXPECT_EQ(metadata["rest"][0]["extension"][0]["valueUri"], "ws://localhost/websocket");
  bool listed = false;
  for (const Json& resource : metadata["rest"][0]["resource"]) {
    listed = listed || (resource["type"] == "Subscription" &&
                        resource.value("documentation", "").find("rest-hook, websocket") !=
                            std::string::npos);
  }
  EXPECT_TRUE(listed);
  WsClient ws(server.Port(), "/websocket");
  ASSERT_TRUE(ws.Upgraded()) << ws.StatusLine();
  ws.SendText("bind nothing-here");
  EXPECT_EQ(ws.ReadText(), "error nothing-here not found");
  ws.SendText("bind " + subscription);
  EXPECT_EQ(ws.ReadText(), "bound " + subscription);
  Create(client, "Task", TaskFor("Organization/sz-heart"));
  EXPECT_EQ(ws.ReadText(), "ping " + subscription);
  Create(client, "Task",
         R"({"resourceType":"Task","status":"draft","intent":"order"})");  // not matching
  EXPECT_EQ(ws.ReadText(300), "");
}

// With authentication on: a member's subscription that matches another member's patient data
// (no treatment relationship) delivers nothing; the data's own member is notified.
class SubscriptionAuthTest : public SubscriptionServerTest {
 protected:
  static const auth::KeyPair& Key() {
    static const auth::KeyPair kKey = *auth::GenerateKeyPair("ES384", "subs-key");
    return kKey;
  }
  void AddClient(const std::string& id, const std::string& organization) {
    fhir::Json jwks = fhir::Json::MakeObject();
    jwks.Set("keys", fhir::Json::MakeArray()).PushBack(Key().public_jwk);
    std::string output;
    ASSERT_EQ(RunProgram(
                  {"client", "add", "--db", Db().string(), "--id", id, "--organization",
                   organization, "--jwks-json", fhir::WriteJson(jwks), "--scope", "system/*.cruds"},
                  &output),
              0)
        << output;
  }
  std::string Token(HttpClient& client, const std::string& id) {
    fhir::Json header = fhir::Json::MakeObject();
    header.Set("alg", fhir::Json::MakeString("ES384"));
    header.Set("kid", fhir::Json::MakeString("subs-key"));
    fhir::Json claims = fhir::Json::MakeObject();
    claims.Set("iss", fhir::Json::MakeString(id));
    claims.Set("sub", fhir::Json::MakeString(id));
    claims.Set("aud", fhir::Json::MakeString("http://localhost/auth/token"));
    claims.Set("exp", fhir::Json::MakeNumber(static_cast<int64_t>(time(nullptr)) + 200));
    claims.Set("jti", fhir::Json::MakeString(id + "-" + std::to_string(++jti_)));
    auto jws = auth::SignJws(header, claims, Key().private_pem);
    EXPECT_TRUE(jws.has_value());
    std::string form =
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
        "client-assertion-type%3Ajwt-bearer&client_assertion=" +
        *jws + "&scope=system%2F*.cruds";
    Response response = client.Send("POST", "/auth/token", form,
                                    {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(response.status, 200) << response.body;
    return ParseBody(response).value("access_token", "");
  }
  static Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/fhir+json"}};
  }
  int jti_ = 0;
};

TEST_F(SubscriptionAuthTest, AnotherMembersPatientDataNotifiesNothing) {
  AddClient("gz-his", "Organization/gz-central");
  AddClient("sz-his", "Organization/sz-heart");
  Receiver receiver;
  TestServer server(Db(), Args({"--auth", "smart"}));
  HttpClient client("127.0.0.1", server.Port());
  std::string gz = Token(client, "gz-his");
  std::string sz = Token(client, "sz-his");
  ASSERT_FALSE(gz.empty());
  ASSERT_FALSE(sz.empty());
  std::string sz_subscription = Create(
      client, "Subscription",
      RestHookSubscription("Observation?code=http://loinc.org|2345-7", receiver.Port(), "/sz"),
      Bearer(sz));
  Create(client, "Subscription",
         RestHookSubscription("Observation?code=http://loinc.org|2345-7", receiver.Port(), "/gz"),
         Bearer(gz));
  // Another member's subscription is invisible, as any of its records.
  EXPECT_EQ(client.Get("/Subscription/" + sz_subscription, Bearer(gz)).status, 404);
  std::string patient =
      Create(client, "Patient", R"({"resourceType":"Patient","gender":"male"})", Bearer(gz));
  Create(
      client, "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"subject":{"reference":"Patient/)" +
          patient + R"("},"valueQuantity":{"value":5.6,"unit":"mmol/L"}})",
      Bearer(gz));
  ASSERT_TRUE(receiver.WaitFor(1)) << server.Process().GetOutput();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<Receiver::Received> received = receiver.Requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/gz");

  // A websocket bind needs a token, and only the owner member may bind.
  WsClient anonymous(server.Port(), "/websocket");
  EXPECT_FALSE(anonymous.Upgraded()) << anonymous.StatusLine();
  std::string ws_subscription = Create(
      client, "Subscription",
      R"({"resourceType":"Subscription","status":"requested","reason":"x","criteria":"Task","channel":{"type":"websocket"}})",
      Bearer(sz));
  WsClient other(server.Port(), "/websocket?access_token=" + gz);
  ASSERT_TRUE(other.Upgraded()) << other.StatusLine();
  other.SendText("bind " + ws_subscription);
  EXPECT_EQ(other.ReadText(), "error " + ws_subscription + " not found");
  WsClient owner(server.Port(), "/websocket?access_token=" + sz);
  ASSERT_TRUE(owner.Upgraded()) << owner.StatusLine();
  owner.SendText("bind " + ws_subscription);
  EXPECT_EQ(owner.ReadText(), "bound " + ws_subscription);
}

}  // namespace
}  // namespace medalliance::integration
