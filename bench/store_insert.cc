// Insert throughput of SqliteStore: N resources of ~1 KB with 5 index rows each (3 token,
// 1 string, 1 reference), written in transactions of B, then lookups by token.
//
// Usage: store_insert_bench [path] [resources=100000] [batch=1000] [full|normal]
// Data is generated before timing, so the figure covers the store only.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/sql/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using medalliance::store::IndexEntry;
using medalliance::store::IndexKind;
using medalliance::store::StoredResource;

IndexEntry Entry(std::string param, IndexKind kind, std::string system, std::string value) {
  IndexEntry entry;
  entry.param = std::move(param);
  entry.kind = kind;
  entry.system = std::move(system);
  entry.value = std::move(value);
  return entry;
}

}  // namespace

int main(int argc, char** argv) {
  namespace store = medalliance::store;
  const std::string path = argc > 1 ? argv[1] : "/tmp/ma_store_insert_bench.sqlite";
  const int total = argc > 2 ? std::atoi(argv[2]) : 100000;
  const int batch = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1000;
  const bool full = !(argc > 4 && std::string(argv[4]) == "normal");
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path + suffix);
  }

  std::vector<StoredResource> resources(static_cast<size_t>(total));
  std::vector<std::vector<IndexEntry>> index(static_cast<size_t>(total));
  const std::string padding(820, 'x');
  for (int i = 0; i < total; ++i) {
    StoredResource& r = resources[static_cast<size_t>(i)];
    r.type = "Patient";
    r.id = "p" + std::to_string(i);
    r.version = 1;
    r.last_updated = 1700000000000 + i;
    r.method = "POST";
    r.json = R"({"resourceType":"Patient","id":")" + r.id +
             R"(","meta":{"versionId":"1"},"identifier":[{"system":"urn:mrn","value":"M)" +
             std::to_string(i) + R"("}],"text":")" + padding + R"("})";
    index[static_cast<size_t>(i)] = {
        Entry("identifier", IndexKind::kToken, "urn:mrn", "M" + std::to_string(i)),
        Entry("gender", IndexKind::kToken, "http://hl7.org/fhir/administrative-gender",
              i % 2 ? "male" : "female"),
        Entry("active", IndexKind::kToken, "", "true"),
        Entry("name", IndexKind::kString, "", "name" + std::to_string(i % 5000)),
        Entry("organization", IndexKind::kReference, "", "Organization/o" + std::to_string(i % 50)),
    };
  }

  store::SqliteOptions options;
  options.path = path;
  options.synchronous = full ? store::SqliteSync::kFull : store::SqliteSync::kNormal;
  auto opened = store::SqliteStore::Open(options);
  if (!opened.has_value()) {
    std::fprintf(stderr, "open: %s\n", opened.error().GetMessage().c_str());
    return 1;
  }
  std::unique_ptr<store::SqliteStore> db = std::move(opened).value();

  const auto start = std::chrono::steady_clock::now();
  for (int first = 0; first < total; first += batch) {
    const int last = std::min(total, first + batch);
    auto status = db->Write([&](store::WriteTx& tx) -> medalliance::core::Status {
      for (int i = first; i < last; ++i) {
        MA_RETURN_IF_ERROR(
            tx.PutVersion(resources[static_cast<size_t>(i)], index[static_cast<size_t>(i)]));
      }
      return medalliance::core::Ok{};
    });
    if (!status.has_value()) {
      std::fprintf(stderr, "write: %s\n", status.error().GetMessage().c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Lookups: identifier token -> resource JSON, as a search would run them.
  const std::string sql = "SELECT " + std::string(store::sql::kResourceColumns) +
                          " FROM current_resources c JOIN resources r ON r.sequence = c.sequence"
                          " WHERE c.type = ?1 AND c.deleted = 0 AND c.id IN (SELECT x.id FROM"
                          " index_token x WHERE x.type = ?1 AND x.param = ?2 AND x.value = ?3)";
  std::mt19937 random(42);
  std::vector<double> micros;
  const int lookups = std::min(total, 20000);
  auto status = db->Read([&](store::ReadTx& tx) -> medalliance::core::Status {
    for (int k = 0; k < lookups; ++k) {
      const int i = static_cast<int>(random() % static_cast<unsigned>(total));
      const auto t0 = std::chrono::steady_clock::now();
      MA_ASSIGN_OR_RETURN(
          auto found,
          tx.QueryResources(
              {sql, {std::string("Patient"), std::string("identifier"), "M" + std::to_string(i)}}));
      micros.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      if (found.size() != 1) {
        return medalliance::core::Error::Internal("lookup found " + std::to_string(found.size()));
      }
    }
    return medalliance::core::Ok{};
  });
  if (!status.has_value()) {
    std::fprintf(stderr, "read: %s\n", status.error().GetMessage().c_str());
    return 1;
  }
  std::sort(micros.begin(), micros.end());
  const auto file_size = std::filesystem::file_size(path);
  std::printf(
      "synchronous=%s resources=%d batch=%d: %.2f s, %.0f resources/s; lookup p50 %.1f us "
      "p99 %.1f us; file %.0f MB\n",
      full ? "FULL" : "NORMAL", total, batch, seconds, total / seconds, micros[micros.size() / 2],
      micros[micros.size() * 99 / 100], static_cast<double>(file_size) / 1e6);
  return 0;
}
