// Writes made by domain code through store::ResourceWriter (WriteEvent::writer,
// OperationRequest::writer) go through the whole write pipeline: validation, every hook, the
// search index and the audit, inside the transaction of the write that caused them.

#include <gtest/gtest.h>

#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::api::rest {
namespace {

using fhir::Json;

constexpr std::string_view kOrigin = "test-module";

Json Flag(std::string_view status, std::string_view subject) {
  Json flag = Json::MakeObject();
  flag.Set("resourceType", Json::MakeString("Flag"));
  flag.Set("status", Json::MakeString(std::string(status)));
  Json code = Json::MakeObject();
  code.Set("text", Json::MakeString("follow-up"));
  flag.Set("code", std::move(code));
  Json reference = Json::MakeObject();
  reference.Set("reference", Json::MakeString(std::string(subject)));
  flag.Set("subject", std::move(reference));
  return flag;
}

// On every Observation create: writes a Flag about its subject through the pipeline. An
// Observation whose status is "cancelled" makes a valid Flag and then an invalid one.
class FollowUpHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Observation"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override {
    if (event.kind != store::WriteKind::kCreate)
      return {};
    std::string subject(event.resource->Find("subject")->GetStringMember("reference"));
    Json flag = Flag("active", subject);
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        event.writer->Create(tx, flag, event.Nested(kOrigin)));
    flag_id = stored.id;
    if (event.resource->GetStringMember("status") == "cancelled") {
      Json bad = Flag("not-a-flag-status", subject);
      MA_ASSIGN_OR_RETURN(stored, event.writer->Create(tx, bad, event.Nested(kOrigin)));
    }
    return {};
  }
  std::string flag_id;
};

// Sees every Flag write, with its origin and depth.
class FlagWatcher : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Flag"}; }
  core::Status BeforeWrite(store::WriteTx& /*tx*/, store::WriteEvent& event) override {
    origins.emplace_back(event.origin);
    depths.push_back(event.depth);
    return {};
  }
  std::vector<std::string> origins;
  std::vector<int> depths;
};

// A Basic write makes another Basic: a hook that recurses without end.
class RecursiveHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Basic"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override {
    ++calls;
    Json next = *event.resource;
    next.Erase("id");
    next.Erase("meta");
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        event.writer->Create(tx, next, event.Nested(kOrigin)));
    (void)stored;
    return {};
  }
  int calls = 0;
};

class HookWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames())
      config.resource_types.emplace_back(type);
    config.validate = [](const Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.clock = &clock_;
    config.hooks = {&follow_up_, &watcher_, &recursive_, &audit_};
    service_ = std::make_unique<RestService>(*store_, std::move(config));
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {}) {
    FhirRequest request;
    request.method = std::move(method);
    size_t question = url.find('?');
    SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = ParseQueryString(url.substr(question + 1));
    request.body = std::move(body);
    request.content_type = "application/fhir+json";
    request.MutableCaller().client_id = "lab-system";
    request.base_url = "http://test";
    return service_->Handle(request);
  }

  // The resources of a searchset Bundle.
  std::vector<Json> Search(const std::string& url) {
    FhirResponse response = Send("GET", url);
    EXPECT_EQ(response.status, 200) << response.body;
    std::vector<Json> out;
    Json bundle = fhir::ParseJson(response.body).value();
    if (const Json* entries = bundle.Find("entry"); entries != nullptr) {
      for (const Json& entry : entries->Items()) {
        const Json* resource = entry.Find("resource");
        if (resource->GetStringMember("resourceType") != "OperationOutcome")
          out.push_back(*resource);
      }
    }
    return out;
  }

  // The AuditEvents whose entity names `reference` (Type/id, any version).
  std::vector<Json> AuditsOf(const std::string& reference) {
    std::vector<Json> out;
    for (Json& event : Search("AuditEvent?_count=1000")) {
      const Json* entities = event.Find("entity");
      if (entities == nullptr)
        continue;
      for (const Json& entity : entities->Items()) {
        const Json* what = entity.Find("what");
        if (what != nullptr && what->GetStringMember("reference").starts_with(reference)) {
          out.push_back(event);
          break;
        }
      }
    }
    return out;
  }

  static std::string Observation(std::string_view status) {
    return R"({"resourceType":"Observation","status":")" + std::string(status) +
           R"(","code":{"text":"glucose"},"subject":{"reference":"Patient/p1"}})";
  }

  core::FakeClock clock_{1'795'680'000'000};
  FollowUpHook follow_up_;
  FlagWatcher watcher_;
  RecursiveHook recursive_;
  audit::AuditWriteHook audit_{clock_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RestService> service_;
};

TEST_F(HookWritesTest, HookMadeWriteRunsTheOtherHooksWithItsOriginAndDepth) {
  ASSERT_EQ(Send("POST", "Observation", Observation("final")).status, 201);
  ASSERT_FALSE(follow_up_.flag_id.empty());
  ASSERT_EQ(watcher_.origins.size(), 1u);
  EXPECT_EQ(watcher_.origins[0], kOrigin);
  EXPECT_EQ(watcher_.depths[0], 1);
}

TEST_F(HookWritesTest, HookMadeWriteIsIndexedAndSearchable) {
  ASSERT_EQ(Send("POST", "Observation", Observation("final")).status, 201);
  std::vector<Json> flags = Search("Flag?subject=Patient/p1");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].GetStringMember("id"), follow_up_.flag_id);
  EXPECT_EQ(flags[0].Find("meta")->GetStringMember("versionId"), "1");
}

TEST_F(HookWritesTest, HookMadeWriteIsAuditedWithTheCallerAndTheModule) {
  ASSERT_EQ(Send("POST", "Observation", Observation("final")).status, 201);
  std::vector<Json> audits = AuditsOf("Flag/" + follow_up_.flag_id);
  ASSERT_EQ(audits.size(), 1u);
  std::string text = fhir::WriteJson(audits[0]);
  EXPECT_NE(text.find("lab-system"), std::string::npos) << text;  // the request's caller
  EXPECT_NE(text.find("medalliance test-module"), std::string::npos) << text;
  EXPECT_EQ(audits[0].GetStringMember("action"), "C");
}

TEST_F(HookWritesTest, FailingNestedWriteRollsBackTheWholeTransaction) {
  FhirResponse response = Send("POST", "Observation", Observation("cancelled"));
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_TRUE(Search("Observation").empty());
  EXPECT_TRUE(Search("Flag").empty());  // the valid Flag written before it too
  EXPECT_TRUE(Search("AuditEvent").empty());
}

TEST_F(HookWritesTest, RecursionIsBounded) {
  FhirResponse response =
      Send("POST", "Basic", R"({"resourceType":"Basic","code":{"text":"loop"}})");
  EXPECT_EQ(response.status, 500) << response.body;
  EXPECT_NE(response.body.find("nested"), std::string::npos) << response.body;
  EXPECT_EQ(recursive_.calls, store::kMaxWriteDepth + 1);
  EXPECT_TRUE(Search("Basic").empty());
}

TEST_F(HookWritesTest, DomainUpdateChecksTheVersionItRead) {
  ASSERT_EQ(Send("PUT", "Flag/f1", R"({"resourceType":"Flag","id":"f1","status":"active",
      "code":{"text":"x"},"subject":{"reference":"Patient/p1"}})")
                .status,
            201);
  store::Caller system = store::SystemCaller("test-timer");
  const store::WriteScope scope{&system, kOrigin, 1, clock_.Now(), nullptr};
  core::Status status = store_->Write([&](store::WriteTx& tx) -> core::Status {
    Json flag = Flag("inactive", "Patient/p1");
    flag.Set("id", Json::MakeString("f1"));
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        service_->Writer().Update(tx, flag, scope, /*expected_version=*/7));
    (void)stored;
    return {};
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kConflict);
  status = store_->Write([&](store::WriteTx& tx) -> core::Status {
    Json flag = Flag("inactive", "Patient/p1");
    flag.Set("id", Json::MakeString("f1"));
    MA_ASSIGN_OR_RETURN(store::StoredResource stored,
                        service_->Writer().Update(tx, flag, scope, /*expected_version=*/1));
    EXPECT_EQ(stored.version, 2);
    return {};
  });
  ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
  std::vector<Json> audits = AuditsOf("Flag/f1/_history/2");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_NE(fhir::WriteJson(audits[0]).find("medalliance system: test-timer"), std::string::npos);
}

}  // namespace
}  // namespace medalliance::api::rest
