#pragma once
// The notification dispatcher (doc/subscriptions.md): a thread that reads due rows of the
// durable queue and a few workers that deliver them through the Transport, after the
// access rules: a notification is sent only when the subscription's owner member may read the
// matched version (access::Session, as a read by that member); otherwise it is dropped,
// nothing is sent, and the refusal goes to the audit trail.
//
// Delivery is at least once: a row is deleted only after the transport confirmed it, so a
// crash between commit and delivery (or during it) sends it after restart. Rows of a
// subscription that is off, deleted or unreadable are dropped. A failed attempt is retried
// after initial_backoff * 2^(attempts-1), capped at max_backoff, with +-20% jitter; after
// `error_after` failed attempts of a row the Subscription gets status "error" (and
// Subscription.error the last error), and it keeps being retried at the capped interval; a
// later success sets it back to "active". There is no ordering between notifications.
// Those status changes are writes of the server's own (store::SystemCaller
// kDispatcherComponent, origin kWriteOrigin) through the whole write pipeline
// (store::ResourceWriter): validated, hooked, indexed (a search by status finds them) and
// audited like any other write.
//
// Thread-safety: Wake() may be called from any thread (the write hook calls it); Start and
// Stop from the owner's thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "access/policy.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "store/hooks.h"
#include "store/store.h"
#include "subscription/hook.h"
#include "subscription/queue.h"
#include "subscription/subscription.h"

namespace medalliance::subscription {

// The dispatcher's status writes: their origin and the system caller's component.
inline constexpr std::string_view kWriteOrigin = "subscription";
inline constexpr std::string_view kDispatcherComponent = "subscription-dispatcher";

struct DispatcherOptions {
  int workers = 4;
  int batch = 256;  // rows read per pass
  core::EpochMillis initial_backoff_ms = 1000;
  core::EpochMillis max_backoff_ms = 5 * 60 * 1000;
  int error_after = 5;
  // Apply the access rules (authentication is on). A subscription without an owner then
  // delivers nothing.
  bool enforce_access = false;
  const access::Policy* policy = nullptr;  // required when enforce_access
  audit::AuditLog* audit = nullptr;        // refusals are recorded here when set
  std::string base_url;                    // fullUrl of notified resources
};

class Dispatcher {
 public:
  // Not owned: store, writer (the write pipeline of its Subscription status changes),
  // transport, clock, cache (invalidated when it changes a status).
  Dispatcher(store::Store& store, const store::ResourceWriter& writer, Transport& transport,
             const core::Clock& clock, SubscriptionCache& cache, DispatcherOptions options);
  ~Dispatcher();  // Stop()s
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the threads; pending rows of a previous run are delivered first.
  void Start();
  // Lets running deliveries finish (not the queue) and joins the threads. Idempotent.
  void Stop();
  // Something may have been enqueued (possibly not yet committed).
  void Wake();
  void SetBaseUrl(std::string base_url);

  struct Stats {
    int64_t delivered = 0;
    int64_t dropped = 0;
    int64_t failed_attempts = 0;
  };
  Stats GetStats() const;

 private:
  enum class Outcome { kDelivered, kDropped, kFailed };
  struct Done {
    QueueRow row;
    Outcome outcome = Outcome::kFailed;
    std::string error;
  };

  void RunLoop();
  void RunWorker();
  Done Process(const QueueRow& row);
  core::Status Flush(std::vector<Done>& done);
  core::Status SetSubscriptionStatus(store::WriteTx& tx, const std::string& id,
                                     const std::string& status, const std::string& error);
  core::EpochMillis Backoff(int attempts);

  store::Store& store_;
  const store::ResourceWriter& writer_;
  const store::Caller system_caller_ = store::SystemCaller(kDispatcherComponent);
  Transport& transport_;
  const core::Clock& clock_;
  SubscriptionCache& cache_;
  DispatcherOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;        // the loop: a poke, a completion, stop
  std::condition_variable work_ready_;  // the workers
  bool stopping_ = false;
  bool running_ = false;
  int64_t pokes_ = 0;
  std::chrono::steady_clock::time_point last_poke_{};
  std::deque<QueueRow> work_;
  std::vector<Done> done_;
  std::set<int64_t> in_flight_;  // seqs handed to workers and not yet flushed
  Stats stats_;
  std::string base_url_;
  std::thread loop_;
  std::vector<std::thread> workers_;
};

}  // namespace medalliance::subscription
