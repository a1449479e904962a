#pragma once
// The durable notification queue (table subscription_queue, migration 0004): one row per
// (subscription, matched resource version), inserted in the write's own transaction, so a
// committed write has its notifications enqueued and nothing is lost on a crash. A row is
// deleted once delivered or dropped; a failed attempt keeps it with its attempt count, last
// error and the time of the next try.
//
// Thread-safety: plain functions over the caller's transaction.

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "store/store.h"

namespace medalliance::subscription {

struct QueueRow {
  int64_t seq = 0;  // queue order
  std::string subscription_id;
  std::string resource_type;
  std::string resource_id;
  int64_t version = 0;
  int attempts = 0;
  core::EpochMillis next_attempt_at = 0;
  core::EpochMillis enqueued_at = 0;
  std::string last_error;
};

core::Status Enqueue(store::WriteTx& tx, const std::string& subscription_id,
                     const std::string& type, const std::string& id, int64_t version,
                     core::EpochMillis now);
// Pending rows due at `now`, oldest first, at most `limit`.
core::Result<std::vector<QueueRow>> Due(store::ReadTx& tx, core::EpochMillis now, int limit);
// Every pending row (for tests and tools), oldest first.
core::Result<std::vector<QueueRow>> AllRows(store::ReadTx& tx);
// Delivered or dropped: the row goes.
core::Status Remove(store::WriteTx& tx, int64_t seq);
// A failed attempt: attempts + 1, the error and the next try.
core::Status RecordFailure(store::WriteTx& tx, int64_t seq, const std::string& error,
                           core::EpochMillis next_attempt_at);
// The earliest next_attempt_at of pending rows, or nullopt when the queue is empty.
core::Result<std::optional<core::EpochMillis>> NextDue(store::ReadTx& tx);

}  // namespace medalliance::subscription
