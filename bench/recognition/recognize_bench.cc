// $recognize: time per call for 10 items, for patients with 5 years of history, with N
// observations in the store.
//
//   recognize_bench [observations=100000] [queries=500] [db=/tmp/recognize-bench.db]
//
// Writes (once per db file) four qualified members and observations/100 patients, each with
// 100 final laboratory Observations over 5 years (10 catalogue items, 10 results each,
// issuers drawn from the members), straight through WriteTx::PutVersion with the search
// index rows (no REST, no hooks). Then runs RecognizeOperation::Invoke for random patients
// with the 10 items and prints p50/p90/p99/max of the wall time and of the thread's CPU time
// per call (the CPU time is what a loaded machine inflates least), with the load average.
// The db file is kept for the next run (loading 1,000,000 takes 4-10 min); delete it to
// rebuild. Figures: doc/recognition.md §8.
//
//   cmake --build build --target recognize_bench -j2 &&
//   build/bench/recognition/recognize_bench 1000000 1000 /tmp/recognize-bench-1m.db

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/time.h"
#include "fhir/json/json.h"
#include "recognition/catalogue.h"
#include "recognition/engine.h"
#include "recognition/recognize_operation.h"
#include "search/search.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using medalliance::fhir::Json;
using SteadyClock = std::chrono::steady_clock;
namespace store = medalliance::store;
namespace core = medalliance::core;

const char* const kItems[] = {"2823-3", "2951-2", "2075-0", "2345-7", "4548-4",
                              "1742-6", "2160-0", "2093-3", "3016-3", "5196-1"};
const char* const kMembers[] = {"gz-central", "sz-heart", "gz-tianhe-chc", "sz-people"};
constexpr core::EpochMillis kAt = 1781488800000;  // 2026-06-15T02:00:00Z
constexpr core::EpochMillis kFiveYears = 5LL * 365 * 24 * 3600 * 1000;

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

core::Status Put(store::WriteTx& tx, const medalliance::search::Searcher& searcher, Json resource,
                 const std::string& type, const std::string& id) {
  store::StoredResource stored;
  stored.type = type;
  stored.id = id;
  stored.version = 1;
  stored.last_updated = kAt;
  stored.method = "POST";
  resource.SetAt(1, "id", Json::MakeString(id));
  stored.json = medalliance::fhir::WriteJson(resource);
  return tx.PutVersion(stored, searcher.Index(resource));
}

double ThreadCpuMicros() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Json Parse(const std::string& text) {
  return medalliance::fhir::ParseJson(text).value();
}

}  // namespace

int main(int argc, char** argv) {
  const long observations = argc > 1 ? std::stol(argv[1]) : 100000;
  const int queries = argc > 2 ? std::stoi(argv[2]) : 500;
  const std::string path = argc > 3 ? argv[3] : "/tmp/recognize-bench.db";
  const long patients = std::max(1L, observations / 100);
  const bool fresh = !std::filesystem::exists(path);
  store::SqliteOptions options;
  options.path = path;
  options.synchronous = store::SqliteSync::kNormal;
  auto opened = store::SqliteStore::Open(options);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().GetMessage().c_str());
    return 1;
  }
  std::unique_ptr<store::Store> db = std::move(*opened);
  medalliance::search::Searcher searcher;
  if (fresh) {
    auto start = SteadyClock::now();
    std::mt19937_64 rng(7);
    core::Status status = db->Write([&](store::WriteTx& tx) -> core::Status {
      for (const char* member : kMembers) {
        core::Status put =
            Put(tx, searcher,
                Parse(std::string(R"({"resourceType":"Organization","name":")") + member + "\"}"),
                "Organization", member);
        if (!put)
          return put;
        put = Put(
            tx, searcher,
            Parse(
                std::string(
                    R"({"resourceType":"Basic","extension":[{"url":"https://fhir.medalliance.cn/StructureDefinition/recognition-qualification","extension":[{"url":"scope","valueCode":"lab"},{"url":"period","valuePeriod":{"start":"2020-01-01"}}]}],"code":{"coding":[{"system":"https://fhir.medalliance.cn/CodeSystem/recognition","code":"qualification"}]},"subject":{"reference":"Organization/)") +
                member + "\"}}"),
            "Basic", std::string("q-") + member);
        if (!put)
          return put;
      }
      return {};
    });
    if (!status) {
      std::fprintf(stderr, "%s\n", status.error().GetMessage().c_str());
      return 1;
    }
    constexpr long kBatchPatients = 50;
    for (long first = 0; first < patients; first += kBatchPatients) {
      status = db->Write([&](store::WriteTx& tx) -> core::Status {
        for (long p = first; p < std::min(patients, first + kBatchPatients); ++p) {
          std::string patient = "p" + std::to_string(p);
          core::Status put =
              Put(tx, searcher, Parse(R"({"resourceType":"Patient","gender":"female"})"), "Patient",
                  patient);
          if (!put)
            return put;
          for (int o = 0; o < 100; ++o) {
            const char* code = kItems[o % 10];
            core::EpochMillis when =
                kAt - static_cast<core::EpochMillis>(rng() % static_cast<uint64_t>(kFiveYears));
            std::string issued = core::FormatInstant(when);
            std::string text =
                std::string(
                    R"({"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":")") +
                code + R"("}]},"subject":{"reference":"Patient/)" + patient +
                R"("},"effectiveDateTime":")" + issued + R"(","issued":")" + issued +
                R"(","performer":[{"reference":"Organization/)" + kMembers[rng() % 4] +
                R"("}],"valueQuantity":{"value":4.1,"unit":"mmol/L"}})";
            put = Put(tx, searcher, Parse(text), "Observation", patient + "-o" + std::to_string(o));
            if (!put)
              return put;
          }
        }
        return {};
      });
      if (!status) {
        std::fprintf(stderr, "%s\n", status.error().GetMessage().c_str());
        return 1;
      }
    }
    double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::printf("loaded %ld patients, %ld observations in %.1f s\n", patients, patients * 100,
                seconds);
  }

  medalliance::recognition::CatalogueCache cache;
  medalliance::recognition::Engine engine(cache);
  core::FakeClock clock(kAt);
  medalliance::recognition::RecognizeOperation operation(engine, &clock);
  std::mt19937_64 rng(11);
  std::vector<double> micros;
  std::vector<double> cpu_micros;
  size_t reusable = 0;
  for (int q = 0; q < queries + 20; ++q) {
    std::string text =
        R"({"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/p)" +
        std::to_string(rng() % static_cast<uint64_t>(patients)) +
        R"("}},{"name":"orderer","valueReference":{"reference":"Organization/gz-central"}})";
    for (const char* code : kItems) {
      text +=
          std::string(R"(,{"name":"item","valueCoding":{"system":"http://loinc.org","code":")") +
          code + "\"}}";
    }
    text += "]}";
    store::OperationRequest request;
    request.parameters = Parse(text);
    double cpu_start = ThreadCpuMicros();
    auto start = SteadyClock::now();
    auto response = operation.Invoke(*db, request);
    double elapsed = std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count();
    double cpu = ThreadCpuMicros() - cpu_start;
    if (!response) {
      std::fprintf(stderr, "%s\n", response.error().GetMessage().c_str());
      return 1;
    }
    const std::string& body = response->body_text;
    for (size_t at = body.find("\"reusable\""); at != std::string::npos;
         at = body.find("\"reusable\"", at + 1)) {
      ++reusable;
    }
    if (q >= 20) {  // warm-up
      micros.push_back(elapsed);
      cpu_micros.push_back(cpu);
    }
  }
  std::printf(
      "$recognize, 10 items, %ld observations: p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f "
      "us over %d calls (%.1f reusable results per call)\n",
      patients * 100, Percentile(micros, 0.5), Percentile(micros, 0.9), Percentile(micros, 0.99),
      Percentile(micros, 1.0), queries, static_cast<double>(reusable) / (queries + 20));
  std::printf("CPU time per call: p50 %.0f us, p90 %.0f us, p99 %.0f us; load average %s\n",
              Percentile(cpu_micros, 0.5), Percentile(cpu_micros, 0.9),
              Percentile(cpu_micros, 0.99), LoadAverage().c_str());
  return 0;
}
