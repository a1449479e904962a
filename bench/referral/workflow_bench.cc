// Referral workflow: N referrals moving through the whole workflow concurrently, in process
// (RestService over a SQLite file, as `serve` wires it, without HTTP). Self-contained: it
// builds its own data in a fresh database file and removes it at the end.
//
//   referral_workflow_bench [referrals=1000] [workers=8] [db=/tmp/referral-bench.db]
//                           [synchronous=full|normal]
//
// e.g.  for w in 1 8 32; do build/bench/referral/referral_workflow_bench 1000 $w; done
//
// Each referral: POST ServiceRequest (direction hook), POST Task (state machine), then JSON
// Patch of Task.status requested → received → accepted → in-progress (Encounter opened) →
// completed (Encounter finished, ServiceRequest completed), each hook-made write audited like
// the request's own. `workers` threads take the next referral until all are done. Prints
// p50/p90/p99/max per transition and for all four, per create, transitions/s, the store's
// group-commit counters (commits, writes per commit) and the load average (/proc/loadavg).
// synchronous=full (the server's default: fsync at every commit) unless told otherwise.

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

#include "cli/wiring.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using medalliance::api::rest::FhirRequest;
using medalliance::api::rest::FhirResponse;

double Percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

FhirResponse Send(const medalliance::api::rest::RestService& service, const std::string& method,
                  const std::string& path, std::string body, const std::string& content_type) {
  FhirRequest request;
  request.method = method;
  medalliance::api::rest::SplitPath(path, request.segments);
  request.body = std::move(body);
  request.content_type = content_type;
  request.base_url = "http://bench";
  return service.Handle(request);
}

std::string IdOf(const std::string& body) {
  size_t at = body.find("\"id\":\"");
  if (at == std::string::npos)
    return {};
  at += 6;
  return body.substr(at, body.find('"', at) - at);
}

std::string LoadAverage() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

void Report(const std::string& label, const std::vector<double>& millis) {
  const char* name = label.c_str();
  std::printf("%-12s n=%zu p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms\n", name, millis.size(),
              Percentile(millis, 0.5), Percentile(millis, 0.9), Percentile(millis, 0.99),
              Percentile(millis, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  const int referrals = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const std::string db = argc > 3 ? argv[3] : "/tmp/referral-bench.db";
  const std::string synchronous = argc > 4 ? argv[4] : "full";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  medalliance::cli::StoreSettings settings;
  settings.db_path = db;
  settings.synchronous = synchronous;
  auto app = medalliance::cli::BuildApp(settings);
  if (!app) {
    std::fprintf(stderr, "%s\n", app.error().GetMessage().c_str());
    return 1;
  }
  const auto& service = *app->service;
  const std::string fhir = "application/fhir+json";
  for (const char* member : {R"({"resourceType":"Organization","id":"sz-nanshan","name":"n",
      "extension":[{"url":"https://fhir.medalliance.cn/StructureDefinition/hospital-grade",
      "valueString":"二级"}],"address":[{"city":"深圳市"}]})",
                             R"({"resourceType":"Organization","id":"gz-central","name":"c",
      "extension":[{"url":"https://fhir.medalliance.cn/StructureDefinition/hospital-grade",
      "valueString":"三级甲等"}],"address":[{"city":"广州市"}]})",
                             R"({"resourceType":"Patient","id":"p1"})"}) {
    std::string body(member);
    std::string type = body.find("Patient") != std::string::npos ? "Patient" : "Organization";
    std::string id = IdOf(body);
    if (Send(service, "PUT", "/" + type + "/" + id, body, fhir).status >= 300)
      return 1;
  }
  const std::string request_body =
      R"({"resourceType":"ServiceRequest","status":"active","intent":"order","priority":"stat",
      "category":[{"coding":[{"system":"http://snomed.info/sct","code":"3457005"}]},
      {"coding":[{"system":"https://fhir.medalliance.cn/CodeSystem/green-channel","code":"green-channel"},
      {"system":"https://fhir.medalliance.cn/CodeSystem/green-channel","code":"stroke"}]}],
      "subject":{"reference":"Patient/p1"},"requester":{"reference":"Organization/sz-nanshan"},
      "performer":[{"reference":"Organization/gz-central"}]})";
  std::mutex mutex;
  std::vector<double> creates;
  std::map<std::string, std::vector<double>> transitions;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  auto worker = [&] {
    std::vector<double> my_creates;
    std::map<std::string, std::vector<double>> my_transitions;
    while (next.fetch_add(1) < referrals) {
      auto start = Clock::now();
      FhirResponse created = Send(service, "POST", "/ServiceRequest", request_body, fhir);
      std::string task_body = R"({"resourceType":"Task","status":"requested","intent":"order",
          "basedOn":[{"reference":"ServiceRequest/)" +
                              IdOf(created.body) + R"("}]})";
      FhirResponse task = Send(service, "POST", "/Task", task_body, fhir);
      my_creates.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (created.status != 201 || task.status != 201) {
        ++failures;
        continue;
      }
      const std::string path = "/Task/" + IdOf(task.body);
      for (const char* status : {"received", "accepted", "in-progress", "completed"}) {
        std::string patch =
            std::string(R"([{"op":"replace","path":"/status","value":")") + status + R"("})";
        if (std::string(status) == "completed") {
          patch += R"(,{"op":"add","path":"/output","value":[{"type":{"text":"discharge summary"},
              "valueReference":{"reference":"Composition/ds"}}]})";
        }
        patch += "]";
        auto begin = Clock::now();
        FhirResponse moved = Send(service, "PATCH", path, patch, "application/json-patch+json");
        my_transitions[status].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
        if (moved.status != 200) {
          ++failures;
          break;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    creates.insert(creates.end(), my_creates.begin(), my_creates.end());
    for (auto& [status, millis] : my_transitions)
      transitions[status].insert(transitions[status].end(), millis.begin(), millis.end());
  };
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (std::thread& thread : pool) thread.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& [status, millis] : transitions)
    all.insert(all.end(), millis.begin(), millis.end());
  std::printf(
      "%d referrals, %d workers, synchronous=%s: %.2f s, %.0f referrals/s, %.0f transitions/s, "
      "%d failures, load %s\n",
      referrals, threads, synchronous.c_str(), seconds, referrals / seconds,
      static_cast<double>(all.size()) / seconds, failures.load(), LoadAverage().c_str());
  Report("create", creates);
  for (const char* status : {"received", "accepted", "in-progress", "completed"})
    Report(status, transitions[status]);
  Report("transition", all);
  if (const auto* sqlite = dynamic_cast<const medalliance::store::SqliteStore*>(app->store.get())) {
    medalliance::store::SqliteStore::BatchStats stats = sqlite->GetBatchStats();
    std::printf("store: %lld write transactions for %lld writes (%.2f writes per commit)\n",
                static_cast<long long>(stats.batches), static_cast<long long>(stats.writes),
                stats.batches > 0
                    ? static_cast<double>(stats.writes) / static_cast<double>(stats.batches)
                    : 0.0);
  }
  app->escalator.reset();
  app->service.reset();
  app->audit_log.reset();  // flushes into the store
  app->store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  return failures.load() == 0 ? 0 : 2;
}
