#pragma once
// The subscription write hook (doc/subscriptions.md). Wired after the other hooks, before the
// audit hook, for writes made for a request:
//  - a Subscription write is checked (ParseSubscription: 400/422 naming the problem), status
//    requested becomes active, and the cache of live subscriptions is marked stale;
//  - any other write is matched against the live subscriptions of its type, over the index
//    rows of the final new content (search::MatchCriteria), and each match is enqueued in the
//    same transaction (commit = enqueued). Nothing is sent from here: `on_enqueue` only wakes
//    the dispatcher, which finds nothing if the transaction rolls back.
//
// Deletes notify nothing. Writes by local tools (import) are not matched.
//
// Thread-safety: shared by all request threads; the cache is guarded. SQLite runs one write
// transaction at a time, and the cache is reloaded inside one, so it never misses a committed
// Subscription write.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "store/hooks.h"
#include "subscription/subscription.h"

namespace medalliance::subscription {

// The live (active or error) subscriptions by resource type, loaded from the store.
class SubscriptionCache {
 public:
  using ByType = std::unordered_map<std::string, std::vector<std::shared_ptr<const Subscription>>>;
  // The current snapshot, reloaded through `tx` when stale.
  core::Result<std::shared_ptr<const ByType>> Get(store::ReadTx& tx);
  void Invalidate();

 private:
  std::mutex mutex_;
  bool stale_ = true;
  std::shared_ptr<const ByType> snapshot_;
};

class SubscriptionHook final : public store::WriteHook {
 public:
  // `cache` and `clock` are not owned. `on_enqueue` may be empty.
  SubscriptionHook(SubscriptionCache& cache, const core::Clock& clock,
                   std::function<void()> on_enqueue = {})
      : cache_(cache), clock_(clock), on_enqueue_(std::move(on_enqueue)) {}
  std::vector<std::string> Types() const override { return {}; }
  bool CallerOnly() const override { return true; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;
  // Replaces `on_enqueue`; call before requests run (not synchronised with them).
  void SetOnEnqueue(std::function<void()> on_enqueue) { on_enqueue_ = std::move(on_enqueue); }

 private:
  core::Status CheckSubscription(store::WriteEvent& event);

  SubscriptionCache& cache_;
  const core::Clock& clock_;
  std::function<void()> on_enqueue_;
};

}  // namespace medalliance::subscription
