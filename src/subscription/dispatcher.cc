#include "subscription/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <spdlog/spdlog.h>

#include "core/time.h"

namespace medalliance::subscription {

using fhir::Json;

namespace {

// After a poke, the write may not have committed yet: poll this often for this long.
constexpr std::chrono::milliseconds kPokePoll{2};
constexpr std::chrono::milliseconds kPokeWindow{250};
constexpr core::EpochMillis kIdlePollMs = 1000;

void AppendEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

Dispatcher::Dispatcher(store::Store& store, const store::ResourceWriter& writer,
                       Transport& transport, const core::Clock& clock, SubscriptionCache& cache,
                       DispatcherOptions options)
    : store_(store),
      writer_(writer),
      transport_(transport),
      clock_(clock),
      cache_(cache),
      options_(std::move(options)),
      base_url_(options_.base_url) {}

Dispatcher::~Dispatcher() {
  Stop();
}

void Dispatcher::Start() {
  std::lock_guard lock(mutex_);
  if (running_)
    return;
  running_ = true;
  stopping_ = false;
  loop_ = std::thread([this] { RunLoop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i)
    workers_.emplace_back([this] { RunWorker(); });
}

void Dispatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_)
      return;
    stopping_ = true;
  }
  wake_.notify_all();
  work_ready_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (loop_.joinable())
    loop_.join();
  // Completed deliveries are flushed so they are not sent again after a restart.
  std::vector<Done> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(done_);
    running_ = false;
  }
  if (!done.empty()) {
    if (auto flushed = Flush(done); !flushed)
      spdlog::warn("subscription: flushing on stop failed: {}", flushed.error().GetMessage());
  }
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(mutex_);
    ++pokes_;
    last_poke_ = std::chrono::steady_clock::now();
  }
  wake_.notify_one();
}

void Dispatcher::SetBaseUrl(std::string base_url) {
  std::lock_guard lock(mutex_);
  base_url_ = std::move(base_url);
}

Dispatcher::Stats Dispatcher::GetStats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

core::EpochMillis Dispatcher::Backoff(int attempts) {
  double delay = static_cast<double>(options_.initial_backoff_ms);
  for (int i = 1; i < attempts && delay < static_cast<double>(options_.max_backoff_ms); ++i)
    delay *= 2;
  delay = std::min(delay, static_cast<double>(options_.max_backoff_ms));
  thread_local std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::max<core::EpochMillis>(1, static_cast<core::EpochMillis>(delay * jitter(random)));
}

void Dispatcher::RunLoop() {
  int64_t seen_pokes = -1;
  for (;;) {
    std::vector<Done> done;
    size_t in_flight = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_)
        return;
      done.swap(done_);
      seen_pokes = pokes_;
    }
    if (!done.empty()) {
      if (auto flushed = Flush(done); !flushed)
        spdlog::warn("subscription: recording deliveries failed: {}", flushed.error().GetMessage());
    }
    {
      std::lock_guard lock(mutex_);
      in_flight = in_flight_.size();
    }
    std::vector<QueueRow> due;
    std::optional<core::EpochMillis> next_due;
    core::EpochMillis now = clock_.Now();
    core::Status read = store_.Read([&](store::ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(due, Due(tx, now, options_.batch + static_cast<int>(in_flight)));
      MA_ASSIGN_OR_RETURN(next_due, NextDue(tx));
      return {};
    });
    if (!read)
      spdlog::warn("subscription: reading the queue failed: {}", read.error().GetMessage());
    std::unique_lock lock(mutex_);
    bool added = false;
    for (QueueRow& row : due) {
      if (in_flight_.insert(row.seq).second) {
        work_.push_back(std::move(row));
        added = true;
      }
    }
    if (added)
      work_ready_.notify_all();
    auto wait = std::chrono::milliseconds(kIdlePollMs);
    if (next_due.has_value() && *next_due > now)
      wait = std::min(wait, std::chrono::milliseconds(*next_due - now));
    if (std::chrono::steady_clock::now() - last_poke_ < kPokeWindow)
      wait = std::min<std::chrono::milliseconds>(wait, kPokePoll);
    wake_.wait_for(lock, wait, [&] { return stopping_ || !done_.empty() || pokes_ != seen_pokes; });
  }
}

void Dispatcher::RunWorker() {
  for (;;) {
    QueueRow row;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (stopping_)
        return;
      row = std::move(work_.front());
      work_.pop_front();
    }
    Done done = Process(row);
    {
      std::lock_guard lock(mutex_);
      done_.push_back(std::move(done));
    }
    wake_.notify_one();
  }
}

Dispatcher::Done Dispatcher::Process(const QueueRow& row) {
  Done done;
  done.row = row;
  Notification notification;
  std::string drop;  // why the row is dropped
  std::string owner;
  std::string focus =
      row.resource_type + "/" + row.resource_id + "/_history/" + std::to_string(row.version);
  std::string base_url;
  {
    std::lock_guard lock(mutex_);
    base_url = base_url_;
  }
  core::Status read = store_.Read([&](store::ReadTx& tx) -> core::Status {
    drop.clear();
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("Subscription", row.subscription_id));
    if (!current.has_value() || current->deleted) {
      drop = "the subscription no longer exists";
      return {};
    }
    core::Result<Json> json = fhir::ParseJson(current->json);
    core::Result<Subscription> subscription =
        json ? ParseSubscription(*json) : core::Result<Subscription>(json.error());
    if (!subscription) {
      drop = "the subscription is not usable: " + subscription.error().GetMessage();
      return {};
    }
    if (!subscription->Live()) {
      drop = "the subscription is " + subscription->status;
      return {};
    }
    owner = subscription->owner;
    MA_ASSIGN_OR_RETURN(auto version,
                        tx.ReadVersion(row.resource_type, row.resource_id, row.version));
    if (!version.has_value() || version->deleted) {
      drop = "the matched version is not stored";
      return {};
    }
    if (options_.enforce_access) {
      if (owner.empty()) {
        drop = "the subscription has no owner member";
        return {};
      }
      store::Caller caller;
      caller.authenticated = true;
      caller.organization_id = owner;
      access::Session session(*options_.policy, caller);
      MA_ASSIGN_OR_RETURN(bool visible, session.Visible(tx, *version));
      if (!visible) {
        drop = "the owner may not read the matched resource";
        return {};
      }
    }
    notification.subscription_id = subscription->id;
    notification.channel = subscription->channel;
    notification.endpoint = subscription->endpoint;
    notification.headers = subscription->headers;
    notification.focus = focus;
    notification.enqueued_at = row.enqueued_at;
    notification.headers.emplace_back("X-Subscription-Id", subscription->id);
    if (subscription->channel == ChannelType::kRestHook && subscription->full_payload) {
      std::string body = R"({"resourceType":"Bundle","type":"history","timestamp":")";
      body += core::FormatInstant(clock_.Now());
      body += R"(","entry":[{"fullUrl":")";
      AppendEscaped(body, (base_url.empty() ? "" : base_url + "/") + row.resource_type + "/" +
                              row.resource_id);
      body += R"(","resource":)";
      body += version->json;
      body += R"(,"request":{"method":")";
      AppendEscaped(body, version->method.empty() ? "PUT" : version->method);
      body += R"(","url":")";
      AppendEscaped(body, row.resource_type + "/" + row.resource_id);
      body += R"("},"response":{"status":")";
      body += version->version == 1 ? "201 Created" : "200 OK";
      body += R"("}}]})";
      notification.content_type = "application/fhir+json";
      notification.body = std::move(body);
    }
    done.error = subscription->status;  // remembered for Flush (error -> active)
    return {};
  });
  if (!read) {
    done.outcome = Outcome::kFailed;
    done.error = "reading the notification failed: " + read.error().GetMessage();
    return done;
  }
  if (!drop.empty()) {
    done.outcome = Outcome::kDropped;
    done.error = drop;
    if (options_.enforce_access && options_.audit != nullptr && !owner.empty()) {
      audit::AuditRecord record;
      record.category = audit::AuditRecord::Category::kSecurity;
      record.subtype = "refusal";
      record.action = "E";
      record.recorded = clock_.Now();
      record.outcome = "4";
      record.outcome_description = "subscription notification refused: " + drop;
      record.caller.authenticated = true;
      record.caller.organization_id = owner;
      record.entities = {"Subscription/" + row.subscription_id};
      options_.audit->Record(std::move(record));
    }
    return done;
  }
  std::string previous_status = done.error;
  core::Status sent = transport_.Deliver(notification);
  if (sent) {
    done.outcome = Outcome::kDelivered;
    done.error = previous_status;
  } else {
    done.outcome = Outcome::kFailed;
    done.error = sent.error().GetMessage();
  }
  return done;
}

core::Status Dispatcher::SetSubscriptionStatus(store::WriteTx& tx, const std::string& id,
                                               const std::string& status,
                                               const std::string& error) {
  MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("Subscription", id));
  if (!current.has_value() || current->deleted)
    return {};
  MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(current->json));
  if (json.GetStringMember("status") == status || json.GetStringMember("status") == "off")
    return {};
  json.Set("status", Json::MakeString(status));
  if (error.empty()) {
    json.Erase("error");
  } else {
    size_t length = std::min<size_t>(error.size(), 1000);
    while (length < error.size() && length > 0 &&
           (static_cast<unsigned char>(error[length]) & 0xC0) == 0x80)
      --length;  // not inside a UTF-8 sequence
    json.Set("error", Json::MakeString(error.substr(0, length)));
  }
  store::WriteScope scope;
  scope.caller = &system_caller_;
  scope.origin = kWriteOrigin;
  scope.now = clock_.Now();
  MA_RETURN_IF_ERROR(writer_.Update(tx, json, scope, current->version));
  cache_.Invalidate();
  return {};
}

core::Status Dispatcher::Flush(std::vector<Done>& done) {
  core::EpochMillis now = clock_.Now();
  struct StatusChange {
    std::string subscription_id;
    std::string status;
    std::string error;
  };
  std::vector<StatusChange> changes;
  core::Status written = store_.Write([&](store::WriteTx& tx) -> core::Status {
    changes.clear();  // Write() may re-run fn
    for (const Done& item : done) {
      switch (item.outcome) {
        case Outcome::kDelivered:
          MA_RETURN_IF_ERROR(Remove(tx, item.row.seq));
          if (item.error == "error")
            changes.push_back({item.row.subscription_id, "active", ""});
          break;
        case Outcome::kDropped:
          MA_RETURN_IF_ERROR(Remove(tx, item.row.seq));
          break;
        case Outcome::kFailed: {
          int attempts = item.row.attempts + 1;
          MA_RETURN_IF_ERROR(RecordFailure(tx, item.row.seq, item.error, now + Backoff(attempts)));
          if (attempts == options_.error_after)
            changes.push_back({item.row.subscription_id, "error", item.error});
          break;
        }
      }
    }
    return {};
  });
  // Each status change is a write of its own through the whole pipeline, after the queue's:
  // one that fails (a hook refuses it) is logged and must not hold the queue back.
  if (written) {
    for (const StatusChange& change : changes) {
      core::Status set = store_.Write([&](store::WriteTx& tx) {
        return SetSubscriptionStatus(tx, change.subscription_id, change.status, change.error);
      });
      if (!set) {
        spdlog::warn("subscription: setting Subscription/{} to {} failed: {}",
                     change.subscription_id, change.status, set.error().GetMessage());
      }
    }
  }
  std::lock_guard lock(mutex_);
  for (const Done& item : done) {
    in_flight_.erase(item.row.seq);
    if (!written)
      continue;
    if (item.outcome == Outcome::kDelivered) {
      ++stats_.delivered;
    } else if (item.outcome == Outcome::kDropped) {
      ++stats_.dropped;
    } else {
      ++stats_.failed_attempts;
    }
  }
  return written;
}

}  // namespace medalliance::subscription
