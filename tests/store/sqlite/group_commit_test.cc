// Group commit in SqliteStore::Write: concurrent writes share one transaction and one COMMIT,
// each in its own savepoint; every acknowledged write is durable, and a failing write in a
// batch changes nothing for the others.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"

namespace medalliance::store {
namespace {

using testing::MakeResource;
using testing::TempDir;

// Writes Pair/a-<tag> and Pair/b-<tag> in one transaction.
core::Status WritePair(Store& store, const std::string& tag) {
  return store.Write([&](WriteTx& tx) -> core::Status {
    for (const char* half : {"a-", "b-"}) {
      StoredResource resource = MakeResource("Pair", half + tag, 1, 1);
      IndexEntry entry;
      entry.param = "tag";
      entry.value = tag;
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {entry}));
    }
    return core::Ok{};
  });
}

int64_t Count(Store& store, const std::string& sql) {
  int64_t count = -1;
  EXPECT_TRUE(store
                  .Read([&](ReadTx& tx) -> core::Status {
                    MA_ASSIGN_OR_RETURN(count, tx.QueryCount(SqlQuery{sql, {}}));
                    return core::Ok{};
                  })
                  .has_value());
  return count;
}

bool Exists(Store& store, const std::string& type, const std::string& id) {
  bool found = false;
  EXPECT_TRUE(store
                  .Read([&](ReadTx& tx) -> core::Status {
                    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
                    found = current.has_value();
                    return core::Ok{};
                  })
                  .has_value());
  return found;
}

std::unique_ptr<SqliteStore> OpenFile(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  options.synchronous = SqliteSync::kFull;
  return SqliteStore::Open(options).value();
}

// Holds the writer with a write that waits for `release`, until `queued` writes wait behind it.
class WriterBlock {
 public:
  WriterBlock(SqliteStore& store, int64_t queued) : store_(store), queued_(queued) {
    blocker_ = std::async(std::launch::async, [this] {
      return store_.Write([this](WriteTx& tx) -> core::Status {
        StoredResource resource = MakeResource("Block", "x", 1, 1);
        MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
        entered_.set_value();
        release_.get_future().wait();
        return core::Ok{};
      });
    });
    entered_.get_future().wait();
  }
  // Waits until the others queue (at most 10 s), then lets the blocking write commit.
  void Release() {
    for (int i = 0; i < 1000 && store_.GetBatchStats().queued < queued_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(store_.GetBatchStats().queued, queued_);
    release_.set_value();
    EXPECT_TRUE(blocker_.get().has_value());
  }

 private:
  SqliteStore& store_;
  int64_t queued_;
  std::promise<void> entered_;
  std::promise<void> release_;
  std::future<core::Status> blocker_;
};

TEST(GroupCommitTest, ConcurrentWritersAreAllDurable) {
  TempDir dir;
  const std::string path = dir.Path() + "/group.sqlite";
  constexpr int kThreads = 16;
  constexpr int kWrites = 40;
  int64_t batches = 0;
  {
    std::unique_ptr<SqliteStore> store = OpenFile(path);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int n = 0; n < kWrites; ++n) {
          if (!WritePair(*store, std::to_string(t) + "-" + std::to_string(n)).has_value())
            ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    SqliteStore::BatchStats stats = store->GetBatchStats();
    EXPECT_EQ(stats.writes, kThreads * kWrites);
    batches = stats.batches;
  }
  EXPECT_LT(batches, kThreads * kWrites) << "no two concurrent writes shared a commit";
  std::unique_ptr<SqliteStore> reopened = OpenFile(path);
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM resources WHERE id LIKE 'a-%'"),
            kThreads * kWrites);
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM resources WHERE id LIKE 'b-%'"),
            kThreads * kWrites);
  EXPECT_EQ(Count(*reopened, "SELECT COUNT(*) FROM index_token WHERE param = 'tag'"),
            2 * kThreads * kWrites);
}

TEST(GroupCommitTest, FailingWriteInABatchDoesNotAffectTheOthers) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/batch.sqlite");
  ASSERT_TRUE(WritePair(*store, "taken").has_value());
  const SqliteStore::BatchStats before = store->GetBatchStats();
  WriterBlock block(*store, 4);
  // Four writes queue behind the block and run as one batch: two succeed, one fails after
  // writing (its own Pair goes too), one conflicts with a version that exists.
  auto good1 = std::async(std::launch::async, [&] { return WritePair(*store, "good1"); });
  auto failing = std::async(std::launch::async, [&] {
    return store->Write([&](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Pair", "a-failing", 1, 1);
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
      return core::Error::Unprocessable("refused after writing");
    });
  });
  auto conflicting = std::async(std::launch::async, [&] { return WritePair(*store, "taken"); });
  auto good2 = std::async(std::launch::async, [&] { return WritePair(*store, "good2"); });
  block.Release();
  EXPECT_TRUE(good1.get().has_value());
  EXPECT_TRUE(good2.get().has_value());
  core::Status failed = failing.get();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().GetCode(), core::ErrorCode::kUnprocessable);
  core::Status conflict = conflicting.get();
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().GetCode(), core::ErrorCode::kConflict);
  const SqliteStore::BatchStats after = store->GetBatchStats();
  EXPECT_EQ(after.batches - before.batches, 2) << "the block, then one batch of four";
  EXPECT_EQ(after.writes - before.writes, 5);
  EXPECT_TRUE(Exists(*store, "Pair", "a-good1"));
  EXPECT_TRUE(Exists(*store, "Pair", "b-good1"));
  EXPECT_TRUE(Exists(*store, "Pair", "a-good2"));
  EXPECT_TRUE(Exists(*store, "Pair", "b-good2"));
  EXPECT_FALSE(Exists(*store, "Pair", "a-failing"));
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE '%-taken'"), 2);
}

// WriteEach (the importer's path): the fns run in order in one transaction, a later one sees
// an earlier one's writes, and one that fails is rolled back alone and gets its error.
TEST(GroupCommitTest, WriteEachRunsItsFnsInOrderInOneTransaction) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/each.sqlite");
  auto put = [](const std::string& id) {
    return [id](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Pair", id, 1, 1);
      return tx.PutVersion(resource, {});
    };
  };
  // All succeed: one transaction.
  {
    std::vector<std::function<core::Status(WriteTx&)>> fns = {put("zero-a"), put("zero-b")};
    const SqliteStore::BatchStats before = store->GetBatchStats();
    std::vector<core::Status> statuses = store->WriteEach(fns);
    const SqliteStore::BatchStats after = store->GetBatchStats();
    ASSERT_EQ(statuses.size(), 2U);
    EXPECT_TRUE(statuses[0].has_value() && statuses[1].has_value());
    EXPECT_EQ(after.batches - before.batches, 1);
    EXPECT_EQ(after.writes - before.writes, 2);
  }
  // One fails: the first attempt (all in one transaction) is rolled back whole, and the fns
  // run again each in its own savepoint, so "first" is written once and "third" sees it.
  std::vector<std::function<core::Status(WriteTx&)>> fns;
  fns.emplace_back(put("first"));
  fns.emplace_back([](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Pair", "failing", 1, 1);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, {}));
    return core::Error::Unprocessable("refused after writing");
  });
  fns.emplace_back([](WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto first, tx.ReadCurrent("Pair", "first"));
    if (!first.has_value())
      return core::Error::Internal("the first fn's write is not visible");
    StoredResource resource = MakeResource("Pair", "third", 1, 1);
    return tx.PutVersion(resource, {});
  });
  const SqliteStore::BatchStats before = store->GetBatchStats();
  std::vector<core::Status> statuses = store->WriteEach(fns);
  const SqliteStore::BatchStats after = store->GetBatchStats();
  ASSERT_EQ(statuses.size(), 3U);
  EXPECT_TRUE(statuses[0].has_value());
  ASSERT_FALSE(statuses[1].has_value());
  EXPECT_EQ(statuses[1].error().GetCode(), core::ErrorCode::kUnprocessable);
  EXPECT_TRUE(statuses[2].has_value()) << statuses[2].error().GetMessage();
  EXPECT_EQ(after.batches - before.batches, 1) << "one transaction for the three";
  EXPECT_EQ(after.writes - before.writes, 3);
  EXPECT_TRUE(Exists(*store, "Pair", "first"));
  EXPECT_FALSE(Exists(*store, "Pair", "failing"));
  EXPECT_TRUE(Exists(*store, "Pair", "third"));
  // Durable: a fresh open of the file sees both.
  store.reset();
  store = OpenFile(dir.Path() + "/each.sqlite");
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM resources WHERE type = 'Pair'"), 4);
}

// A write of an earlier fn in the same SQLite transaction counts for ReadTx::WroteType: a cache
// must not keep what a later fn read of it (the whole transaction may still roll back, and a
// rolled-back version's sequence is given to the next write).
TEST(GroupCommitTest, WroteTypeSeesTheWritesOfEarlierFnsInTheSameTransaction) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/wrote.sqlite");
  bool seen_by_second = false;
  bool seen_next_time = true;
  std::vector<std::function<core::Status(WriteTx&)>> fns;
  fns.emplace_back([](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("CodeSystem", "catalogue", 1, 1);
    return tx.PutVersion(resource, {});
  });
  fns.emplace_back([&](WriteTx& tx) -> core::Status {
    seen_by_second = tx.WroteType("CodeSystem");
    return core::Ok{};
  });
  std::vector<core::Status> statuses = store->WriteEach(fns);
  ASSERT_TRUE(statuses[0].has_value() && statuses[1].has_value());
  EXPECT_TRUE(seen_by_second);
  // The next transaction starts with nothing written.
  ASSERT_TRUE(store->Write([&](WriteTx& tx) -> core::Status {
    seen_next_time = tx.WroteType("CodeSystem");
    return core::Ok{};
  }));
  EXPECT_FALSE(seen_next_time);
}

// An item of a batch that is rolled back to its savepoint takes the search keys it created
// with it; the next item that needs them creates them again (the writer's key cache must not
// keep them, or its rows would name keys that no view can resolve).
TEST(GroupCommitTest, SearchKeysOfARolledBackItemAreCreatedAgain) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/keys.sqlite");
  auto put = [&](const std::string& id, bool fail) {
    return store->Write([&, id, fail](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Fresh", id, 1, 1);
      IndexEntry entry;
      entry.param = "colour";
      entry.value = id;
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {entry}));
      if (fail)
        return core::Error::Unprocessable("refused after writing");
      return core::Ok{};
    });
  };
  const SqliteStore::BatchStats before = store->GetBatchStats();
  WriterBlock block(*store, 2);
  // The failing write queues first, so that it runs first in the batch.
  auto failing = std::async(std::launch::async, [&] { return put("red", true); });
  for (int i = 0; i < 1000 && store->GetBatchStats().queued < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto good = std::async(std::launch::async, [&] { return put("blue", false); });
  block.Release();
  EXPECT_FALSE(failing.get().has_value());
  EXPECT_TRUE(good.get().has_value());
  EXPECT_EQ(store->GetBatchStats().batches - before.batches, 2) << "the block, then a batch of two";
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token WHERE type = 'Fresh' AND"
                  " param = 'colour' AND value = 'blue'"),
            1);
  EXPECT_EQ(Count(*store,
                  "SELECT COUNT(*) FROM index_token_rows r WHERE NOT EXISTS"
                  " (SELECT 1 FROM search_keys k WHERE k.p = r.p AND k.t = r.t)"),
            0);
}

// The index rows a batch item buffers are written before its RELEASE; an item that fails
// (its fn, or the writing of its rows) leaves none, and the next item's rows are all there.
TEST(GroupCommitTest, IndexRowsOfAFailedItemAreDroppedAndTheNextItemsAreAllWritten) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/rows.sqlite");
  // Inserting a row with the value 'boom' fails, as an I/O error would.
  ASSERT_TRUE(store->Write([](WriteTx& tx) -> core::Status {
    MA_RETURN_IF_ERROR(
        tx.Execute({"CREATE TRIGGER boom BEFORE INSERT ON index_token_rows"
                    " WHEN NEW.value = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                    {}}));
    return core::Ok{};
  }));
  const SqliteStore::BatchStats before = store->GetBatchStats();
  WriterBlock block(*store, 4);
  auto wait_queued = [&](int64_t queued) {
    for (int i = 0; i < 1000 && store->GetBatchStats().queued < queued; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  // In this order: a fn that fails after writing, a good one, one whose rows cannot be
  // written, a good one.
  auto failing = std::async(std::launch::async, [&] {
    return store->Write([&](WriteTx& tx) -> core::Status {
      StoredResource resource = MakeResource("Pair", "a-failing", 1, 1);
      IndexEntry entry;
      entry.param = "tag";
      entry.value = "failing";
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, {entry, entry}));
      return core::Error::Unprocessable("refused after writing");
    });
  });
  wait_queued(1);
  auto good1 = std::async(std::launch::async, [&] { return WritePair(*store, "good1"); });
  wait_queued(2);
  auto boom = std::async(std::launch::async, [&] { return WritePair(*store, "boom"); });
  wait_queued(3);
  auto good2 = std::async(std::launch::async, [&] { return WritePair(*store, "good2"); });
  block.Release();
  EXPECT_FALSE(failing.get().has_value());
  EXPECT_TRUE(good1.get().has_value());
  EXPECT_FALSE(boom.get().has_value());
  EXPECT_TRUE(good2.get().has_value());
  EXPECT_EQ(store->GetBatchStats().batches - before.batches, 2) << "the block, then one batch";
  EXPECT_FALSE(Exists(*store, "Pair", "a-failing"));
  EXPECT_FALSE(Exists(*store, "Pair", "a-boom"));
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token_rows"), 4);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token WHERE value = 'good1'"), 2);
  EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM index_token WHERE value = 'good2'"), 2);
}

TEST(GroupCommitTest, WriteThatThrowsInABatchFailsAloneAndReleasesTheOthers) {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenFile(dir.Path() + "/throw.sqlite");
  WriterBlock block(*store, 2);
  auto throwing = std::async(std::launch::async, [&] {
    return store->Write([](WriteTx&) -> core::Status { throw std::runtime_error("bug"); });
  });
  auto good = std::async(std::launch::async, [&] { return WritePair(*store, "good"); });
  block.Release();
  core::Status thrown = throwing.get();
  ASSERT_FALSE(thrown.has_value());
  EXPECT_EQ(thrown.error().GetCode(), core::ErrorCode::kInternal);
  EXPECT_TRUE(good.get().has_value());
  EXPECT_TRUE(Exists(*store, "Pair", "a-good"));
}

// A child process writes pairs from 8 threads (so commits are grouped) and reports each
// acknowledged pair through a pipe; it is killed with SIGKILL at a random moment.
[[noreturn]] void WriteConcurrentlyUntilKilled(const std::string& path, int report_fd) {
  std::unique_ptr<SqliteStore> store = OpenFile(path);
  std::vector<std::thread> threads;
  for (int32_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int32_t n = 0;; ++n) {
        if (!WritePair(*store, std::to_string(t) + "-" + std::to_string(n)).has_value())
          _exit(3);
        int32_t message[2] = {t, n};  // one pipe write of 8 bytes is atomic
        if (write(report_fd, message, sizeof message) != static_cast<ssize_t>(sizeof message))
          _exit(4);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  _exit(5);
}

TEST(GroupCommitTest, SigkillDuringGroupedCommitsKeepsEveryAcknowledgedWrite) {
  TempDir dir;
  const std::string path = dir.Path() + "/crash.sqlite";
  std::mt19937 random(std::random_device{}());
  for (int round = 0; round < 2; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      WriteConcurrentlyUntilKilled(path, fds[1]);
    }
    close(fds[1]);
    std::set<std::string> acknowledged;
    int32_t message[2];
    if (read(fds[0], message, sizeof message) == static_cast<ssize_t>(sizeof message))
      acknowledged.insert(std::to_string(message[0]) + "-" + std::to_string(message[1]));
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 300));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited early with " << WEXITSTATUS(wait_status);
    while (read(fds[0], message, sizeof message) == static_cast<ssize_t>(sizeof message))
      acknowledged.insert(std::to_string(message[0]) + "-" + std::to_string(message[1]));
    close(fds[0]);

    std::unique_ptr<SqliteStore> store = OpenFile(path);
    EXPECT_FALSE(acknowledged.empty()) << "the child never committed";
    size_t lost = 0;
    for (const std::string& tag : acknowledged) {
      if (!Exists(*store, "Pair", "a-" + tag) || !Exists(*store, "Pair", "b-" + tag))
        ++lost;
    }
    EXPECT_EQ(lost, 0u) << "acknowledged writes lost";
    EXPECT_EQ(Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE 'a-%'"),
              Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE 'b-%'"))
        << "a transaction was partially applied";
    std::printf("round %d: acknowledged %zu, stored %lld\n", round, acknowledged.size(),
                static_cast<long long>(
                    Count(*store, "SELECT COUNT(*) FROM resources WHERE id LIKE 'a-%'")));
    store.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
}

}  // namespace
}  // namespace medalliance::store
