// SQLite-specific behaviour: files, durability, crash safety, concurrency, migrations, busy
// retries. Back-end-neutral behaviour lives in tests/store/conformance_test.cc.

#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sql/migrations.h"
#include "store/sqlite/old_schema_util.h"
#include "store/store_test_util.h"

namespace medalliance::store {
namespace {

using testing::MakeResource;
using testing::TempDir;

class SqliteStoreTest : public ::testing::Test {
 protected:
  SqliteOptions FileOptions() const {
    SqliteOptions options;
    options.path = dir_.Path() + "/a/b/store.sqlite";
    options.reader_pool_size = 2;
    return options;
  }

  static std::unique_ptr<SqliteStore> OpenOrDie(const SqliteOptions& options) {
    auto opened = SqliteStore::Open(options);
    EXPECT_TRUE(opened.has_value()) << opened.error().GetMessage();
    return opened.has_value() ? std::move(opened).value() : nullptr;
  }

  static std::optional<StoredResource> Current(Store& store, const std::string& type,
                                               const std::string& id) {
    std::optional<StoredResource> found;
    core::Status status = store.Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(found, tx.ReadCurrent(type, id));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return found;
  }

  static int64_t Count(Store& store, const std::string& sql) {
    int64_t count = -1;
    core::Status status = store.Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(count, tx.QueryCount({sql, {}}));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return count;
  }

  TempDir dir_;
};

TEST_F(SqliteStoreTest, CreatesParentDirectoriesAndUsesWal) {
  SqliteOptions options = FileOptions();
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(options.path));
  ASSERT_TRUE(store->Write([](WriteTx& tx) {
    StoredResource resource = MakeResource("Patient", "p1", 1, 1000);
    return tx.PutVersion(resource, {});
  }));
  EXPECT_TRUE(std::filesystem::exists(options.path + "-wal"));
}

TEST_F(SqliteStoreTest, CommittedWriteIsVisibleAfterReopen) {
  const SqliteOptions options = FileOptions();
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write([](WriteTx& tx) {
      StoredResource resource = MakeResource("Patient", "p1", 1, 1000, R"({"x":1})");
      return tx.PutVersion(resource, {});
    }));
  }
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  std::optional<StoredResource> found = Current(*reopened, "Patient", "p1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->json, R"({"x":1})");
}

// The bulk-load settings of `medalliance import` apply to the writer only: its page cache is
// larger, the readers keep the shared size, and the WAL grows past SQLite's default 1000 pages
// before a commit copies it back. Left alone, the options keep SQLite's behaviour.
TEST_F(SqliteStoreTest, WriterCacheAndCheckpointIntervalApplyToTheWriterOnly) {
  auto cache_size = [](Store& store, bool write) {
    int64_t value = 0;
    auto fn = [&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(value, tx.QueryCount({"SELECT * FROM pragma_cache_size()", {}}));
      return core::Ok{};
    };
    core::Status status = write ? store.Write([&](WriteTx& tx) { return fn(tx); }) : store.Read(fn);
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return value;
  };
  // Writes about 1,500 pages of 4 KiB, 50 per transaction; returns the WAL's largest size.
  auto write_pages = [](Store& store, const std::string& wal) {
    const std::string big(3500, 'x');
    uintmax_t largest = 0;
    for (int t = 0; t < 30; ++t) {
      EXPECT_TRUE(store.Write([&](WriteTx& tx) -> core::Status {
        for (int i = 0; i < 50; ++i) {
          StoredResource resource = MakeResource("Patient", std::to_string(t * 50 + i), 1, 1000,
                                                 R"({"x":")" + big + R"("})");
          MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
        }
        return core::Ok{};
      }));
      largest = std::max(largest, std::filesystem::file_size(wal));
    }
    return largest;
  };
  constexpr uintmax_t kFrame = 4096 + 24;
  SqliteOptions options = FileOptions();
  options.background_checkpoint = false;  // SQLite's autocheckpoint in the writer
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(cache_size(*store, true), -options.cache_size_kib);
    EXPECT_LT(write_pages(*store, options.path + "-wal"), 1200 * kFrame);
  }
  std::filesystem::remove_all(dir_.Path() + "/a");
  options.writer_cache_size_kib = 4 * options.cache_size_kib;
  options.wal_autocheckpoint_pages = 8000;
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(cache_size(*store, true), -options.writer_cache_size_kib);
  EXPECT_EQ(cache_size(*store, false), -options.cache_size_kib);
  EXPECT_GT(write_pages(*store, options.path + "-wal"), 1400 * kFrame);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM resources"), 1500);
}

// Background checkpoints (the default): commits never checkpoint below 2x the threshold; the
// thread copies the WAL back, and the WAL stays bounded (the writer's fallback from 2x) while
// every write survives a reopen.
TEST_F(SqliteStoreTest, BackgroundCheckpointsKeepTheWalBoundedOffTheCommitPath) {
  constexpr uintmax_t kFrame = 4096 + 24;
  SqliteOptions options = FileOptions();
  options.wal_autocheckpoint_pages = 200;
  const std::string big(3500, 'x');
  uintmax_t largest = 0;
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    auto* sqlite = dynamic_cast<SqliteStore*>(store.get());
    ASSERT_NE(sqlite, nullptr);
    for (int t = 0; t < 100; ++t) {
      ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
        for (int i = 0; i < 20; ++i) {
          StoredResource resource = MakeResource("Patient", std::to_string(t * 20 + i), 1, 1000,
                                                 R"({"x":")" + big + R"("})");
          MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
        }
        return core::Ok{};
      }));
      largest = std::max(largest, std::filesystem::file_size(options.path + "-wal"));
      if (t % 10 == 9)  // a pause now and then lets a checkpoint finish before the next write
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    SqliteStore::CheckpointStats stats = sqlite->GetCheckpointStats();
    EXPECT_GT(stats.background, 0);
    // ~2,000 pages written: without any checkpoint the WAL would hold them all. (2x the
    // threshold, plus what commits add while the thread is still copying.)
    EXPECT_LT(largest, 1200 * kFrame);
  }
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM resources"), 2000);
}

TEST_F(SqliteStoreTest, FailedTransactionLeavesNothingAfterReopen) {
  const SqliteOptions options = FileOptions();
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    core::Status status = store->Write([](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Patient", "p1", 1, 1000);
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
      return core::Error::Unprocessable("no");
    });
    EXPECT_FALSE(status.has_value());
  }
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_FALSE(Current(*reopened, "Patient", "p1").has_value());
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM resources"), 0);
}

TEST_F(SqliteStoreTest, MigrationsRunOnceAndAreRecorded) {
  const SqliteOptions options = FileOptions();
  int version = 0;
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    version = store->SchemaVersion();
  }
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->SchemaVersion(), version);
  // One row per migration (the numbers of merged branches' migrations may leave gaps).
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM schema_version"),
            static_cast<int64_t>(sql::SqliteMigrations().size()));
  EXPECT_EQ(Count(*reopened, "SELECT MAX(version) FROM schema_version"), version);
}

// Bulk load (medalliance import): the value indexes are dropped while the store is small,
// searches still find rows (by scanning), and the rebuild brings every index back.
TEST_F(SqliteStoreTest, DeferredValueIndexesAreRebuiltAndSearchesKeepWorking) {
  const SqliteOptions options = FileOptions();
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  const std::string kValueIndexes =
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'index\\_%\\_value'"
      " ESCAPE '\\'";
  EXPECT_EQ(Count(*store, kValueIndexes), 7);
  auto deferred = store->DeferValueIndexes(100);
  ASSERT_TRUE(deferred.has_value()) << deferred.error().GetMessage();
  EXPECT_TRUE(*deferred);
  EXPECT_EQ(Count(*store, kValueIndexes), 1);  // index_reference_value stays
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM deferred_indexes"), 6);
  ASSERT_TRUE(store->Write([](WriteTx& tx) {
    StoredResource resource = MakeResource("Patient", "p1", 1, 1000);
    IndexEntry entry;
    entry.param = "identifier";
    entry.system = "urn:s";
    entry.value = "v1";
    return tx.PutVersion(resource, {entry});
  }));
  const std::string kLookup =
      "SELECT COUNT(*) FROM index_token WHERE type = 'Patient' AND param = 'identifier'"
      " AND value = 'v1' AND system = 'urn:s'";
  EXPECT_EQ(Count(*store, kLookup), 1);
  // A second deferral finds nothing left to drop.
  deferred = store->DeferValueIndexes(100);
  ASSERT_TRUE(deferred.has_value());
  EXPECT_FALSE(*deferred);
  ASSERT_TRUE(store->RebuildDeferredIndexes());
  EXPECT_EQ(Count(*store, kValueIndexes), 7);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM deferred_indexes"), 0);
  EXPECT_EQ(Count(*store, kLookup), 1);
  ASSERT_TRUE(store->RebuildDeferredIndexes());  // nothing pending: no change
  EXPECT_EQ(Count(*store, kValueIndexes), 7);
}

// The writer keeps savepoint sub-journals in memory (temp_store = MEMORY); a rebuild sorts with
// SQLite's default (on disk, bounded memory) and a small cache, and sets both back.
TEST_F(SqliteStoreTest, TheWriterKeepsItsTempStoreAndCacheAcrossARebuild) {
  auto store = OpenOrDie(FileOptions());
  ASSERT_NE(store, nullptr);
  auto pragma = [&](const std::string& name) {
    int64_t value = 0;
    EXPECT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(auto rows, tx.QueryRows(SqlQuery{"PRAGMA " + name, {}}));
      if (rows.size() == 1 && rows[0].size() == 1 && std::holds_alternative<int64_t>(rows[0][0]))
        value = std::get<int64_t>(rows[0][0]);
      return core::Ok{};
    }));
    return value;
  };
  EXPECT_EQ(pragma("temp_store"), 2);
  const int64_t cache_size = pragma("cache_size");
  EXPECT_LT(cache_size, -8192) << "the writer's cache is larger than the rebuild's";
  auto deferred = store->DeferValueIndexes(100);
  ASSERT_TRUE(deferred.has_value() && *deferred);
  ASSERT_TRUE(store->RebuildDeferredIndexes());
  EXPECT_EQ(pragma("temp_store"), 2);
  EXPECT_EQ(pragma("cache_size"), cache_size);
}

TEST_F(SqliteStoreTest, ValueIndexesStayWhenTheDatabaseIsLargerThanTheLoad) {
  auto store = OpenOrDie(FileOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](WriteTx& tx) -> core::Status {
    for (int i = 0; i < 3; ++i) {
      StoredResource resource = MakeResource("Patient", "p" + std::to_string(i), 1, 1000);
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
    }
    return core::Ok{};
  }));
  auto deferred = store->DeferValueIndexes(2);
  ASSERT_TRUE(deferred.has_value());
  EXPECT_FALSE(*deferred);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM deferred_indexes"), 0);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'index_token_value'"),
            1);
}

// A bulk load that never finished (killed): the next Open() rebuilds before serving.
TEST_F(SqliteStoreTest, OpenFinishesARebuildAnInterruptedBulkLoadLeft) {
  const SqliteOptions options = FileOptions();
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    auto deferred = store->DeferValueIndexes(0);
    ASSERT_TRUE(deferred.has_value());
    ASSERT_TRUE(*deferred);
  }
  {
    // Without SqliteStore: the state a crash leaves.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT (SELECT COUNT(*) FROM deferred_indexes),"
                                 " (SELECT COUNT(*) FROM sqlite_master WHERE name ="
                                 " 'index_string_value')",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 6);
    EXPECT_EQ(sqlite3_column_int(stmt, 1), 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM deferred_indexes"), 0);
  EXPECT_EQ(Count(*reopened,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                  " ('index_token_value', 'index_string_value', 'index_date_value',"
                  " 'index_number_value', 'index_quantity_value', 'index_uri_value',"
                  " 'index_reference_value')"),
            7);
}

// One row of every kind, as PutVersion takes them.
std::vector<IndexEntry> EveryKind(const std::string& status, int64_t day) {
  auto entry = [](std::string param, IndexKind kind) {
    IndexEntry e;
    e.param = std::move(param);
    e.kind = kind;
    return e;
  };
  std::vector<IndexEntry> rows;
  rows.push_back(entry("status", IndexKind::kToken));
  rows.back().system = "http://hl7.org/fhir/observation-status";
  rows.back().value = status;
  rows.push_back(rows.back());  // identical rows are stored once
  rows.push_back(entry("code", IndexKind::kToken));
  rows.back().system = "http://loinc.org";
  rows.back().value = "2345-7";
  rows.push_back(entry("code:text", IndexKind::kString));
  rows.back().value = "glucose";
  rows.back().raw = "Glucose";
  rows.push_back(entry("subject", IndexKind::kReference));
  rows.back().value = "Patient/p1";
  rows.push_back(entry("date", IndexKind::kDate));
  rows.back().low = day * 86'400'000;
  rows.back().high = (day + 1) * 86'400'000;
  rows.push_back(entry("probability", IndexKind::kNumber));
  rows.back().number = 0.25;
  rows.back().raw = "0.25";
  rows.push_back(entry("value-quantity", IndexKind::kQuantity));
  rows.back().number = 5.5;
  rows.back().system = "http://unitsofmeasure.org";
  rows.back().value = "mmol/L";
  rows.back().raw = "mmol/L";
  rows.push_back(entry("_profile", IndexKind::kUri));
  rows.back().value = "http://example.org/p";
  return rows;
}

TEST_F(SqliteStoreTest, AnUpdateRewritesOnlyTheIndexRowsThatChanged) {
  auto store = OpenOrDie(FileOptions());
  ASSERT_NE(store, nullptr);
  // The tables the rows are stored in (migration 0008; index_token ... are views over them).
  const std::vector<std::string> tables = {
      "index_token_rows",  "index_string_rows",   "index_reference_rows", "index_date_rows",
      "index_number_rows", "index_quantity_rows", "index_uri_rows"};
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource v1 = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(v1, EveryKind("preliminary", 20000)));
    // Count every row written to or deleted from an index table from now on.
    MA_RETURN_IF_ERROR(tx.Execute({"CREATE TABLE row_changes (n INTEGER NOT NULL)", {}}));
    MA_RETURN_IF_ERROR(tx.Execute({"INSERT INTO row_changes VALUES (0)", {}}));
    for (const std::string& table : tables) {
      for (std::string_view event : {"INSERT", "DELETE"}) {
        MA_RETURN_IF_ERROR(tx.Execute({"CREATE TRIGGER count_" + table + "_" + std::string(event) +
                                           " AFTER " + std::string(event) + " ON " + table +
                                           " BEGIN UPDATE row_changes SET n = n + 1; END",
                                       {}}));
      }
    }
    return core::Ok{};
  }));
  const std::string kAll =
      "SELECT (SELECT COUNT(*) FROM index_token) + (SELECT COUNT(*) FROM index_string) +"
      " (SELECT COUNT(*) FROM index_reference) + (SELECT COUNT(*) FROM index_date) +"
      " (SELECT COUNT(*) FROM index_number) + (SELECT COUNT(*) FROM index_quantity) +"
      " (SELECT COUNT(*) FROM index_uri)";
  EXPECT_EQ(Count(*store, kAll), 8);

  // Version 2: the status and the date change, six rows stay.
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource v2 = MakeResource("Observation", "o1", 2, 2000);
    return tx.PutVersion(v2, EveryKind("final", 20001));
  }));
  EXPECT_EQ(Count(*store, "SELECT n FROM row_changes"), 4);  // two deletes, two inserts
  EXPECT_EQ(Count(*store, kAll), 8);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token WHERE param = 'status' AND value ="
                  " 'final' AND system = 'http://hl7.org/fhir/observation-status'"),
            1);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token WHERE value = 'preliminary'"), 0);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_date WHERE low = 20001 * 86400000 AND"
                  " high = 20002 * 86400000"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_quantity WHERE number = 5.5 AND code ="
                  " 'mmol/L' AND system = 'http://unitsofmeasure.org' AND raw = 'mmol/L'"),
            1);

  // Version 3 drops a row and adds one of another kind; version 4 is a delete marker.
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    std::vector<IndexEntry> rows = EveryKind("final", 20001);
    rows.erase(rows.begin() + 2);  // code
    rows.push_back(rows[3]);       // a second reference
    rows.back().param = "performer";
    StoredResource v3 = MakeResource("Observation", "o1", 3, 3000);
    return tx.PutVersion(v3, rows);
  }));
  EXPECT_EQ(Count(*store, "SELECT n FROM row_changes"), 6);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token WHERE param = 'code'"), 0);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_reference WHERE value = 'Patient/p1'"), 2);
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource v4 = testing::MakeDeleteMarker("Observation", "o1", 4, 4000);
    return tx.PutVersion(v4, {});
  }));
  EXPECT_EQ(Count(*store, kAll), 0);
}

TEST_F(SqliteStoreTest, RefusesADatabaseWithANewerSchema) {
  const SqliteOptions options = FileOptions();
  { ASSERT_NE(OpenOrDie(options), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (9999, '9999_future', 0)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto opened = SqliteStore::Open(options);
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().GetMessage().find("newer"), std::string::npos);
}

TEST_F(SqliteStoreTest, UnwritableLocationIsUnavailable) {
  SqliteOptions options;
  options.path = "/proc/no-such-dir/store.sqlite";
  auto opened = SqliteStore::Open(options);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().GetCode(), core::ErrorCode::kUnavailable);
}

TEST_F(SqliteStoreTest, ReadsRunWhileAWriteIsOpenAndSeeTheLastCommit) {
  auto store = OpenOrDie(FileOptions());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](WriteTx& tx) {
    StoredResource resource = MakeResource("Patient", "p1", 1, 1000, R"({"v":1})");
    return tx.PutVersion(resource, {});
  }));
  std::promise<void> written;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread writer([&] {
    EXPECT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Patient", "p1", 2, 2000, R"({"v":2})");
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
      written.set_value();
      released.wait();  // hold the write transaction open
      return core::Ok{};
    }));
  });
  written.get_future().wait();
  // The write transaction is open and holds the write lock: a read must still complete, on
  // the last committed snapshot.
  auto start = std::chrono::steady_clock::now();
  std::optional<StoredResource> during = Current(*store, "Patient", "p1");
  auto elapsed = std::chrono::steady_clock::now() - start;
  release.set_value();
  writer.join();
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->version, 1);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_EQ(Current(*store, "Patient", "p1")->version, 2);
}

TEST_F(SqliteStoreTest, RetriesWhileAnotherProcessHoldsTheWriteLock) {
  SqliteOptions options = FileOptions();
  options.busy_timeout_ms = 20;
  options.max_attempts = 50;
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread unlocker([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  std::atomic<int> runs{0};
  core::Status status = store->Write([&](WriteTx& tx) {
    ++runs;
    StoredResource resource = MakeResource("Patient", "p1", 1, 1000);
    return tx.PutVersion(resource, {});
  });
  unlocker.join();
  sqlite3_close(other);
  EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
  EXPECT_EQ(runs.load(), 1) << "BEGIN IMMEDIATE waits before fn runs";
  EXPECT_TRUE(Current(*store, "Patient", "p1").has_value());
}

TEST_F(SqliteStoreTest, GivesUpAsUnavailableWhenTheLockIsNeverReleased) {
  SqliteOptions options = FileOptions();
  options.busy_timeout_ms = 5;
  options.max_attempts = 3;
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  core::Status status = store->Write([&](WriteTx& tx) {
    StoredResource resource = MakeResource("Patient", "p1", 1, 1000);
    return tx.PutVersion(resource, {});
  });
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnavailable);
}

// Each transaction writes Pair/a-N and Pair/b-N, then the child reports N through the pipe.
[[noreturn]] void WriteUntilKilled(const std::string& path, int report_fd) {
  SqliteOptions options;
  options.path = path;
  options.synchronous = SqliteSync::kFull;
  auto opened = SqliteStore::Open(options);
  if (!opened.has_value()) {
    _exit(2);
  }
  std::unique_ptr<SqliteStore> store = std::move(opened).value();
  const std::string padding(600, 'x');
  for (int64_t n = 1;; ++n) {
    core::Status status = store->Write([&](WriteTx& tx) -> core::Status {
      for (const char* half : {"a-", "b-"}) {
        StoredResource resource =
            MakeResource("Pair", half + std::to_string(n), 1, n,
                         R"({"resourceType":"Pair","pad":")" + padding + R"("})", "POST");
        IndexEntry entry;
        entry.param = "n";
        entry.value = std::to_string(n);
        MA_RETURN_IF_ERROR(tx.PutVersion(resource, {entry}));
      }
      return core::Ok{};
    });
    if (!status.has_value()) {
      _exit(3);
    }
    if (write(report_fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) {
      _exit(4);
    }
  }
}

TEST_F(SqliteStoreTest, SigkillKeepsEveryAcknowledgedWriteAndNoPartialTransaction) {
  const std::string path = dir_.Path() + "/crash.sqlite";
  std::mt19937 random(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      WriteUntilKilled(path, fds[1]);
    }
    close(fds[1]);
    // Wait for the first acknowledgement (so the kill lands mid-stream), then a random while.
    int64_t n = 0;
    int64_t acknowledged = 0;
    if (read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
      acknowledged = n;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 200));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited early with " << WEXITSTATUS(wait_status);
    while (read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
      acknowledged = std::max(acknowledged, n);
    }
    close(fds[0]);

    // Every round starts from a fresh file (removed below), as the child numbers from 1.
    auto store = OpenOrDie([&] {
      SqliteOptions options;
      options.path = path;
      return options;
    }());
    ASSERT_NE(store, nullptr);
    const int64_t a_count = Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE 'a-%'");
    const int64_t b_count = Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE 'b-%'");
    const int64_t max_a = Count(*store,
                                "SELECT COALESCE(MAX(CAST(substr(id, 3) AS INTEGER)), 0) FROM "
                                "resources WHERE id LIKE 'a-%'");
    const int64_t index_rows = Count(*store, "SELECT COUNT(*) FROM index_token WHERE param = 'n'");
    EXPECT_GT(acknowledged, 0) << "the child never committed";
    EXPECT_GE(max_a, acknowledged) << "an acknowledged transaction was lost";
    EXPECT_EQ(a_count, b_count) << "a transaction was partially applied";
    EXPECT_EQ(a_count, max_a) << "transactions are numbered without gaps";
    EXPECT_EQ(index_rows, 2 * a_count);
    EXPECT_LE(max_a, acknowledged + 1) << "at most the one in-flight commit is unacknowledged";
    std::printf("round %d: acknowledged %lld, stored %lld\n", round,
                static_cast<long long>(acknowledged), static_cast<long long>(max_a));
    store.reset();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
}

// ReadTx::Changes: a cache entry stamped in one transaction still holds in a later one while
// nothing was committed; a commit by this store (file or memory) or by another connection on
// the same file (another process, e.g. `medalliance import`) moves the marks, in every reader
// connection of the pool.
TEST_F(SqliteStoreTest, ChangeMarksMoveWithEveryCommitAndOnlyThen) {
  auto marks = [](Store& store) {
    ReadTx::ChangeMarks out{-5, -5};
    core::Status status = store.Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(std::optional<ReadTx::ChangeMarks> got, tx.Changes());
      if (!got.has_value())
        return core::Error::Internal("no change marks");
      out = *got;
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return out;
  };
  auto put = [](Store& store, const std::string& id) {
    ASSERT_TRUE(store.Write([&](WriteTx& tx) {
      StoredResource resource = MakeResource("Patient", id, 1, 1000, R"({"x":1})");
      return tx.PutVersion(resource, {});
    }));
  };
  const SqliteOptions options = FileOptions();
  auto store = OpenOrDie(options);
  auto other = OpenOrDie(options);  // another connection set, as another process would have
  ASSERT_NE(store, nullptr);
  ASSERT_NE(other, nullptr);
  // Settle: every pooled reader has seen the database once.
  for (int i = 0; i < 4; ++i) marks(*store);
  ReadTx::ChangeMarks before = marks(*store);
  for (int i = 0; i < 4; ++i) {
    ReadTx::ChangeMarks again = marks(*store);
    EXPECT_EQ(again.current, before.stamp) << "no commit: an entry stamped before still holds";
    EXPECT_EQ(again.stamp, again.current);
  }
  put(*other, "by-another-process");
  for (int i = 0; i < 2; ++i) {  // whichever pooled reader runs, the mark moved
    EXPECT_NE(marks(*store).current, before.stamp);
  }
  for (int i = 0; i < 4; ++i) marks(*store);
  before = marks(*store);
  put(*store, "by-this-store");
  EXPECT_NE(marks(*store).current, before.stamp);

  SqliteOptions memory;  // in memory: reads use the writer's connection
  auto in_memory = OpenOrDie(memory);
  ASSERT_NE(in_memory, nullptr);
  marks(*in_memory);
  before = marks(*in_memory);
  EXPECT_EQ(marks(*in_memory).current, before.stamp);
  put(*in_memory, "in-memory");
  EXPECT_NE(marks(*in_memory).current, before.stamp);
}

// Migration 0008 moves every row of 0001's index tables into the *_rows tables keyed by
// search_keys, and the views show them as they were; later writes find the migrated keys.
TEST_F(SqliteStoreTest, SearchKeysMigrationKeepsEveryRowAndItsKeysServeLaterWrites) {
  SqliteOptions options = FileOptions();
  std::filesystem::create_directories(std::filesystem::path(options.path).parent_path());
  // Two types' rows in every table at schema 7, as a binary before 0008 wrote them, and a
  // value index a killed bulk import left deferred.
  const std::vector<std::string> inserts = {
      "INSERT INTO index_token VALUES ('Observation', 'o1', 'status', 'http://s', 'final'),"
      " ('Observation', 'o1', 'code', 'http://loinc.org', '1-8'),"
      " ('Observation', 'o2', 'code', 'http://loinc.org', '1-8'),"
      " ('Patient', 'p1', 'gender', '', 'female')",
      "INSERT INTO index_string VALUES ('Patient', 'p1', 'name', 'wang', 'Wang'),"
      " ('Patient', 'p1', 'name:cjk', '王', '')",
      "INSERT INTO index_reference VALUES ('Observation', 'o1', 'subject', 'Patient/p1'),"
      " ('Observation', 'o2', 'subject', 'Patient/p1')",
      "INSERT INTO index_date VALUES ('Observation', 'o1', 'date', 1000, 2000)",
      "INSERT INTO index_number VALUES ('Observation', 'o1', 'probability', 0.25, '0.25')",
      "INSERT INTO index_quantity VALUES"
      " ('Observation', 'o1', 'value-quantity', 5.5, 'http://unitsofmeasure.org', 'mmol/L',"
      " 'mmol/L')",
      "INSERT INTO index_uri VALUES ('Patient', 'p1', '_profile', 'http://example.org/p')",
      "INSERT INTO deferred_indexes SELECT name, sql FROM sqlite_master"
      " WHERE name = 'index_token_value'",
      "DROP INDEX index_token_value"};
  // Every row of the seven tables (or views), one line each, in order.
  const std::string kEveryRow =
      "SELECT group_concat(k, ';') FROM (SELECT k FROM ("
      " SELECT 'token ' || type || ' ' || id || ' ' || param || ' ' || system || '|' || value"
      "   AS k FROM index_token"
      " UNION ALL SELECT 'string ' || type || ' ' || id || ' ' || param || ' ' || value || '|' ||"
      "   raw FROM index_string"
      " UNION ALL SELECT 'reference ' || type || ' ' || id || ' ' || param || ' ' || value"
      "   FROM index_reference"
      " UNION ALL SELECT 'date ' || type || ' ' || id || ' ' || param || ' ' || low || '|' ||"
      "   high FROM index_date"
      " UNION ALL SELECT 'number ' || type || ' ' || id || ' ' || param || ' ' || number ||"
      "   '|' || raw FROM index_number"
      " UNION ALL SELECT 'quantity ' || type || ' ' || id || ' ' || param || ' ' || number ||"
      "   '|' || system || '|' || code || '|' || raw FROM index_quantity"
      " UNION ALL SELECT 'uri ' || type || ' ' || id || ' ' || param || ' ' || value"
      "   FROM index_uri) ORDER BY k)";
  std::string before;
  {
    sqlite3* db = testing::CreateDatabaseAt(options.path, 7);
    for (const std::string& insert : inserts) testing::ExecOrFail(db, insert);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, kEveryRow.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    before = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  ASSERT_EQ(std::count(before.begin(), before.end(), ';'), 11) << before;
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  // The WAL the migration wrote was copied back and truncated at start.
  EXPECT_EQ(std::filesystem::file_size(options.path + "-wal"), 0u);
  std::string after;
  ASSERT_TRUE(store->Read([&](ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(std::vector<SqlRow> rows, tx.QueryRows({kEveryRow, {}}));
    if (!rows.empty() && std::holds_alternative<std::string>(rows[0][0]))
      after = std::get<std::string>(rows[0][0]);
    return core::Ok{};
  }));
  EXPECT_EQ(after, before);
  EXPECT_EQ(Count(*store, "SELECT MAX(version) FROM schema_version"), 8);
  // Every row is there, under its old names and columns, and only those.
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token"), 4);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token WHERE type = 'Observation' AND param = 'code'"
                  " AND system = 'http://loinc.org' AND value = '1-8'"),
            2);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token WHERE type = 'Patient' AND id = 'p1' AND"
                  " param = 'gender' AND value = 'female' AND system = ''"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_string WHERE param = 'name:cjk' AND"
                  " value = '王' AND raw = '' AND id = 'p1'"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_reference WHERE type = 'Observation' AND"
                  " param = 'subject' AND value = 'Patient/p1'"),
            2);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_date WHERE low = 1000 AND high = 2000"), 1);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_number WHERE number = 0.25 AND raw = '0.25'"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_quantity WHERE number = 5.5 AND code ="
                  " 'mmol/L' AND system = 'http://unitsofmeasure.org' AND raw = 'mmol/L'"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_uri WHERE id = 'p1' AND"
                  " value = 'http://example.org/p'"),
            1);
  // One key per type (t = p) and per (type, param); the deferred index is back.
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM search_keys WHERE param = '' AND t = p"), 2);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM search_keys WHERE param <> ''"), 10);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM deferred_indexes"), 0);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND"
                  " tbl_name LIKE 'index_%_rows' AND name LIKE 'index_%_value'"),
            7);
  // Writes use the migrated keys: an update of o1 keeps its code row and drops the others.
  const int64_t keys = Count(*store, "SELECT COUNT(*) FROM search_keys");
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource v1 = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(v1, {}));  // (its rows came with the old database)
    IndexEntry code;
    code.param = "code";
    code.system = "http://loinc.org";
    code.value = "1-8";
    StoredResource v2 = MakeResource("Observation", "o1", 2, 2000);
    return tx.PutVersion(v2, {code});
  }));
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM search_keys"), keys);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token WHERE id = 'o1'"), 1);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_date WHERE id = 'o1'"), 0);
}

// A key written in a transaction that is rolled back is gone with it: the writer's key cache
// must not keep it, or the next rows would name a key that no view can resolve.
TEST_F(SqliteStoreTest, ASearchKeyOfARolledBackWriteIsCreatedAgain) {
  auto store = OpenOrDie(FileOptions());
  ASSERT_NE(store, nullptr);
  auto colour = [](const std::string& value) {
    IndexEntry entry;
    entry.param = "colour";
    entry.value = value;
    return std::vector<IndexEntry>{entry};
  };
  core::Status failed = store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Fresh", "f1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, colour("red")));
    return core::Error::Unprocessable("refused after writing");
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM search_keys WHERE type = 'Fresh'"), 0);
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Fresh", "f2", 1, 1000);
    return tx.PutVersion(resource, colour("blue"));
  }));
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token WHERE type = 'Fresh' AND"
                  " param = 'colour' AND value = 'blue' AND id = 'f2'"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token_rows r WHERE NOT EXISTS"
                  " (SELECT 1 FROM search_keys k WHERE k.p = r.p AND k.t = r.t)"),
            0);
}

}  // namespace
}  // namespace medalliance::store
