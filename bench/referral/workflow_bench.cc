// Referral workflow: N referrals moving through the whole workflow concurrently, in process
// (RestService over a SQLite file, as `serve` wires it, without HTTP).
//
//   referral_workflow_bench [referrals=1000] [threads=8] [db=/tmp/referral-bench.db]
//
// Each referral: POST ServiceRequest (direction hook), POST Task (state machine), then JSON
// Patch of Task.status received → accepted → in-progress (Encounter opened) → completed
// (Encounter finished, ServiceRequest completed). Prints p50/p90/p99/max per transition
// (the four PATCHes) and per create, and the total rate. synchronous=normal (WAL).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/wiring.h"

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

void Report(const char* name, const std::vector<double>& millis) {
  std::printf("%-12s n=%zu p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms\n", name, millis.size(),
              Percentile(millis, 0.5), Percentile(millis, 0.9), Percentile(millis, 0.99),
              Percentile(millis, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  const int referrals = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const std::string db = argc > 3 ? argv[3] : "/tmp/referral-bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  medalliance::cli::StoreSettings settings;
  settings.db_path = db;
  settings.synchronous = "normal";
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
  std::vector<double> transitions;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  auto worker = [&] {
    std::vector<double> my_creates;
    std::vector<double> my_transitions;
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
        my_transitions.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
        if (moved.status != 200) {
          ++failures;
          break;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    creates.insert(creates.end(), my_creates.begin(), my_creates.end());
    transitions.insert(transitions.end(), my_transitions.begin(), my_transitions.end());
  };
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (std::thread& thread : pool) thread.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%d referrals, %d threads, %.2f s, %.0f referrals/s, %d failures\n", referrals,
              threads, seconds, referrals / seconds, failures.load());
  Report("create", creates);
  Report("transition", transitions);
  return failures.load() == 0 ? 0 : 2;
}
