#include "subscription/hook.h"

#include "search/match.h"
#include "store/sql/schema.h"
#include "subscription/queue.h"

namespace medalliance::subscription {

using fhir::Json;

core::Result<std::shared_ptr<const SubscriptionCache::ByType>> SubscriptionCache::Get(
    store::ReadTx& tx) {
  {
    std::lock_guard lock(mutex_);
    if (!stale_ && snapshot_)
      return snapshot_;
    stale_ = false;
  }
  store::SqlQuery query{"SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
                            std::string(store::sql::kCurrentTable) + " c JOIN " +
                            std::string(store::sql::kResourcesTable) +
                            " r ON r.sequence = c.sequence WHERE c.type = ?1 AND c.deleted = 0",
                        {std::string("Subscription")}};
  core::Result<std::vector<store::StoredResource>> rows = tx.QueryResources(query);
  if (!rows) {
    Invalidate();
    return rows.error();
  }
  auto by_type = std::make_shared<ByType>();
  for (const store::StoredResource& row : *rows) {
    core::Result<Json> json = fhir::ParseJson(row.json);
    if (!json)
      continue;
    core::Result<Subscription> parsed = ParseSubscription(*json);
    if (!parsed || !parsed->Live())
      continue;
    auto subscription = std::make_shared<const Subscription>(std::move(parsed).value());
    (*by_type)[subscription->criteria.GetType()].push_back(std::move(subscription));
  }
  std::lock_guard lock(mutex_);
  snapshot_ = by_type;
  return std::shared_ptr<const ByType>(by_type);
}

void SubscriptionCache::Invalidate() {
  std::lock_guard lock(mutex_);
  stale_ = true;
}

core::Status SubscriptionHook::CheckSubscription(store::WriteEvent& event) {
  cache_.Invalidate();
  if (event.resource == nullptr)
    return {};
  Json& resource = *event.resource;
  MA_ASSIGN_OR_RETURN(Subscription parsed, ParseSubscription(resource));
  if (parsed.status == "requested")
    resource.Set("status", Json::MakeString("active"));
  return {};
}

core::Status SubscriptionHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.type == "Subscription")
    return CheckSubscription(event);
  if (event.resource == nullptr)
    return {};
  MA_ASSIGN_OR_RETURN(auto snapshot, cache_.Get(tx));
  auto it = snapshot->find(event.type);
  if (it == snapshot->end() || it->second.empty())
    return {};
  std::vector<store::IndexEntry> rows = search::IndexForMatch(*event.resource);
  std::optional<int64_t> version;
  bool enqueued = false;
  for (const auto& subscription : it->second) {
    if (!subscription->criteria.Matches(event.id, rows))
      continue;
    if (!version.has_value()) {
      // The version this write will store: one after the current one (a delete marker too).
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(event.type, event.id));
      version = current.has_value() ? current->version + 1 : 1;
    }
    MA_RETURN_IF_ERROR(Enqueue(tx, subscription->id, event.type, event.id, *version, clock_.Now()));
    enqueued = true;
  }
  if (enqueued && on_enqueue_)
    on_enqueue_();
  return {};
}

}  // namespace medalliance::subscription
