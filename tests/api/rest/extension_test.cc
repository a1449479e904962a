// Domain modules plug into the REST service through store::WriteHook and store::Operation.

#include <gtest/gtest.h>

#include "api/rest/rest_service.h"
#include "fhir/r4/definitions.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::api::rest {
namespace {

using fhir::Json;

// Tags every Patient it sees and refuses a deletion of Patient "keep".
class TagHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Patient"}; }
  core::Status BeforeWrite(store::WriteTx& /*tx*/, store::WriteEvent& event) override {
    ++calls;
    last_kind = event.kind;
    if (event.kind == store::WriteKind::kDelete && event.id == "keep") {
      return core::Error::Unprocessable("Patient/keep may not be deleted");
    }
    if (event.resource != nullptr)
      event.resource->Set("active", Json::MakeBool(true));
    if (event.warnings != nullptr && event.id == "warn") {
      event.warnings->push_back(core::Issue{core::Severity::kWarning, "business-rule",
                                            "a reusable result exists", "Patient"});
    }
    return {};
  }
  int calls = 0;
  store::WriteKind last_kind = store::WriteKind::kCreate;
};

// $echo at system level and on Patient instances: answers its input and where it ran.
class EchoOperation : public store::Operation {
 public:
  std::string Name() const override { return "echo"; }
  std::string Definition() const override {
    return "https://fhir.medalliance.cn/OperationDefinition/echo";
  }
  bool System() const override { return true; }
  std::vector<std::string> Types() const override { return {"Patient"}; }
  bool Instance() const override { return true; }
  core::Result<store::OperationResponse> Invoke(store::Store& /*store*/,
                                                const store::OperationRequest& request) override {
    store::OperationResponse response;
    response.body = request.parameters;
    response.body.Set("id", Json::MakeString(request.type + "." + request.id));
    return response;
  }
};

// A service configuration that serves every R4 resource type.
RestConfig AllTypes() {
  RestConfig config;
  for (std::string_view type : fhir::r4::ResourceTypeNames())
    config.resource_types.emplace_back(type);
  return config;
}

class ExtensionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    RestConfig config = AllTypes();
    config.hooks = {&hook_};
    config.operations = {&echo_};
    service_ = std::make_unique<RestService>(*store_, std::move(config));
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {},
                    std::string prefer = {}) {
    FhirRequest request;
    if (!prefer.empty())
      request.headers.Set("Prefer", prefer);
    request.method = std::move(method);
    size_t question = url.find('?');
    SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = ParseQueryString(url.substr(question + 1));
    request.body = std::move(body);
    request.content_type = "application/fhir+json";
    return service_->Handle(request);
  }

  TagHook hook_;
  EchoOperation echo_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<RestService> service_;
};

TEST_F(ExtensionTest, HooksSeeAndAmendWritesOfTheirTypes) {
  FhirResponse created = Send("PUT", "Patient/keep", R"({"resourceType":"Patient","id":"keep"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_NE(created.body.find(R"("active":true)"), std::string::npos);
  EXPECT_EQ(hook_.last_kind, store::WriteKind::kCreate);
  EXPECT_EQ(Send("POST", "Observation",
                 R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})")
                .status,
            201);
  EXPECT_EQ(hook_.calls, 1);  // not called for other types
  FhirResponse refused = Send("DELETE", "Patient/keep");
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(hook_.last_kind, store::WriteKind::kDelete);
  EXPECT_EQ(Send("GET", "Patient/keep").status, 200);
  // In a transaction, the hook's refusal rolls back every entry.
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"other"},"request":{"method":"PUT","url":"Patient/other"}},)"
      R"({"request":{"method":"DELETE","url":"Patient/keep"}}]})";
  EXPECT_EQ(Send("POST", "", bundle).status, 422);
  EXPECT_EQ(Send("GET", "Patient/other").status, 404);
}

TEST_F(ExtensionTest, HookWarningsReachTheClient) {
  FhirResponse outcome = Send("PUT", "Patient/warn", R"({"resourceType":"Patient","id":"warn"})",
                              "return=OperationOutcome");
  ASSERT_EQ(outcome.status, 201) << outcome.body;
  EXPECT_NE(outcome.body.find("a reusable result exists"), std::string::npos) << outcome.body;
  EXPECT_NE(outcome.body.find(R"("severity":"warning")"), std::string::npos);
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"warn"},"request":{"method":"PUT","url":"Patient/warn"}}]})";
  FhirResponse response = Send("POST", "", bundle);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find(R"("outcome":{"resourceType":"OperationOutcome")"),
            std::string::npos)
      << response.body;
  EXPECT_NE(response.body.find("a reusable result exists"), std::string::npos);
}

TEST_F(ExtensionTest, OperationsRouteAtEachLevelAndAreListed) {
  FhirResponse system = Send("GET", "$echo?x=1");
  ASSERT_EQ(system.status, 200) << system.body;
  Json body = fhir::ParseJson(system.body).value();
  EXPECT_EQ(body.GetStringMember("resourceType"), "Parameters");
  EXPECT_EQ(body.GetStringMember("id"), ".");
  EXPECT_EQ(body.Find("parameter")->Items()[0].GetStringMember("valueString"), "1");

  FhirResponse instance = Send("POST", "Patient/p1/$echo", R"({"resourceType":"Parameters"})");
  ASSERT_EQ(instance.status, 200) << instance.body;
  EXPECT_EQ(fhir::ParseJson(instance.body)->GetStringMember("id"), "Patient.p1");
  // A resource body becomes the "resource" parameter.
  FhirResponse wrapped = Send("POST", "Patient/$echo", R"({"resourceType":"Patient"})");
  EXPECT_NE(wrapped.body.find(R"("name":"resource")"), std::string::npos) << wrapped.body;

  EXPECT_EQ(Send("GET", "Observation/$echo").status, 404);
  EXPECT_EQ(Send("GET", "$nothing").status, 404);
  EXPECT_EQ(Send("DELETE", "$echo").status, 405);
  FhirResponse metadata = Send("GET", "metadata");
  EXPECT_NE(metadata.body.find("OperationDefinition/echo"), std::string::npos);
}

// Leaves Observations as they are; counts the calls.
class WatchHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Observation"}; }
  core::Status BeforeWrite(store::WriteTx& /*tx*/, store::WriteEvent& /*event*/) override {
    ++calls;
    return {};
  }
  int calls = 0;
};

// The importer prepares creates of hooked types on the speculation that their hooks change
// nothing: a hook that amends the resource (TagHook) still has its change stored and indexed,
// and one that changes nothing (WatchHook) gets the prepared text and rows.
TEST(SpeculativePrepareTest, HookedCreatesStoreWhatTheHooksLeft) {
  auto store = store::SqliteStore::Open({}).value();
  TagHook tag;
  WatchHook watch;
  RestConfig config = AllTypes();
  config.hooks = {&tag, &watch};
  RestService service(*store, std::move(config));
  auto bundle = fhir::ParseJson(
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","active":false,)"
      R"("name":[{"family":"Li"}]},"request":{"method":"POST","url":"Patient"}},)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"coding":[)"
      R"({"system":"http://loinc.org","code":"1234-5"}]},"subject":{"reference":"urn:uuid:p"}},)"
      R"("request":{"method":"POST","url":"Observation"}}]})");
  ASSERT_TRUE(bundle.has_value());
  auto prepared = service.PrepareBundle(std::move(*bundle), "", nullptr, /*speculate=*/true);
  ASSERT_TRUE(prepared.has_value()) << prepared.error().GetMessage();
  auto response = service.CommitBundle(**prepared);
  ASSERT_TRUE(response.has_value()) << response.error().GetMessage();
  EXPECT_EQ(tag.calls, 1);
  EXPECT_EQ(watch.calls, 1);
  auto send = [&](std::string url) {
    FhirRequest request;
    request.method = "GET";
    size_t question = url.find('?');
    SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = ParseQueryString(url.substr(question + 1));
    return service.Handle(request);
  };
  // TagHook's active=true is what is stored and what the index holds.
  FhirResponse active = send("Patient?active=true");
  ASSERT_EQ(active.status, 200) << active.body;
  EXPECT_NE(active.body.find(R"("total":1)"), std::string::npos) << active.body;
  EXPECT_NE(active.body.find(R"("active":true)"), std::string::npos) << active.body;
  FhirResponse inactive = send("Patient?active=false");
  EXPECT_NE(inactive.body.find(R"("total":0)"), std::string::npos) << inactive.body;
  // The Observation's reference was resolved to the Patient's id, and its rows are there.
  FhirResponse observations =
      send("Observation?code=http://loinc.org|1234-5&subject:Patient.name=Li");
  ASSERT_EQ(observations.status, 200) << observations.body;
  EXPECT_NE(observations.body.find(R"("total":1)"), std::string::npos) << observations.body;
  EXPECT_EQ(observations.body.find("urn:uuid"), std::string::npos) << observations.body;
}

// The importer commits without asking for the response's entries: the writes are stored all
// the same, and GET entries still run and answer.
TEST(SpeculativePrepareTest, CommitWithoutEntriesStoresTheWritesAndAnswersOnlyReads) {
  auto store = store::SqliteStore::Open({}).value();
  RestConfig config = AllTypes();
  RestService service(*store, std::move(config));
  auto bundle = fhir::ParseJson(R"({"resourceType":"Bundle","type":"transaction","entry":[)"
                                R"({"resource":{"resourceType":"Patient","id":"p1","active":true},)"
                                R"("request":{"method":"PUT","url":"Patient/p1"}},)"
                                R"({"resource":{"resourceType":"Patient","active":false},)"
                                R"("request":{"method":"POST","url":"Patient"}},)"
                                R"({"request":{"method":"GET","url":"Patient/p1"}}]})");
  ASSERT_TRUE(bundle.has_value());
  auto prepared = service.PrepareBundle(std::move(*bundle), "", nullptr, /*speculate=*/true);
  ASSERT_TRUE(prepared.has_value()) << prepared.error().GetMessage();
  auto response = service.CommitBundle(**prepared, /*entries_wanted=*/false);
  ASSERT_TRUE(response.has_value()) << response.error().GetMessage();
  const fhir::Json* entries = response->Find("entry");
  ASSERT_NE(entries, nullptr);
  ASSERT_EQ(entries->Size(), 1u);  // the GET's
  EXPECT_NE(fhir::WriteJson(entries->Items()[0]).find(R"("id":"p1")"), std::string::npos)
      << fhir::WriteJson(*response);
  FhirRequest request;
  request.method = "GET";
  SplitPath("Patient", request.segments);
  FhirResponse all = service.Handle(request);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_NE(all.body.find(R"("total":2)"), std::string::npos) << all.body;
}

// The importer commits the Bundles it has prepared together (CommitBundles): each transaction
// stays atomic on its own, a later one sees an earlier one's writes (a conditional reference
// resolves to them), and a batch Bundle between them keeps its place.
TEST(SpeculativePrepareTest, CommitBundlesKeepsEachTransactionAtomicAndInOrder) {
  auto store = store::SqliteStore::Open({}).value();
  RestConfig config = AllTypes();
  RestService service(*store, std::move(config));
  const std::vector<std::string> texts = {
      // 1: the Organization the fourth refers to.
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Organization","id":"o1","identifier":[)"
      R"({"system":"urn:s","value":"1"}]},"request":{"method":"PUT","url":"Organization/o1"}}]})",
      // 2: writes a Patient, then fails on a conditional reference that matches nothing.
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"bad"},)"
      R"("request":{"method":"PUT","url":"Patient/bad"}},)"
      R"({"resource":{"resourceType":"Patient","managingOrganization":)"
      R"({"reference":"Organization?identifier=urn:s|missing"}},)"
      R"("request":{"method":"POST","url":"Patient"}}]})",
      // 3: a batch.
      R"({"resourceType":"Bundle","type":"batch","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"batched"},)"
      R"("request":{"method":"PUT","url":"Patient/batched"}}]})",
      // 4: refers to the first's Organization by its identifier.
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"late","managingOrganization":)"
      R"({"reference":"Organization?identifier=urn:s|1"}},)"
      R"("request":{"method":"PUT","url":"Patient/late"}}]})"};
  std::vector<RestService::PreparedBundlePtr> prepared;
  std::vector<RestService::PreparedBundle*> bundles;
  for (const std::string& text : texts) {
    auto bundle = fhir::ParseJson(text);
    ASSERT_TRUE(bundle.has_value());
    auto one = service.PrepareBundle(std::move(*bundle), "", nullptr, /*speculate=*/true);
    ASSERT_TRUE(one.has_value()) << one.error().GetMessage();
    bundles.push_back(one->get());
    prepared.push_back(std::move(*one));
  }
  const store::SqliteStore::BatchStats before = store->GetBatchStats();
  std::vector<core::Result<fhir::Json>> results =
      service.CommitBundles(bundles, /*entries_wanted=*/false);
  ASSERT_EQ(results.size(), 4U);
  EXPECT_TRUE(results[0].has_value()) << results[0].error().GetMessage();
  ASSERT_FALSE(results[1].has_value());
  EXPECT_EQ(results[1].error().GetHttpStatus(), 412) << results[1].error().GetMessage();
  EXPECT_TRUE(results[2].has_value()) << results[2].error().GetMessage();
  ASSERT_TRUE(results[3].has_value()) << results[3].error().GetMessage();
  // The first two share one transaction; the batch's entry and the fourth come after it.
  EXPECT_EQ(store->GetBatchStats().batches - before.batches, 3);
  auto get = [&](std::string path) {
    FhirRequest request;
    request.method = "GET";
    SplitPath(path, request.segments);
    return service.Handle(request);
  };
  EXPECT_EQ(get("Patient/bad").status, 404) << "the failed transaction's first write is undone";
  EXPECT_EQ(get("Patient/batched").status, 200);
  FhirResponse late = get("Patient/late");
  ASSERT_EQ(late.status, 200) << late.body;
  EXPECT_NE(late.body.find(R"("reference":"Organization/o1")"), std::string::npos) << late.body;
}

}  // namespace
}  // namespace medalliance::api::rest
