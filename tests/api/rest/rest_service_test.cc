// RestService without HTTP: request in, response out, over an in-memory store and a fake clock.

#include "api/rest/rest_service.h"

#include <gtest/gtest.h>

#include "core/time.h"
#include "fhir/patch/json_patch.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::api::rest {
namespace {

using fhir::Json;

class RestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    RestConfig config;
    config.validate = [](const Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.apply_json_patch = [](Json& document, const Json& patch) {
      return fhir::ApplyJsonPatch(document, patch);
    };
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.clock = &clock_;
    service_ = std::make_unique<RestService>(*store_, std::move(config));
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {},
                    std::string content_type = "application/fhir+json") {
    FhirRequest request;
    request.method = std::move(method);
    request.base_url = "http://test";
    size_t question = url.find('?');
    SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = ParseQueryString(url.substr(question + 1));
    request.body = std::move(body);
    request.content_type = std::move(content_type);
    return service_->Handle(request);
  }

  static Json Body(const FhirResponse& response) { return fhir::ParseJson(response.body).value(); }

  core::FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<RestService> service_;
};

TEST(QueryStringTest, DecodesPercentAndPlusAndKeepsOrder) {
  QueryParams params = ParseQueryString("name=%E5%BC%A0+%E4%BC%9F&a=1&a=2&flag&x=a%7Cb");
  ASSERT_EQ(params.size(), 5u);
  EXPECT_EQ(params[0].second, "张 伟");
  EXPECT_EQ(params[1], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(params[2].second, "2");
  EXPECT_EQ(params[3].first, "flag");
  EXPECT_EQ(params[4].second, "a|b");
}

TEST(QueryStringTest, SplitPathDecodesSegments) {
  std::vector<std::string> segments;
  SplitPath("/Patient/a%2Eb//_history/", segments);
  EXPECT_EQ(segments, (std::vector<std::string>{"Patient", "a.b", "_history"}));
}

TEST(QueryStringTest, ParsesWeakAndStrongEtags) {
  EXPECT_EQ(ParseETagVersion("W/\"12\""), 12);
  EXPECT_EQ(ParseETagVersion("\"3\""), 3);
  EXPECT_EQ(ParseETagVersion("4"), 4);
  EXPECT_FALSE(ParseETagVersion("W/\"x\"").has_value());
  EXPECT_FALSE(ParseETagVersion("").has_value());
  EXPECT_FALSE(ParseETagVersion("W/\"0\"").has_value());
  EXPECT_FALSE(ParseETagVersion("W/\"-5\"").has_value());
}

TEST_F(RestServiceTest, LastUpdatedComesFromTheClock) {
  FhirResponse created = Send("POST", "Patient", R"({"resourceType":"Patient"})");
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(Body(created).Find("meta")->GetStringMember("lastUpdated"),
            core::FormatInstant(1'700'000'000'000));
  EXPECT_EQ(created.headers.Get("Last-Modified"), core::FormatHttpDate(1'700'000'000'000));
}

TEST_F(RestServiceTest, HistoryAtReturnsTheVersionCurrentThen) {
  std::string id =
      std::string(Body(Send("POST", "Patient", R"({"resourceType":"Patient","gender":"male"})"))
                      .GetStringMember("id"));
  clock_.Advance(60'000);
  ASSERT_EQ(Send("PUT", "Patient/" + id,
                 R"({"resourceType":"Patient","id":")" + id + R"(","gender":"female"})")
                .status,
            200);
  std::string between = core::FormatInstant(1'700'000'030'000);
  Json history = Body(Send("GET", "Patient/" + id + "/_history?_at=" + between));
  ASSERT_EQ(history.Find("entry")->Size(), 1u);
  EXPECT_EQ(history.Find("entry")->Items()[0].Find("resource")->GetStringMember("gender"), "male");
  Json since = Body(Send("GET", "Patient/_history?_since=" + between));
  ASSERT_EQ(since.Find("entry")->Size(), 1u);
  EXPECT_EQ(since.Find("entry")->Items()[0].Find("resource")->GetStringMember("gender"), "female");
}

TEST_F(RestServiceTest, TransactionPatchEntryCarriesBinaryJsonPatch) {
  std::string id = std::string(
      Body(Send("POST", "Patient", R"({"resourceType":"Patient"})")).GetStringMember("id"));
  // base64 of [{"op":"add","path":"/active","value":true}]
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)"
                       R"({"resourceType":"Binary","contentType":"application/json-patch+json",)"
                       R"("data":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="},)"
                       R"("request":{"method":"PATCH","url":"Patient/)" +
                       id + R"("}}]})";
  FhirResponse response = Send("POST", "", bundle);
  ASSERT_EQ(response.status, 200) << response.body;
  Json patient = Body(Send("GET", "Patient/" + id));
  ASSERT_NE(patient.Find("active"), nullptr);
  EXPECT_TRUE(patient.Find("active")->GetBool());
  EXPECT_EQ(patient.Find("meta")->GetStringMember("versionId"), "2");
}

TEST_F(RestServiceTest, TransactionRejectsDuplicateFullUrlsAndUnknownTypes) {
  std::string duplicate =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:1c5b2a3e-9f1d-4f56-a0c6-2a7b0f2b6d11","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},)"
      R"({"fullUrl":"urn:uuid:1c5b2a3e-9f1d-4f56-a0c6-2a7b0f2b6d11","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]})";
  EXPECT_EQ(Send("POST", "", duplicate).status, 400);
  std::string unknown =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Nope"}}]})";
  EXPECT_EQ(Send("POST", "", unknown).status, 400);
  EXPECT_EQ(Send("POST", "", R"({"resourceType":"Bundle","type":"collection"})").status, 400);
  EXPECT_EQ(Body(Send("GET", "Patient?_total=accurate")).Find("total")->GetString(), "0");
}

TEST_F(RestServiceTest, TransactionOrdersDeleteBeforeCreateAndResolvesPutFullUrl) {
  ASSERT_EQ(Send("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1"})").status, 201);
  std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:7d2e4c6a-1b3f-4a5c-9e8d-6f7a8b9c0d1e"}},"request":{"method":"POST","url":"Observation"}},)"
      R"({"fullUrl":"urn:uuid:7d2e4c6a-1b3f-4a5c-9e8d-6f7a8b9c0d1e","resource":{"resourceType":"Patient","id":"p2"},"request":{"method":"PUT","url":"Patient/p2"}},)"
      R"({"request":{"method":"DELETE","url":"Patient/p1"}}]})";
  FhirResponse response = Send("POST", "", bundle);
  ASSERT_EQ(response.status, 200) << response.body;
  Json result = Body(response);
  const Json::Array& entries = result.Find("entry")->Items();
  ASSERT_EQ(entries.size(), 3u);  // in request order
  EXPECT_EQ(entries[0].Find("response")->GetStringMember("status"), "201 Created");
  EXPECT_EQ(entries[1].Find("response")->GetStringMember("status"), "201 Created");
  EXPECT_EQ(entries[2].Find("response")->GetStringMember("status"), "204 No Content");
  EXPECT_EQ(Send("GET", "Patient/p1").status, 410);
  std::string location(entries[0].Find("response")->GetStringMember("location"));
  Json observation = Body(Send("GET", location.substr(0, location.find("/_history"))));
  EXPECT_EQ(observation.Find("subject")->GetStringMember("reference"), "Patient/p2");
}

TEST_F(RestServiceTest, UnknownOperationAndSystemSearchAreReported) {
  EXPECT_EQ(Send("GET", "Patient/$nope").status, 404);
  EXPECT_EQ(Send("GET", "").status, 501);
  EXPECT_EQ(Send("DELETE", "metadata").status, 405);
}

}  // namespace
}  // namespace medalliance::api::rest
