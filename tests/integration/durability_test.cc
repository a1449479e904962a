// Crash recovery: kill -9 at a random moment loses no acknowledged write and leaves no
// half-applied transaction.

#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

// A transaction of two Patients sharing one identifier: after any crash both or neither exist.
Json PairBundle(const std::string& tag) {
  Json entries = Json::array();
  for (int i = 0; i < 2; ++i) {
    entries.push_back({{"resource",
                        {{"resourceType", "Patient"},
                         {"identifier", {{{"system", "urn:crash"}, {"value", tag}}}},
                         {"name", {{{"family", "测试"}, {"given", {std::to_string(i)}}}}}}},
                       {"request", {{"method", "POST"}, {"url", "Patient"}}}});
  }
  return {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}};
}

// The first column of the first row of `sql` on the database file, read directly.
int64_t QueryInt(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  EXPECT_EQ(sqlite3_prepare_v2(handle, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(handle);
  if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW)
    value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return value;
}

// Patients in `db` while another process may be creating it: -1 before the tables exist or
// while the database is locked (no test expectation on failure, unlike QueryInt).
int64_t PatientsSoFar(const std::filesystem::path& db) {
  if (!std::filesystem::exists(db))
    return -1;
  sqlite3* handle = nullptr;
  int64_t value = -1;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, "SELECT COUNT(*) FROM current_resources WHERE type = 'Patient'",
                           -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return value;
}

int CountTag(HttpClient& client, const std::string& tag) {
  Response response = client.Get("/Patient?identifier=urn:crash|" + tag + "&_total=accurate");
  EXPECT_EQ(response.status, 200) << response.body;
  return ParseBody(response)["total"].get<int>();
}

TEST(DurabilityTest, KillNineDuringWritesLosesNothingAcknowledged) {
  TempDir dir;
  std::filesystem::path db = dir.Path() / "crash.db";
  std::mt19937 rng{std::random_device{}()};
  for (int round = 0; round < 3; ++round) {
    std::set<std::string> acknowledged;
    std::set<std::string> attempted;
    std::mutex mutex;
    {
      TestServer server(db);
      std::atomic<bool> stop{false};
      std::vector<std::thread> writers;
      for (int w = 0; w < 2; ++w) {
        writers.emplace_back([&, w] {
          HttpClient client("127.0.0.1", server.Port(),
                            {.timeout = std::chrono::milliseconds(2000)});
          for (int n = 0; !stop.load(); ++n) {
            std::string tag =
                "r" + std::to_string(round) + "w" + std::to_string(w) + "n" + std::to_string(n);
            {
              std::lock_guard<std::mutex> lock(mutex);
              attempted.insert(tag);
            }
            Response response = client.Send("POST", "/", PairBundle(tag).dump(), FhirJson());
            if (response.status == 0)
              return;  // the server is gone
            if (response.status == 200) {
              std::lock_guard<std::mutex> lock(mutex);
              acknowledged.insert(tag);
            }
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
      server.Process().Kill(SIGKILL);
      auto status = server.Process().Wait();
      ASSERT_TRUE(status.has_value());
      EXPECT_EQ(status->signal, SIGKILL);
      stop = true;
      for (auto& writer : writers) writer.join();
    }
    ASSERT_GT(acknowledged.size(), 0u) << "no write was acknowledged before the kill";
    TestServer restarted(db);
    HttpClient client("127.0.0.1", restarted.Port());
    for (const std::string& tag : attempted) {
      int count = CountTag(client, tag);
      if (acknowledged.count(tag) != 0) {
        EXPECT_EQ(count, 2) << "acknowledged transaction " << tag << " lost after kill -9";
      } else {
        EXPECT_TRUE(count == 0 || count == 2) << "transaction " << tag << " half applied";
      }
    }
  }
}

TEST(DurabilityTest, KillNineDuringImportLeavesNoPartialBundle) {
  TempDir dir;
  std::filesystem::path data = dir.Path() / "bundles";
  std::filesystem::create_directories(data);
  const int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) {
    std::ofstream(data / ("b" + std::to_string(10000 + i) + ".json"))
        << PairBundle("imp" + std::to_string(i)).dump();
  }
  std::filesystem::path db = dir.Path() / "import.db";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    execl(MA_BINARY, MA_BINARY, "import", "--db", db.c_str(), data.c_str(), nullptr);
    _exit(127);
  }
  // Kill once the first Bundles are in (a fixed sleep is too short on a loaded machine), so
  // that the kill lands in the middle of the import, its indexes deferred.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && waitpid(child, nullptr, WNOHANG) == 0 &&
         PatientsSoFar(db) <= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  // Into the empty database the import dropped the value indexes (deferred_indexes holds
  // them) and was killed before rebuilding them.
  const std::string kPending = "SELECT COUNT(*) FROM deferred_indexes";
  const std::string kValueIndexes =
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'index\\_%\\_value'"
      " ESCAPE '\\'";
  // (Resources written means the deferral, which comes first, is done.)
  const int64_t imported_after_kill =
      QueryInt(db, "SELECT COUNT(*) FROM current_resources WHERE type = 'Patient'");
  if (imported_after_kill > 0 && imported_after_kill < 2 * kFiles) {
    EXPECT_EQ(QueryInt(db, kPending), 6) << "an import into an empty database defers 6 indexes";
    EXPECT_EQ(QueryInt(db, kValueIndexes), 1);
  }
  TestServer server(db);
  // The server's start finished the rebuild before serving.
  EXPECT_EQ(QueryInt(db, kPending), 0);
  EXPECT_EQ(QueryInt(db, kValueIndexes), 7);
  HttpClient client("127.0.0.1", server.Port());
  int complete = 0;
  for (int i = 0; i < kFiles; ++i) {
    int count = CountTag(client, "imp" + std::to_string(i));
    EXPECT_TRUE(count == 0 || count == 2) << "bundle " << i << " half imported";
    if (count == 2)
      ++complete;
  }
  EXPECT_GT(complete, 0) << "the import made no progress before the kill";
}

// An import runs to its end: the value indexes it deferred are all back, nothing pending.
TEST(DurabilityTest, ImportRebuildsTheIndexesItDeferred) {
  TempDir dir;
  std::filesystem::path data = dir.Path() / "bundles";
  std::filesystem::create_directories(data);
  for (int i = 0; i < 20; ++i) {
    std::ofstream(data / ("b" + std::to_string(100 + i) + ".json"))
        << PairBundle("done" + std::to_string(i)).dump();
  }
  std::filesystem::path db = dir.Path() / "import.db";
  std::string output;
  ASSERT_EQ(RunProgram({"import", "--db", db.string(), data.string()}, &output), 0) << output;
  EXPECT_NE(output.find("search value indexes deferred and rebuilt"), std::string::npos) << output;
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM deferred_indexes"), 0);
  EXPECT_EQ(QueryInt(db,
                     "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE"
                     " 'index\\_%\\_value' ESCAPE '\\'"),
            7);
  // A second import into the now larger database keeps the indexes.
  std::filesystem::path more = dir.Path() / "more";
  std::filesystem::create_directories(more);
  std::ofstream(more / "b.json") << PairBundle("more").dump();
  ASSERT_EQ(RunProgram({"import", "--db", db.string(), more.string()}, &output), 0) << output;
  EXPECT_EQ(output.find("deferred"), std::string::npos) << output;
}

TEST(DurabilityTest, SigtermShutsDownCleanly) {
  TempDir dir;
  TestServer server(dir.Path() / "term.db");
  HttpClient client("127.0.0.1", server.Port());
  ASSERT_EQ(client.Get("/metadata").status, 200);
  server.Process().Kill(SIGTERM);
  auto status = server.Process().Wait(std::chrono::seconds(15));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 0);
}

}  // namespace
}  // namespace medalliance::integration
