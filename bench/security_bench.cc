// Cost of the access rules and the read audit (issue 4) on reads and searches, measured at the
// REST service (no HTTP, whose cost is the same with or without a caller).
//
// Loads MEMBERS members x PATIENTS patients x OBS Observations into a temporary SQLite file
// as each member (so every record carries its owner label), plus, for every patient of the
// first member, an Encounter at the second member (a treatment relationship). Then times, in
// interleaved rounds, the same requests without a caller (no rules) and as the owning member
// ("own", the common case), and cross-member reads allowed by the relationship (audited).
//
// Figures are CPU microseconds per request of the calling thread; "+audit flush" is the
// cross-member round including the background writes of its AuditEvents (wall time).
//
// Usage: security_bench [patients-per-member=300] [rounds=5] [requests-per-round=2000]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "access/policy.h"
#include "access/write_hook.h"
#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "fhir/r4/definitions.h"
#include "store/sqlite/sqlite_store.h"

namespace ma = medalliance;
using ma::api::rest::FhirRequest;
using ma::api::rest::FhirResponse;

namespace {

ma::store::Caller Member(int member) {
  ma::store::Caller caller;
  caller.authenticated = true;
  caller.organization_id = "org-" + std::to_string(member);
  caller.client_id = "client-" + std::to_string(member);
  caller.roles = {"system"};
  return caller;
}

FhirRequest Get(const std::string& url, const ma::store::Caller* caller) {
  FhirRequest request;
  request.method = "GET";
  request.base_url = "http://bench";
  size_t question = url.find('?');
  ma::api::rest::SplitPath(url.substr(0, question), request.segments);
  if (question != std::string::npos)
    request.params = ma::api::rest::ParseQueryString(url.substr(question + 1));
  if (caller != nullptr)
    request.SetCaller(*caller);
  return request;
}

}  // namespace

int main(int argc, char** argv) {
  const int patients = argc > 1 ? std::atoi(argv[1]) : 300;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int requests = argc > 3 ? std::atoi(argv[3]) : 2000;
  constexpr int kMembers = 3;
  constexpr int kObservations = 5;
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("ma-security-bench-" + std::to_string(getpid()));
  std::filesystem::remove_all(path);
  ma::store::SqliteOptions options;
  options.path = (path / "bench.db").string();
  options.synchronous = ma::store::SqliteSync::kNormal;
  auto store = ma::store::SqliteStore::Open(options).value();
  ma::access::Policy policy;
  ma::access::AccessWriteHook access_hook(policy);
  ma::audit::AuditLog audit_log(*store, ma::core::SystemClock::Get());
  ma::audit::AuditWriteHook audit_hook(ma::core::SystemClock::Get());
  ma::api::rest::RestConfig config;
  for (std::string_view type : ma::fhir::r4::ResourceTypeNames())
    config.resource_types.emplace_back(type);
  config.policy = &policy;
  config.audit = &audit_log;
  config.hooks = {&access_hook, &audit_hook};
  ma::api::rest::RestService service(*store, std::move(config));

  // Load: one transaction per patient, written by its member.
  std::vector<std::vector<std::string>> observation_ids(kMembers);
  for (int member = 0; member < kMembers; ++member) {
    ma::store::Caller caller = Member(member);
    for (int p = 0; p < patients; ++p) {
      std::string patient = "m" + std::to_string(member) + "-p" + std::to_string(p);
      std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
      bundle += R"({"resource":{"resourceType":"Patient","id":")" + patient +
                R"(","name":[{"family":"测试","given":[")" + std::to_string(p) +
                R"("]}]},"request":{"method":"PUT","url":"Patient/)" + patient + R"("}})";
      for (int o = 0; o < kObservations; ++o) {
        std::string id = patient + "-o" + std::to_string(o);
        observation_ids[static_cast<size_t>(member)].push_back(id);
        bundle +=
            R"(,{"resource":{"resourceType":"Observation","id":")" + id +
            R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/)" +
            patient + R"("},"valueQuantity":{"value":)" + std::to_string(10 + o) +
            R"(,"unit":"g/dL"}},"request":{"method":"PUT","url":"Observation/)" + id + R"("}})";
      }
      if (member == 0) {
        // The second member treats every patient of the first.
        bundle +=
            R"(,{"resource":{"resourceType":"Encounter","id":"enc-)" + patient +
            R"(","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/)" +
            patient +
            R"("},"serviceProvider":{"reference":"Organization/org-1"}},"request":{"method":"PUT","url":"Encounter/enc-)" +
            patient + R"("}})";
      }
      bundle += "]}";
      ma::store::Caller writer = caller;
      auto parsed = ma::fhir::ParseJson(bundle);
      auto result = service.ProcessBundle(std::move(*parsed), "http://bench", &writer);
      if (!result) {
        std::fprintf(stderr, "load failed: %s\n", result.error().GetMessage().c_str());
        return 1;
      }
    }
  }
  // The encounters above were written by member 0 naming member 1; that is enough for the
  // rule (serviceProvider is what counts).
  std::mt19937 rng(1);
  const ma::store::Caller own = Member(0);
  const ma::store::Caller other = Member(1);
  const std::vector<std::string>& ids = observation_ids[0];
  auto pick = [&]() { return ids[rng() % ids.size()]; };
  auto patient_of = [](const std::string& id) { return id.substr(0, id.rfind("-o")); };

  struct Case {
    const char* name;
    std::function<std::string()> url;
  };
  std::vector<Case> cases = {
      {"read Observation/<id>", [&] { return "Observation/" + pick(); }},
      {"search Observation?subject=<patient>",
       [&] { return "Observation?subject=Patient/" + patient_of(pick()); }},
      {"search Observation?code=718-7&_count=50",
       [&] { return std::string("Observation?code=718-7&_count=50"); }},
  };
  // CPU time of the calling thread (the whole request runs on it, SQLite included): the
  // machine's cores are shared, and wall time swings with the load of other processes.
  auto cpu_now = [] {
    timespec spec{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec);
    return static_cast<double>(spec.tv_sec) * 1e6 + static_cast<double>(spec.tv_nsec) / 1e3;
  };
  auto time = [&](const Case& c, const ma::store::Caller* caller) {
    double start = cpu_now();
    int failures = 0;
    for (int i = 0; i < requests; ++i) {
      FhirResponse response = service.Handle(Get(c.url(), caller));
      if (response.status != 200)
        ++failures;
    }
    double us = (cpu_now() - start) / requests;
    if (failures > 0)
      std::fprintf(stderr, "%s: %d failures\n", c.name, failures);
    return us;
  };
  std::printf("data: %d members x %d patients x %d Observations; %d rounds x %d requests\n",
              kMembers, patients, kObservations, rounds, requests);
  std::printf("%-42s %12s %12s %9s %14s %14s\n", "request", "no caller", "own member", "overhead",
              "cross-member", "+audit flush");
  const char* only = std::getenv("MA_BENCH_ONLY");  // run one case (by index), for profiling
  for (size_t index = 0; index < cases.size(); ++index) {
    const Case& c = cases[index];
    if (only != nullptr && std::to_string(index) != only)
      continue;
    double base = 0, guarded = 0, cross = 0, flush_us = 0;
    time(c, nullptr);  // warm-up
    time(c, &own);
    for (int r = 0; r < rounds; ++r) {
      // Alternate the order; the cross-member round's audit backlog is flushed before the
      // next round so that its writes do not run during the other measurements.
      if (r % 2 == 0) {
        base += time(c, nullptr);
        guarded += time(c, &own);
      } else {
        guarded += time(c, &own);
        base += time(c, nullptr);
      }
      auto start = std::chrono::steady_clock::now();
      cross += time(c, &other);
      (void)audit_log.Flush();
      flush_us +=
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count() /
          requests;
    }
    base /= rounds;
    guarded /= rounds;
    cross /= rounds;
    flush_us /= rounds;
    std::printf("%-42s %9.1f us %9.1f us %8.1f%% %11.1f us %11.1f us\n", c.name, base, guarded,
                100.0 * (guarded - base) / base, cross, flush_us);
  }
  (void)audit_log.Flush();
  std::printf("audit events written by the read audit: %lld\n",
              static_cast<long long>(audit_log.Written()));
  std::filesystem::remove_all(path);
  return 0;
}
