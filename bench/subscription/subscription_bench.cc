// Subscription notification latency (issue 7 benchmark: "notification delivered at most
// 100 ms after commit at p99, with many referrals moving concurrently").
//
//   build/bench/subscription/subscription_bench [tasks=1000] [threads=8] [synchronous=full]
//
// Self-contained: starts `medalliance serve --auth none` on a free loopback port with a fresh
// temporary database (removed afterwards) and a rest-hook receiver in this process (4
// threads, answers 200). One Subscription `Task?owner=Organization/sz-heart` (full payload).
// Phase 1 creates `tasks` referral Tasks, phase 2 updates each (requested -> accepted), both
// from `threads` client threads over keep-alive HTTP; every write matches, so 2 x tasks
// notifications. For each notification (identified by Task id and versionId in the Bundle):
//   response->delivery: receipt time minus the time the writer got its 2xx (the commit is
//                       before the response; negative when the notification came first);
//   send->delivery:     receipt time minus the time the write was sent (an upper bound of
//                       commit -> delivery, including the write itself).
// Prints p50/p90/p99/max of both, writes/s, and the load average.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/server_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using medalliance::test_support::HttpClient;
using medalliance::test_support::ServerProcess;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

std::string Between(const std::string& text, const std::string& before, size_t from = 0) {
  size_t at = text.find(before, from);
  if (at == std::string::npos)
    return {};
  at += before.size();
  return text.substr(at, text.find('"', at) - at);
}

// Rest-hook receiver: records (Task id, version) -> receipt time.
class Receiver {
 public:
  Receiver() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, 256);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    for (int i = 0; i < 4; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Receiver() {
    stop_ = true;
    for (auto& thread : threads_) thread.join();
    close(fd_);
  }
  uint16_t Port() const { return port_; }
  size_t Count() {
    std::lock_guard lock(mutex_);
    return received_.size();
  }
  std::map<std::string, Clock::time_point> Received() {
    std::lock_guard lock(mutex_);
    return received_;
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
    char buffer[16384];
    size_t header_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      ssize_t n = read(client, buffer, sizeof(buffer));
      if (n <= 0)
        return;
      data.append(buffer, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos)
          continue;
        std::string lower = data.substr(0, header_end);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t at = lower.find("content-length:");
        if (at != std::string::npos)
          length = std::stoul(lower.substr(at + 15));
      }
      if (data.size() >= header_end + 4 + length)
        break;
    }
    Clock::time_point now = Clock::now();
    std::string body = data.substr(header_end + 4);
    size_t resource = body.find("\"resource\":");
    std::string key =
        Between(body, "\"id\":\"", resource) + "/" + Between(body, "\"versionId\":\"", resource);
    static const std::string kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    (void)!write(client, kAnswer.data(), kAnswer.size());
    std::lock_guard lock(mutex_);
    received_.emplace(key, now);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> received_;
  std::vector<std::thread> threads_;
};

struct Write {
  Clock::time_point sent;
  Clock::time_point answered;
};

}  // namespace

int main(int argc, char** argv) {
  int tasks = argc > 1 ? std::atoi(argv[1]) : 1000;
  int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  std::string synchronous = argc > 3 ? argv[3] : "full";
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("subscription-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Receiver receiver;
  int status = 0;
  {
    ServerProcess server(MA_BINARY,
                         {"serve", "--listen", "127.0.0.1:0", "--db", (dir / "bench.db").string(),
                          "--quiet", "--auth", "none", "--synchronous", synchronous});
    if (auto started = server.Start(); !started) {
      std::fprintf(stderr, "server did not start: %s\n", started.error().GetMessage().c_str());
      return 1;
    }
    medalliance::test_support::Headers json = {{"Content-Type", "application/fhir+json"}};
    HttpClient setup("127.0.0.1", server.GetPort());
    auto subscribed = setup.Send(
        "POST", "/Subscription",
        R"({"resourceType":"Subscription","status":"requested","reason":"bench","criteria":"Task?owner=Organization/sz-heart","channel":{"type":"rest-hook","endpoint":"http://127.0.0.1:)" +
            std::to_string(receiver.Port()) + R"(/hook","payload":"application/fhir+json"}})",
        json);
    if (subscribed.status != 201) {
      std::fprintf(stderr, "subscription refused: %s\n", subscribed.body.c_str());
      return 1;
    }
    std::vector<std::string> ids(static_cast<size_t>(tasks));
    std::mutex writes_mutex;
    std::map<std::string, Write> writes;
    auto run_phase = [&](bool create) {
      std::atomic<int> next{0};
      std::vector<std::thread> workers;
      auto start = Clock::now();
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
          HttpClient client("127.0.0.1", server.GetPort());
          for (int i = next++; i < tasks; i = next++) {
            std::string body =
                R"({"resourceType":"Task",)" +
                (create ? std::string() : R"("id":")" + ids[static_cast<size_t>(i)] + R"(",)") +
                R"("status":")" + (create ? "requested" : "accepted") +
                R"(","intent":"order","owner":{"reference":"Organization/sz-heart"},"requester":{"reference":"Organization/gz-central"}})";
            Write write;
            write.sent = Clock::now();
            auto response =
                create ? client.Send("POST", "/Task", body, json)
                       : client.Send("PUT", "/Task/" + ids[static_cast<size_t>(i)], body, json);
            write.answered = Clock::now();
            if (response.status != 200 && response.status != 201) {
              std::fprintf(stderr, "write refused (%d): %s\n", response.status,
                           response.body.substr(0, 300).c_str());
              continue;
            }
            std::string id =
                create ? Between(response.body, "\"id\":\"") : ids[static_cast<size_t>(i)];
            if (create)
              ids[static_cast<size_t>(i)] = id;
            std::lock_guard lock(writes_mutex);
            writes[id + "/" + (create ? "1" : "2")] = write;
          }
        });
      }
      for (auto& worker : workers) worker.join();
      return Millis(Clock::now() - start);
    };
    double create_ms = run_phase(true);
    double update_ms = run_phase(false);
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (receiver.Count() < writes.size() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto received = receiver.Received();
    std::vector<double> from_response;
    std::vector<double> from_send;
    int negative = 0;
    for (const auto& [key, write] : writes) {
      auto it = received.find(key);
      if (it == received.end())
        continue;
      double after_response = Millis(it->second - write.answered);
      negative += after_response < 0 ? 1 : 0;
      from_response.push_back(std::max(0.0, after_response));
      from_send.push_back(Millis(it->second - write.sent));
    }
    std::printf(
        "writes: %zu (%d creates in %.0f ms = %.0f/s, %d updates in %.0f ms = %.0f/s), "
        "%d client threads, synchronous=%s\n",
        writes.size(), tasks, create_ms, tasks * 1000.0 / create_ms, tasks, update_ms,
        tasks * 1000.0 / update_ms, threads, synchronous.c_str());
    std::printf("delivered: %zu of %zu (%zu distinct)\n", from_send.size(), writes.size(),
                received.size());
    std::printf(
        "response->delivery ms: p50=%.2f p90=%.2f p99=%.2f max=%.2f (%d before the "
        "response, counted 0)\n",
        Percentile(from_response, 0.5), Percentile(from_response, 0.9),
        Percentile(from_response, 0.99), Percentile(from_response, 1.0), negative);
    std::printf("send->delivery ms:     p50=%.2f p90=%.2f p99=%.2f max=%.2f\n",
                Percentile(from_send, 0.5), Percentile(from_send, 0.9), Percentile(from_send, 0.99),
                Percentile(from_send, 1.0));
    if (from_send.size() != writes.size())
      status = 2;
  }
  std::ifstream load("/proc/loadavg");
  std::string loadavg;
  std::getline(load, loadavg);
  std::printf("load average: %s\n", loadavg.c_str());
  std::filesystem::remove_all(dir);
  return status;
}
