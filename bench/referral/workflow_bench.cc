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
//
// Open loop (the faithful reading of "1,000 referrals moving through the workflow
// concurrently": all of them in flight at once, each waiting at some step while others move):
//
//   referral_workflow_bench open [referrals=1000] [rate=200] [threads=16] [db] [synchronous]
//
// e.g.  for r in 100 200 400; do build/bench/referral/referral_workflow_bench open 1000 $r; done
//
// Creates every referral first (ServiceRequest + Task, 8 threads), then issues the 4 x N
// transitions at a fixed arrival rate (transitions/s) in one random order across referrals
// (each referral's own steps in order), from `threads` issuing threads. A transition's latency
// is measured from its scheduled send time, not from when a thread got round to it, so a
// stalled server shows up in the figures (no coordinated omission); a step whose predecessor
// on the same referral has not answered yet waits for it, and that wait counts too.
// MA_BENCH_CHECKPOINT=writer runs with SQLite's autocheckpoint inside the committing writer
// instead of the store's background checkpoint thread (the default), for comparison.
// Both modes print the process's CPU time (user + system, getrusage) per transition, which
// the load of other jobs inflates much less than wall-clock latency.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

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

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

const char* const kSteps[] = {"received", "accepted", "in-progress", "completed"};

std::string PatchFor(const std::string& status) {
  std::string patch = R"([{"op":"replace","path":"/status","value":")" + status + R"("})";
  if (status == "completed") {
    patch += R"(,{"op":"add","path":"/output","value":[{"type":{"text":"discharge summary"},
        "valueReference":{"reference":"Composition/ds"}}]})";
  }
  patch += "]";
  return patch;
}

}  // namespace

int main(int argc, char** argv) {
  const bool open_loop = argc > 1 && std::string(argv[1]) == "open";
  const int shift = open_loop ? 1 : 0;  // open mode: the arguments move one to the right
  auto arg = [&](int index) -> const char* {
    return argc > index + shift ? argv[index + shift] : nullptr;
  };
  const int referrals = arg(1) ? std::atoi(arg(1)) : 1000;
  const double rate = open_loop && arg(2) ? std::atof(arg(2)) : 200;  // open: transitions/s
  const int threads =
      open_loop ? (arg(3) ? std::atoi(arg(3)) : 16) : (arg(2) ? std::atoi(arg(2)) : 8);
  const int db_arg = open_loop ? 4 : 3;
  const std::string db = arg(db_arg) ? arg(db_arg) : "/tmp/referral-bench.db";
  const std::string synchronous = arg(db_arg + 1) ? arg(db_arg + 1) : "full";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  medalliance::cli::StoreSettings settings;
  settings.db_path = db;
  settings.synchronous = synchronous;
  // MA_BENCH_CHECKPOINT=writer: SQLite's autocheckpoint inside commits (the old behaviour).
  const char* checkpoint_mode = std::getenv("MA_BENCH_CHECKPOINT");
  settings.background_checkpoint =
      checkpoint_mode == nullptr || std::string(checkpoint_mode) != "writer";
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
  std::atomic<int> failures{0};
  // One referral's ServiceRequest and Task; the Task's path, or empty on failure.
  auto create = [&](std::vector<double>& my_creates) -> std::string {
    auto start = Clock::now();
    FhirResponse created = Send(service, "POST", "/ServiceRequest", request_body, fhir);
    std::string task_body = R"({"resourceType":"Task","status":"requested","intent":"order",
        "basedOn":[{"reference":"ServiceRequest/)" +
                            IdOf(created.body) + R"("}]})";
    FhirResponse task = Send(service, "POST", "/Task", task_body, fhir);
    my_creates.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (created.status != 201 || task.status != 201) {
      ++failures;
      return {};
    }
    return "/Task/" + IdOf(task.body);
  };
  auto merge = [&](const std::vector<double>& my_creates,
                   const std::map<std::string, std::vector<double>>& my_transitions) {
    std::lock_guard<std::mutex> lock(mutex);
    creates.insert(creates.end(), my_creates.begin(), my_creates.end());
    for (const auto& [status, millis] : my_transitions)
      transitions[status].insert(transitions[status].end(), millis.begin(), millis.end());
  };
  auto run_pool = [](int count, const std::function<void()>& fn) {
    std::vector<std::thread> pool;
    for (int i = 0; i < count; ++i) pool.emplace_back(fn);
    for (std::thread& thread : pool) thread.join();
  };
  std::atomic<int> next{0};
  double seconds = 0;
  double cpu = 0;
  if (!open_loop) {
    // Closed loop: each worker takes the next referral and moves it through every step.
    auto worker = [&] {
      std::vector<double> my_creates;
      std::map<std::string, std::vector<double>> my_transitions;
      while (next.fetch_add(1) < referrals) {
        std::string path = create(my_creates);
        if (path.empty())
          continue;
        for (const char* status : kSteps) {
          auto begin = Clock::now();
          FhirResponse moved =
              Send(service, "PATCH", path, PatchFor(status), "application/json-patch+json");
          my_transitions[status].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
          if (moved.status != 200) {
            ++failures;
            break;
          }
        }
      }
      merge(my_creates, my_transitions);
    };
    double cpu_start = CpuSeconds();
    auto start = Clock::now();
    run_pool(threads, worker);
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    cpu = CpuSeconds() - cpu_start;  // creates included: 2 of the 6 writes per referral
  } else {
    // Open loop: every referral created first, then all 4 x N transitions at `rate`.
    std::vector<std::string> paths(static_cast<size_t>(referrals));
    run_pool(8, [&] {
      std::vector<double> my_creates;
      for (int i; (i = next.fetch_add(1)) < referrals;)
        paths[static_cast<size_t>(i)] = create(my_creates);
      merge(my_creates, {});
    });
    // The schedule: each referral appears 4 times in a random order; its k-th appearance is
    // its k-th step, so steps of one referral stay in order and referrals interleave.
    std::vector<int> order;
    for (int r = 0; r < referrals; ++r)
      for (int k = 0; k < 4; ++k) order.push_back(r);
    std::mt19937 random(20261127);
    std::shuffle(order.begin(), order.end(), random);
    std::vector<int> step_of(order.size());
    std::vector<int> seen(static_cast<size_t>(referrals), 0);
    for (size_t i = 0; i < order.size(); ++i) step_of[i] = seen[static_cast<size_t>(order[i])]++;
    std::vector<int> done_steps(static_cast<size_t>(referrals), 0);   // guarded by step_mutex
    std::vector<bool> broken(static_cast<size_t>(referrals), false);  // guarded by step_mutex
    for (size_t r = 0; r < paths.size(); ++r) broken[r] = paths[r].empty();
    std::mutex step_mutex;
    std::condition_variable step_done;
    std::atomic<size_t> next_send{0};
    double late_ms = 0;  // the largest delay between schedule and send (issuer lag)
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    double cpu_start = CpuSeconds();
    const auto start = Clock::now();
    run_pool(threads, [&] {
      std::map<std::string, std::vector<double>> my_transitions;
      double my_late = 0;
      for (size_t i; (i = next_send.fetch_add(1)) < order.size();) {
        const auto scheduled =
            start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
        std::this_thread::sleep_until(scheduled);
        const size_t r = static_cast<size_t>(order[i]);
        const int step = step_of[i];
        {
          std::unique_lock lock(step_mutex);
          step_done.wait(lock, [&] { return done_steps[r] == step || broken[r]; });
          if (broken[r])
            continue;
        }
        const auto sent = Clock::now();
        my_late =
            std::max(my_late, std::chrono::duration<double, std::milli>(sent - scheduled).count());
        FhirResponse moved =
            Send(service, "PATCH", paths[r], PatchFor(kSteps[step]), "application/json-patch+json");
        my_transitions[kSteps[step]].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - scheduled).count());
        {
          std::lock_guard lock(step_mutex);
          if (moved.status != 200) {
            ++failures;
            broken[r] = true;
          }
          done_steps[r] = step + 1;
        }
        step_done.notify_all();
      }
      merge({}, my_transitions);
      std::lock_guard lock(step_mutex);
      late_ms = std::max(late_ms, my_late);
    });
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    cpu = CpuSeconds() - cpu_start;
    std::printf(
        "open loop: %.0f transitions/s offered by %d threads, %zu referrals in flight, "
        "largest send lag %.2f ms\n",
        rate, threads, paths.size(), late_ms);
  }
  std::vector<double> all;
  for (const auto& [status, millis] : transitions)
    all.insert(all.end(), millis.begin(), millis.end());
  std::printf(
      "%d referrals, %d %s, synchronous=%s: %.2f s, %.0f referrals/s, %.0f transitions/s, "
      "%d failures, load %s\n",
      referrals, threads, open_loop ? "issuing threads" : "workers", synchronous.c_str(), seconds,
      referrals / seconds, static_cast<double>(all.size()) / seconds, failures.load(),
      LoadAverage().c_str());
  std::printf(
      "cpu: %.2f s, %.0f us per %s\n", cpu,
      all.empty() ? 0.0 : cpu * 1e6 / static_cast<double>(all.size()),
      open_loop ? "transition" : "transition (creates included, 6 writes per 4 transitions)");
  Report("create", creates);
  for (const char* status : kSteps) Report(status, transitions[status]);
  Report("transition", all);
  if (const auto* sqlite = dynamic_cast<const medalliance::store::SqliteStore*>(app->store.get())) {
    medalliance::store::SqliteStore::BatchStats stats = sqlite->GetBatchStats();
    std::printf("store: %lld write transactions for %lld writes (%.2f writes per commit)\n",
                static_cast<long long>(stats.batches), static_cast<long long>(stats.writes),
                stats.batches > 0
                    ? static_cast<double>(stats.writes) / static_cast<double>(stats.batches)
                    : 0.0);
    medalliance::store::SqliteStore::CheckpointStats checkpoints = sqlite->GetCheckpointStats();
    std::printf("checkpoints: %s, %lld in the background, %lld in the writer (fallback)\n",
                settings.background_checkpoint ? "background" : "writer (autocheckpoint)",
                static_cast<long long>(checkpoints.background),
                static_cast<long long>(checkpoints.in_writer));
  }
  app->escalator.reset();
  app->service.reset();
  app->audit_log.reset();  // flushes into the store
  app->store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  return failures.load() == 0 ? 0 : 2;
}
