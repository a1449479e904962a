// Subscriptions over an in-memory store: the queue's states, the write hook (validation,
// matching, enqueue inside the write's transaction, nothing on rollback) and the dispatcher
// (delivery, retries with backoff, error status, access rules, resuming pending rows).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "access/policy.h"
#include "access/write_hook.h"
#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "fhir/r4/definitions.h"
#include "store/sqlite/sqlite_store.h"
#include "subscription/dispatcher.h"
#include "subscription/hook.h"
#include "subscription/queue.h"

namespace medalliance::subscription {
namespace {

using Json = nlohmann::json;

// Records notifications; fails the first `failures` deliveries.
class FakeTransport final : public Transport {
 public:
  core::Status Deliver(const Notification& notification) override {
    std::lock_guard lock(mutex_);
    ++attempts_;
    if (failures_ > 0) {
      --failures_;
      return core::Error::Unavailable("receiver answered 500");
    }
    delivered_.push_back(notification);
    return {};
  }
  void FailNext(int count) {
    std::lock_guard lock(mutex_);
    failures_ = count;
  }
  std::vector<Notification> Delivered() {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  int Attempts() {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

 private:
  std::mutex mutex_;
  int failures_ = 0;
  int attempts_ = 0;
  std::vector<Notification> delivered_;
};

bool WaitFor(const std::function<bool()>& condition, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    access::PolicyOptions policy_options;
    policy_options.clock = &clock_;
    policy_ = std::make_unique<access::Policy>(policy_options);
    access_hook_ = std::make_unique<access::AccessWriteHook>(*policy_);
    hook_ = std::make_unique<SubscriptionHook>(cache_, clock_);
    audit_hook_ = std::make_unique<audit::AuditWriteHook>(clock_);
    api::rest::RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames())
      config.resource_types.emplace_back(type);
    config.clock = &clock_;
    config.hooks = {access_hook_.get(), hook_.get(), audit_hook_.get()};  // audit last
    service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
  }
  void TearDown() override {
    if (dispatcher_)
      dispatcher_->Stop();
  }

  void StartDispatcher(DispatcherOptions options = {}) {
    options.policy = policy_.get();
    if (options.initial_backoff_ms == DispatcherOptions{}.initial_backoff_ms)
      options.initial_backoff_ms = 100;
    dispatcher_ = std::make_unique<Dispatcher>(*store_, service_->Writer(), transport_, clock_,
                                               cache_, options);
    hook_->SetOnEnqueue([this] { dispatcher_->Wake(); });
    dispatcher_->Start();
  }

  api::rest::FhirResponse Send(std::string method, std::string url, std::string body = {},
                               const store::Caller& caller = {}) {
    api::rest::FhirRequest request;
    request.method = std::move(method);
    size_t question = url.find('?');
    api::rest::SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = api::rest::ParseQueryString(url.substr(question + 1));
    request.body = std::move(body);
    request.content_type = "application/fhir+json";
    request.base_url = "http://test";
    request.SetCaller(caller);
    return service_->Handle(request);
  }
  std::string Create(const Json& resource, const store::Caller& caller = {}) {
    api::rest::FhirResponse response =
        Send("POST", resource["resourceType"], resource.dump(), caller);
    EXPECT_EQ(response.status, 201) << response.body;
    return Json::parse(response.body).value("id", "");
  }
  static Json RestHook(const std::string& criteria, bool full = true) {
    Json channel = {{"type", "rest-hook"}, {"endpoint", "http://127.0.0.1:9/hook"}};
    if (full)
      channel["payload"] = "application/fhir+json";
    return {{"resourceType", "Subscription"},
            {"status", "requested"},
            {"reason", "referrals"},
            {"criteria", criteria},
            {"channel", channel}};
  }
  static Json TaskFor(const std::string& owner) {
    return {{"resourceType", "Task"},
            {"status", "requested"},
            {"intent", "order"},
            {"owner", {{"reference", owner}}}};
  }
  std::vector<QueueRow> Queue() {
    std::vector<QueueRow> rows;
    EXPECT_TRUE(store_->Read([&](store::ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(rows, AllRows(tx));
      return {};
    }));
    return rows;
  }
  Json ReadJson(const std::string& path) {
    api::rest::FhirResponse response = Send("GET", path);
    EXPECT_EQ(response.status, 200) << response.body;
    return Json::parse(response.body);
  }
  // The Bundle entries' resources of a search.
  std::vector<Json> Search(const std::string& query) {
    std::vector<Json> out;
    for (const Json& entry : ReadJson(query).value("entry", Json::array()))
      out.push_back(entry["resource"]);
    return out;
  }
  // AuditEvents whose entity is `reference` (a prefix: "Subscription/x/_history/2").
  std::vector<Json> AuditsOf(const std::string& reference) {
    std::vector<Json> out;
    for (const Json& event : Search("AuditEvent?_count=1000")) {
      for (const Json& entity : event.value("entity", Json::array())) {
        if (entity.value("what", Json::object()).value("reference", "").rfind(reference, 0) == 0) {
          out.push_back(event);
          break;
        }
      }
    }
    return out;
  }
  static store::Caller Member(const std::string& organization) {
    store::Caller caller;
    caller.authenticated = true;
    caller.organization_id = organization;
    caller.roles = {"clinician"};
    return caller;
  }

  core::FakeClock clock_{1'800'000'000'000};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<access::Policy> policy_;
  std::unique_ptr<access::AccessWriteHook> access_hook_;
  SubscriptionCache cache_;
  std::unique_ptr<SubscriptionHook> hook_;
  std::unique_ptr<audit::AuditWriteHook> audit_hook_;
  std::unique_ptr<api::rest::RestService> service_;
  FakeTransport transport_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(SubscriptionTest, QueueRowsMoveFromPendingThroughFailureToRemoved) {
  ASSERT_TRUE(store_->Write(
      [&](store::WriteTx& tx) { return Enqueue(tx, "s1", "Task", "t1", 3, clock_.Now()); }));
  std::vector<QueueRow> rows = Queue();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].subscription_id, "s1");
  EXPECT_EQ(rows[0].version, 3);
  EXPECT_EQ(rows[0].attempts, 0);
  const int64_t seq = rows[0].seq;
  ASSERT_TRUE(store_->Write(
      [&](store::WriteTx& tx) { return RecordFailure(tx, seq, "refused", clock_.Now() + 500); }));
  ASSERT_TRUE(store_->Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto now_due, Due(tx, clock_.Now(), 10));
    EXPECT_TRUE(now_due.empty());
    MA_ASSIGN_OR_RETURN(auto later_due, Due(tx, clock_.Now() + 500, 10));
    EXPECT_EQ(later_due.size(), 1u);
    MA_ASSIGN_OR_RETURN(auto next, NextDue(tx));
    EXPECT_EQ(next, std::optional<core::EpochMillis>(clock_.Now() + 500));
    return {};
  }));
  rows = Queue();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_error, "refused");
  ASSERT_TRUE(store_->Write([&](store::WriteTx& tx) { return Remove(tx, seq); }));
  EXPECT_TRUE(Queue().empty());
}

TEST_F(SubscriptionTest, RequestedSubscriptionBecomesActive) {
  std::string id = Create(RestHook("Task?owner=Organization/sz-heart"));
  EXPECT_EQ(ReadJson("Subscription/" + id)["status"], "active");
}

TEST_F(SubscriptionTest, InvalidSubscriptionsAreRefusedNamingTheProblem) {
  api::rest::FhirResponse chained =
      Send("POST", "Subscription", RestHook("Task?owner.name=x").dump());
  EXPECT_EQ(chained.status, 400);
  EXPECT_NE(chained.body.find("owner.name"), std::string::npos) << chained.body;
  Json email = RestHook("Task");
  email["channel"] = {{"type", "email"}, {"endpoint", "mailto:a@b.c"}};
  api::rest::FhirResponse email_response = Send("POST", "Subscription", email.dump());
  EXPECT_EQ(email_response.status, 422);
  EXPECT_NE(email_response.body.find("email"), std::string::npos);
  Json no_endpoint = RestHook("Task");
  no_endpoint["channel"].erase("endpoint");
  EXPECT_EQ(Send("POST", "Subscription", no_endpoint.dump()).status, 422);
  Json xml = RestHook("Task");
  xml["channel"]["payload"] = "application/fhir+xml";
  EXPECT_EQ(Send("POST", "Subscription", xml.dump()).status, 422);
  Json header = RestHook("Task");
  header["channel"]["header"] = Json::array({"no colon"});
  EXPECT_EQ(Send("POST", "Subscription", header.dump()).status, 422);
}

TEST_F(SubscriptionTest, MatchingWritesAreEnqueuedWithTheirVersion) {
  std::string subscription = Create(RestHook("Task?owner=Organization/sz-heart"));
  std::string task = Create(TaskFor("Organization/sz-heart"));
  Create(TaskFor("Organization/gz-central"));
  std::vector<QueueRow> rows = Queue();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].subscription_id, subscription);
  EXPECT_EQ(rows[0].resource_type, "Task");
  EXPECT_EQ(rows[0].resource_id, task);
  EXPECT_EQ(rows[0].version, 1);
  Json updated = TaskFor("Organization/sz-heart");
  updated["id"] = task;
  updated["status"] = "accepted";
  ASSERT_EQ(Send("PUT", "Task/" + task, updated.dump()).status, 200);
  rows = Queue();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].version, 2);
}

TEST_F(SubscriptionTest, RolledBackWriteLeavesNothingInTheQueue) {
  Create(RestHook("Task?owner=Organization/sz-heart"));
  Json bundle = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       Json::array(
           {{{"resource", TaskFor("Organization/sz-heart")},
             {"request", {{"method", "POST"}, {"url", "Task"}}}},
            {{"resource", TaskFor("Organization/sz-heart")},
             {"request", {{"method", "PUT"}, {"url", "Task/missing"}, {"ifMatch", "W/\"7\""}}}}})}};
  api::rest::FhirResponse response = Send("POST", "", bundle.dump());
  EXPECT_GE(response.status, 400) << response.body;
  EXPECT_TRUE(Queue().empty());
}

TEST_F(SubscriptionTest, DispatcherDeliversTheResourceInAHistoryBundle) {
  StartDispatcher();
  std::string subscription = Create(RestHook("Task?owner=Organization/sz-heart"));
  std::string task = Create(TaskFor("Organization/sz-heart"));
  ASSERT_TRUE(WaitFor([&] { return transport_.Delivered().size() == 1 && Queue().empty(); }));
  Notification sent = transport_.Delivered()[0];
  EXPECT_EQ(sent.subscription_id, subscription);
  EXPECT_EQ(sent.endpoint, "http://127.0.0.1:9/hook");
  EXPECT_EQ(sent.content_type, "application/fhir+json");
  Json body = Json::parse(sent.body);
  EXPECT_EQ(body["type"], "history");
  EXPECT_EQ(body["entry"][0]["resource"]["id"], task);
  EXPECT_EQ(body["entry"][0]["request"]["method"], "POST");
}

TEST_F(SubscriptionTest, EmptyPayloadSendsNoBody) {
  StartDispatcher();
  Create(RestHook("Task", false));
  Create(TaskFor("Organization/sz-heart"));
  ASSERT_TRUE(WaitFor([&] { return transport_.Delivered().size() == 1; }));
  EXPECT_TRUE(transport_.Delivered()[0].body.empty());
  EXPECT_TRUE(transport_.Delivered()[0].content_type.empty());
}

TEST_F(SubscriptionTest, FailedDeliveryIsRetriedAfterBackoff) {
  transport_.FailNext(2);
  StartDispatcher();
  Create(RestHook("Task"));
  Create(TaskFor("Organization/sz-heart"));
  ASSERT_TRUE(WaitFor([&] { return transport_.Attempts() == 1 && Queue()[0].attempts == 1; }));
  EXPECT_EQ(Queue()[0].last_error, "receiver answered 500");
  // Not before its time (100 ms +- 20% of fake time).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport_.Attempts(), 1);
  clock_.Advance(130);
  dispatcher_->Wake();
  ASSERT_TRUE(WaitFor([&] { return transport_.Attempts() == 2 && Queue()[0].attempts == 2; }));
  clock_.Advance(130);  // second backoff is 200 ms +- 20%: not yet
  dispatcher_->Wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport_.Attempts(), 2);
  clock_.Advance(200);
  dispatcher_->Wake();
  ASSERT_TRUE(WaitFor([&] { return transport_.Delivered().size() == 1 && Queue().empty(); }));
  EXPECT_EQ(transport_.Attempts(), 3);
}

TEST_F(SubscriptionTest, SubscriptionTurnsErrorAfterRepeatedFailuresAndActiveAgain) {
  transport_.FailNext(2);
  DispatcherOptions options;
  options.error_after = 2;
  StartDispatcher(options);
  std::string id = Create(RestHook("Task"));
  Create(TaskFor("Organization/sz-heart"));
  ASSERT_TRUE(WaitFor([&] { return transport_.Attempts() == 1 && Queue()[0].attempts == 1; }));
  clock_.Advance(1000);
  dispatcher_->Wake();
  ASSERT_TRUE(WaitFor([&] { return ReadJson("Subscription/" + id)["status"] == "error"; }));
  EXPECT_EQ(ReadJson("Subscription/" + id)["error"], "receiver answered 500");
  clock_.Advance(1000);
  dispatcher_->Wake();
  ASSERT_TRUE(WaitFor([&] { return ReadJson("Subscription/" + id)["status"] == "active"; }));
  EXPECT_EQ(transport_.Delivered().size(), 1u);
  EXPECT_FALSE(ReadJson("Subscription/" + id).contains("error"));
}

// The dispatcher's status changes go through the write pipeline: indexed (a search by status
// finds them), audited as the server's own write, versioned with meta.
TEST_F(SubscriptionTest, StatusChangesAreIndexedAndAuditedAsTheDispatcher) {
  transport_.FailNext(1);
  DispatcherOptions options;
  options.error_after = 1;
  StartDispatcher(options);
  std::string id = Create(RestHook("Task"));
  Create(TaskFor("Organization/sz-heart"));
  ASSERT_TRUE(WaitFor([&] { return ReadJson("Subscription/" + id)["status"] == "error"; }));
  Json stored = ReadJson("Subscription/" + id);
  EXPECT_EQ(stored["meta"]["versionId"], "2");
  std::vector<Json> in_error = Search("Subscription?status=error");
  ASSERT_EQ(in_error.size(), 1u);
  EXPECT_EQ(in_error[0]["id"], id);
  EXPECT_TRUE(Search("Subscription?status=active").empty());
  std::vector<Json> audits = AuditsOf("Subscription/" + id + "/_history/2");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0]["action"], "U");
  EXPECT_NE(audits[0].dump().find("subscription-dispatcher"), std::string::npos)
      << audits[0].dump();
  // Back to active on the next success: indexed and audited again.
  clock_.Advance(1000);
  dispatcher_->Wake();
  ASSERT_TRUE(WaitFor([&] { return ReadJson("Subscription/" + id)["status"] == "active"; }));
  EXPECT_EQ(Search("Subscription?status=active").size(), 1u);
  EXPECT_TRUE(Search("Subscription?status=error").empty());
  EXPECT_EQ(AuditsOf("Subscription/" + id + "/_history/3").size(), 1u);
}

// R4 rest-hook notifications are for a resource that matches the criteria when it is created
// or updated (doc/subscriptions.md): a delete has no content to match or to send, so it
// notifies nothing, even when the deleted resource matched; writing it again does.
TEST_F(SubscriptionTest, DeletingAMatchingResourceNotifiesNothing) {
  Create(RestHook("Task?owner=Organization/sz-heart"));
  std::string task = Create(TaskFor("Organization/sz-heart"));
  ASSERT_EQ(Queue().size(), 1u);
  ASSERT_EQ(Send("DELETE", "Task/" + task).status, 204);
  EXPECT_EQ(Queue().size(), 1u);  // only the create's
  Json again = TaskFor("Organization/sz-heart");
  again["id"] = task;
  ASSERT_EQ(Send("PUT", "Task/" + task, again.dump()).status, 201);
  std::vector<QueueRow> rows = Queue();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].version, 3);  // after the delete marker (version 2)
}

TEST_F(SubscriptionTest, PendingNotificationsAreDeliveredByTheNextDispatcher) {
  Create(RestHook("Task"));
  Create(TaskFor("Organization/sz-heart"));
  Create(TaskFor("Organization/gz-central"));
  ASSERT_EQ(Queue().size(), 2u);  // committed, nothing sent: no dispatcher ran
  StartDispatcher();
  ASSERT_TRUE(WaitFor([&] { return transport_.Delivered().size() == 2 && Queue().empty(); }));
}

TEST_F(SubscriptionTest, OffOrDeletedSubscriptionDropsItsNotifications) {
  std::string id = Create(RestHook("Task"));
  Create(TaskFor("Organization/sz-heart"));
  ASSERT_EQ(Send("DELETE", "Subscription/" + id).status, 204);
  StartDispatcher();
  ASSERT_TRUE(WaitFor([&] { return Queue().empty(); }));
  EXPECT_TRUE(transport_.Delivered().empty());
  Create(TaskFor("Organization/sz-heart"));  // no live subscription: nothing enqueued
  EXPECT_TRUE(Queue().empty());
}

// Access rules at delivery: the owner member must be allowed to read the matched version.
TEST_F(SubscriptionTest, NotificationOfAnotherMembersPatientDataIsDropped) {
  DispatcherOptions options;
  options.enforce_access = true;
  StartDispatcher(options);
  store::Caller gz = Member("gz-central");
  store::Caller sz = Member("sz-heart");
  std::string sz_subscription = Create(RestHook("Observation"), sz);
  std::string gz_subscription = Create(RestHook("Observation"), gz);
  std::string patient = Create({{"resourceType", "Patient"}, {"gender", "male"}}, gz);
  Create({{"resourceType", "Observation"},
          {"status", "final"},
          {"code", {{"text", "glucose"}}},
          {"subject", {{"reference", "Patient/" + patient}}}},
         gz);
  ASSERT_TRUE(WaitFor([&] { return Queue().empty(); }));
  std::vector<Notification> sent = transport_.Delivered();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subscription_id, gz_subscription);
  EXPECT_EQ(dispatcher_->GetStats().dropped, 1);
}

TEST_F(SubscriptionTest, WithAccessRulesASubscriptionWithoutOwnerDeliversNothing) {
  DispatcherOptions options;
  options.enforce_access = true;
  Create(RestHook("Task"));  // no caller: no owner label
  Create(TaskFor("Organization/sz-heart"), Member("sz-heart"));
  StartDispatcher(options);
  ASSERT_TRUE(WaitFor([&] { return Queue().empty(); }));
  EXPECT_TRUE(transport_.Delivered().empty());
}

}  // namespace
}  // namespace medalliance::subscription
