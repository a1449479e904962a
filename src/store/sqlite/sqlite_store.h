#pragma once
// SqliteStore: the embedded SQLite back end of store::Store (see store/store.h).
//
// One file in WAL mode. Writes go through a single writer connection guarded by a mutex
// (BEGIN IMMEDIATE, so a write transaction holds the database write lock from its start).
// Concurrent writes are committed in groups: the calls that queued while a transaction ran
// go together into the next one, each in its own SAVEPOINT (a failing one rolls back alone),
// and share its COMMIT (one fsync); each call returns only after that COMMIT. A write without
// concurrency runs alone, as a plain transaction. See Write() in sqlite_store.cc;
// reads take a connection from a pool of read-only connections and run in parallel with the
// write, each on its own snapshot. For ":memory:" there is one connection, so reads are
// routed to the writer connection and serialised with writes.
//
// Prepared statements are cached per connection. A transaction that meets SQLITE_BUSY past
// the busy timeout is rolled back and re-run (with backoff) a few times, then fails with
// kUnavailable.
//
// Thread-safety: all methods may be called from any thread. Read() and Write() must not be
// nested inside another Read()/Write() on the same thread (the writer mutex is not
// re-entrant, and the reader pool could run dry).
// Errors: as store.h; Open() also returns kUnavailable when the file cannot be opened or
// created, and kInternal when the database's schema is newer than this binary's migrations.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "store/store.h"

struct sqlite3;

namespace medalliance::store {

namespace internal {
class SqliteConnection;
}  // namespace internal

enum class SqliteSync {
  kFull,    // fsync the WAL at every commit: an acknowledged write survives power loss
  kNormal,  // fsync at checkpoints only: survives a process crash, may lose the last commits
            // on power loss
};

struct SqliteOptions {
  // ":memory:" or a file path; missing parent directories are created.
  std::string path = ":memory:";
  SqliteSync synchronous = SqliteSync::kFull;
  int cache_size_kib = 64 * 1024;  // page cache per connection
  int busy_timeout_ms = 5000;      // wait for another process's lock before SQLITE_BUSY
  int reader_pool_size = 4;        // read connections (file databases only); at least 1
  int max_attempts = 5;            // runs of a transaction that meets SQLITE_BUSY
  // The writer's page cache, when larger than cache_size_kib (a bulk load's B-tree pages).
  int writer_cache_size_kib = 0;
  // WAL pages after which a commit copies the WAL back into the database (SQLite's
  // wal_autocheckpoint; 1000 is SQLite's default). A bulk load checkpoints less often: a page
  // rewritten by many commits is copied back once per checkpoint.
  int wal_autocheckpoint_pages = 1000;
  // Checkpoint in a background thread, off the commit path (file databases): a commit that
  // leaves the WAL at wal_autocheckpoint_pages or more wakes a thread that runs a PASSIVE
  // checkpoint on a connection of its own, so no commit waits for the copy back and its
  // fsync. Should the WAL reach 2x that (the thread cannot keep up), the committing writer
  // checkpoints itself, as SQLite's autocheckpoint does. Durability is the same: every commit
  // still syncs the WAL (synchronous=FULL). false: SQLite's autocheckpoint in the writer.
  bool background_checkpoint = true;
  // Stamps schema_version.applied_at; nullptr means the system clock. Not owned.
  const core::Clock* clock = nullptr;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database, applies pending migrations in one transaction,
  // and opens the reader pool.
  static core::Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  core::Status Read(const std::function<core::Status(ReadTx&)>& fn) override;
  core::Status Write(const std::function<core::Status(WriteTx&)>& fn) override;
  // First all fns in one transaction without savepoints (TryWriteAll); when one of them
  // fails, the fns join the group-commit queue together, in order, so they share transactions
  // (at most 64 per transaction, with others' writes queued before them), each in its own
  // savepoint.
  std::vector<core::Status> WriteEach(
      std::span<const std::function<core::Status(WriteTx&)>> fns) override;
  int SchemaVersion() const override { return schema_version_; }

  // Bulk load (`medalliance import`): when the database holds at most `max_resources`
  // resource versions, drops the value indexes of the search-index tables (token, string,
  // date, number, quantity, uri; reference's stays: write hooks look Persons and roles up by
  // reference during an import), recording each in `deferred_indexes` in the same transaction.
  // Rows then go into one B-tree each; RebuildDeferredIndexes() sorts them into the indexes
  // at the end, far cheaper than inserting each row in the middle of a value index. Until
  // then, searches on those tables scan the resource type's rows (correct, slower). Returns
  // whether it dropped them. Errors: as Write().
  core::Result<bool> DeferValueIndexes(int64_t max_resources);
  // Recreates the indexes DeferValueIndexes() dropped, in one transaction with the removal
  // of their `deferred_indexes` rows; nothing when none are pending. Open() calls it, so a
  // bulk load killed half-way is finished before the database serves. Errors: as Write().
  core::Status RebuildDeferredIndexes();

  // The dialect of this back end ("?n" placeholders).
  static const Dialect& SqliteDialect();

  // Group commit counters since Open: transactions run by Write() and the calls they held
  // (writes / batches is the mean batch size; re-runs of a failed batch are not counted).
  struct BatchStats {
    int64_t batches = 0;
    int64_t writes = 0;
    int64_t queued = 0;  // calls waiting for the next batch now
  };
  BatchStats GetBatchStats() const;

  // Checkpoints run since Open: by the background thread, and by the writer itself (the
  // background mode's fallback at 2x the threshold; SQLite's own autocheckpoint is not counted).
  struct CheckpointStats {
    int64_t background = 0;
    int64_t in_writer = 0;
  };
  CheckpointStats GetCheckpointStats() const;

 private:
  SqliteStore(SqliteOptions options, std::unique_ptr<internal::SqliteConnection> writer,
              std::vector<std::unique_ptr<internal::SqliteConnection>> readers, int schema_version);

  struct PendingWrite;
  // Runs a group of queued writes (see Write()); sets each one's result.
  void RunBatch(std::vector<PendingWrite*>& batch);
  // WriteEach's first attempt: every fn in one transaction, no savepoints; nullopt (all rolled
  // back) when one fails or the transaction does.
  std::optional<std::vector<core::Status>> TryWriteAll(
      std::span<const std::function<core::Status(WriteTx&)>> fns);

  // The writer's sqlite3_wal_hook (after each commit, with the WAL's size in pages).
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int pages);
  void RunCheckpointer();
  void StopCheckpointer();

  std::unique_ptr<internal::SqliteConnection> AcquireReader();
  void ReleaseReader(std::unique_ptr<internal::SqliteConnection> reader);

  const SqliteOptions options_;
  const int schema_version_;

  std::mutex writer_mutex_;
  std::unique_ptr<internal::SqliteConnection> writer_;  // guarded by writer_mutex_
  std::atomic<int64_t> generation_{1};  // ReadTx::Changes: moves with every commit seen

  // Group commit: writes waiting for a leader, whether one is running a batch, counters.
  mutable std::mutex queue_mutex_;
  std::condition_variable batch_done_;
  std::deque<PendingWrite*> queue_;  // guarded by queue_mutex_
  bool leading_ = false;             // guarded by queue_mutex_
  int64_t batches_ = 0;              // guarded by queue_mutex_
  int64_t batched_writes_ = 0;       // guarded by queue_mutex_

  // Background checkpoints (SqliteOptions::background_checkpoint).
  std::unique_ptr<internal::SqliteConnection> checkpointer_;  // used by checkpoint_thread_ only
  mutable std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wanted_;
  bool checkpoint_requested_ = false;   // guarded by checkpoint_mutex_
  bool checkpoint_stopping_ = false;    // guarded by checkpoint_mutex_
  bool checkpoint_running_ = false;     // guarded by checkpoint_mutex_
  int64_t background_checkpoints_ = 0;  // guarded by checkpoint_mutex_
  int64_t writer_checkpoints_ = 0;      // guarded by checkpoint_mutex_
  std::thread checkpoint_thread_;

  std::mutex readers_mutex_;
  std::condition_variable reader_released_;
  std::vector<std::unique_ptr<internal::SqliteConnection>> readers_;  // free readers
};

}  // namespace medalliance::store
