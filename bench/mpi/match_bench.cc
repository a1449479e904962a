// Master patient index: candidate lookup + scoring time per query with N patients in memory.
//
//   tools/mpi/gen_population.py --records 1010000 --seed 7 --out /tmp/mpi-pop
//   mpi_match_bench /tmp/mpi-pop/patients.ndjson [queries=10000]
//
// The last `queries` records of the file are not indexed; each is matched (blocking keys,
// candidate fetch, Fellegi–Sunter comparison of every candidate, grading, sorting) against the
// records before it. Prints load/index time, memory, and p50/p90/p99/max per query.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <malloc.h>

#include "fhir/json/json.h"
#include "mpi/matcher.h"
#include "mpi/record.h"

namespace {

using Clock = std::chrono::steady_clock;

long ResidentKilobytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  }
  return 0;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  using medalliance::mpi::MatchIndex;
  using medalliance::mpi::PatientRecord;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s patients.ndjson [queries]\n", argv[0]);
    return 2;
  }
  const size_t query_count = argc > 2 ? std::stoul(argv[2]) : 10000;
  const auto load_start = Clock::now();
  std::vector<PatientRecord> records;
  {
    std::ifstream in(argv[1]);
    std::string line;
    while (std::getline(in, line)) {
      auto json = medalliance::fhir::ParseJson(line);
      if (!json.has_value()) {
        std::fprintf(stderr, "bad line %zu\n", records.size() + 1);
        return 1;
      }
      records.push_back(medalliance::mpi::ExtractRecord(*json));
    }
  }
  if (records.size() <= query_count) {
    std::fprintf(stderr, "need more than %zu records\n", query_count);
    return 1;
  }
  const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  const long rss_before_index = ResidentKilobytes();
  const size_t indexed = records.size() - query_count;
  MatchIndex index;
  const auto index_start = Clock::now();
  for (size_t i = 0; i < indexed; ++i) index.Add(std::move(records[i]));
  index.Compact();
  malloc_trim(0);  // return the freed build-time hash maps before measuring
  const double index_seconds = std::chrono::duration<double>(Clock::now() - index_start).count();
  const long rss_after_index = ResidentKilobytes();

  std::vector<double> micros;
  std::vector<double> candidate_counts;
  size_t certain = 0;
  size_t review = 0;
  for (size_t i = indexed; i < records.size(); ++i) {
    const auto start = Clock::now();
    auto found = index.Match(records[i]);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    candidate_counts.push_back(static_cast<double>(index.Candidates(records[i]).size()));
    if (!found.empty()) {
      if (found[0].comparison.grade == medalliance::mpi::MatchGrade::kCertain) {
        ++certain;
      } else {
        ++review;
      }
    }
  }
  std::printf("mpi match bench: %zu patients indexed, %zu queries\n", indexed, query_count);
  std::printf("  load+extract %.1f s, index build %.1f s (%.2f us/patient), %zu postings\n",
              load_seconds, index_seconds, index_seconds * 1e6 / static_cast<double>(indexed),
              index.PostingCount());
  std::printf("  RSS: %ld MB parsed records, %ld MB once moved into the index (postings %zu MB)\n",
              rss_before_index / 1024, rss_after_index / 1024,
              index.PostingCount() * 16 / (1024 * 1024));
  std::printf(
      "  per query (lookup + scoring): p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us"
      "\n",
      Percentile(micros, 0.5), Percentile(micros, 0.9), Percentile(micros, 0.99),
      Percentile(micros, 1.0));
  std::printf("  candidates per query: p50 %.0f, p99 %.0f, max %.0f\n",
              Percentile(candidate_counts, 0.5), Percentile(candidate_counts, 0.99),
              Percentile(candidate_counts, 1.0));
  std::printf("  queries with a certain match %zu, with only probable/possible %zu\n", certain,
              review);
  return 0;
}
