// Every REST interaction and error status of the foundation, over real HTTP.

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

class RestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new TestServer(dir_->Path() / "rest.db", {"--max-body-bytes", "2000000"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port()); }

  // A unique identifier value so tests do not see each other's data.
  static std::string Unique(std::string_view prefix) {
    static std::mt19937_64 rng{std::random_device{}()};
    return std::string(prefix) + std::to_string(rng());
  }

  // "http://host:port/a/b?c" -> "/a/b?c"
  static std::string PathOf(const std::string& url) {
    size_t scheme = url.find("://");
    return url.substr(url.find('/', scheme == std::string::npos ? 0 : scheme + 3));
  }

  static Json PatientWith(const std::string& identifier) {
    return Json{{"resourceType", "Patient"},
                {"identifier", {{{"system", "urn:test"}, {"value", identifier}}}},
                {"name", {{{"family", "张"}, {"given", {"伟"}}}}},
                {"gender", "male"},
                {"birthDate", "1980-01-02"}};
  }

  Json Create(const Json& resource) {
    Response response = client_->Send("POST", "/" + resource["resourceType"].get<std::string>(),
                                      resource.dump(), FhirJson());
    EXPECT_EQ(response.status, 201) << response.body;
    return ParseBody(response);
  }

  static TempDir* dir_;
  static TestServer* server_;
  std::unique_ptr<HttpClient> client_;
};

TempDir* RestTest::dir_ = nullptr;
TestServer* RestTest::server_ = nullptr;

TEST_F(RestTest, HealthzAnswersOk) {
  Response response = client_->Get("/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(ParseBody(response)["status"], "ok");
}

TEST_F(RestTest, MetadataListsEveryResourceTypeAndInteraction) {
  Response response = client_->Get("/metadata");
  ASSERT_EQ(response.status, 200);
  Json cs = ParseBody(response);
  EXPECT_EQ(cs["resourceType"], "CapabilityStatement");
  EXPECT_EQ(cs["fhirVersion"], "4.0.1");
  const Json& resources = cs["rest"][0]["resource"];
  EXPECT_EQ(resources.size(), 146u);  // every concrete R4 resource type
  bool found = false;
  for (const Json& resource : resources) {
    if (resource["type"] != "Observation")
      continue;
    found = true;
    std::vector<std::string> codes;
    for (const Json& interaction : resource["interaction"]) codes.push_back(interaction["code"]);
    for (const char* code : {"read", "vread", "update", "patch", "delete", "history-instance",
                             "history-type", "create", "search-type"}) {
      EXPECT_NE(std::find(codes.begin(), codes.end(), code), codes.end()) << code;
    }
    std::set<std::string> params;
    for (const Json& param : resource["searchParam"]) params.insert(param["name"]);
    for (const char* code : {"code", "value-quantity", "subject", "patient", "date", "_id",
                             "_lastUpdated", "code-value-quantity"}) {
      EXPECT_TRUE(params.count(code)) << code;
    }
    EXPECT_FALSE(params.count("_text"));
  }
  EXPECT_TRUE(found);
}

TEST_F(RestTest, CreateSetsIdMetaLocationAndEtag) {
  Json patient = PatientWith(Unique("create-"));
  patient["id"] = "client-chosen-is-ignored";
  Response response = client_->Send("POST", "/Patient", patient.dump(), FhirJson());
  ASSERT_EQ(response.status, 201) << response.body;
  Json body = ParseBody(response);
  std::string id = body["id"];
  EXPECT_NE(id, "client-chosen-is-ignored");
  EXPECT_EQ(body["meta"]["versionId"], "1");
  EXPECT_TRUE(body["meta"].contains("lastUpdated"));
  EXPECT_EQ(response.headers.Get("ETag"), "W/\"1\"");
  EXPECT_EQ(PathOf(std::string(response.headers.Get("Location"))),
            "/Patient/" + id + "/_history/1");
  EXPECT_FALSE(response.headers.Get("Last-Modified").empty());

  Response read = client_->Get("/Patient/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body, response.body);
  EXPECT_EQ(read.headers.Get("ETag"), "W/\"1\"");
}

TEST_F(RestTest, JsonFidelityKeepsDecimalsChineseAndOrder) {
  const std::string text =
      R"({"resourceType":"Observation","status":"final","code":{"text":"血糖 glucose"},)"
      R"("valueQuantity":{"value":1.50,"unit":"mmol/L"},"referenceRange":[{"low":{"value":1e3}}]})";
  Response response = client_->Send("POST", "/Observation", text, FhirJson());
  ASSERT_EQ(response.status, 201) << response.body;
  EXPECT_NE(response.body.find(R"("value":1.50,)"), std::string::npos) << response.body;
  EXPECT_NE(response.body.find(R"("value":1e3})"), std::string::npos);
  EXPECT_NE(response.body.find("血糖 glucose"), std::string::npos);
  // Element order: resourceType, id, meta, then the client's order.
  EXPECT_LT(response.body.find("\"status\""), response.body.find("\"code\""));
  EXPECT_LT(response.body.find("\"meta\""), response.body.find("\"status\""));
}

TEST_F(RestTest, UpdateVersionsAndOptimisticLocking) {
  Json created = Create(PatientWith(Unique("update-")));
  std::string id = created["id"];
  created["gender"] = "female";
  Response stale =
      client_->Send("PUT", "/Patient/" + id, created.dump(),
                    {{"Content-Type", "application/fhir+json"}, {"If-Match", "W/\"7\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(ParseBody(stale)["resourceType"], "OperationOutcome");

  Response updated =
      client_->Send("PUT", "/Patient/" + id, created.dump(),
                    {{"Content-Type", "application/fhir+json"}, {"If-Match", "W/\"1\""}});
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.headers.Get("ETag"), "W/\"2\"");
  EXPECT_EQ(ParseBody(updated)["gender"], "female");

  Response version1 = client_->Get("/Patient/" + id + "/_history/1");
  ASSERT_EQ(version1.status, 200);
  EXPECT_EQ(ParseBody(version1)["gender"], "male");
  EXPECT_EQ(client_->Get("/Patient/" + id + "/_history/9").status, 404);
}

TEST_F(RestTest, UpdateWithClientIdCreates) {
  std::string id = Unique("pid-");
  Json patient = PatientWith(id);
  patient["id"] = id;
  Response response = client_->Send("PUT", "/Patient/" + id, patient.dump(), FhirJson());
  EXPECT_EQ(response.status, 201) << response.body;
  EXPECT_EQ(client_->Get("/Patient/" + id).status, 200);
}

TEST_F(RestTest, UpdateRejectsMismatchedOrMissingId) {
  Json patient = PatientWith(Unique("mismatch-"));
  patient["id"] = "a";
  EXPECT_EQ(client_->Send("PUT", "/Patient/b", patient.dump(), FhirJson()).status, 400);
  patient.erase("id");
  EXPECT_EQ(client_->Send("PUT", "/Patient/b", patient.dump(), FhirJson()).status, 400);
}

TEST_F(RestTest, DeleteThenReadIsGoneAndHistoryKeepsIt) {
  Json created = Create(PatientWith(Unique("delete-")));
  std::string id = created["id"];
  Response deleted = client_->Send("DELETE", "/Patient/" + id);
  EXPECT_EQ(deleted.status, 204);
  Response read = client_->Get("/Patient/" + id);
  EXPECT_EQ(read.status, 410);
  EXPECT_EQ(ParseBody(read)["issue"][0]["code"], "deleted");
  EXPECT_EQ(client_->Get("/Patient/" + id + "/_history/1").status, 200);
  EXPECT_EQ(client_->Get("/Patient/" + id + "/_history/2").status, 410);
  EXPECT_EQ(client_->Send("DELETE", "/Patient/" + id).status, 204);  // idempotent

  Json history = ParseBody(client_->Get("/Patient/" + id + "/_history"));
  EXPECT_EQ(history["type"], "history");
  ASSERT_EQ(history["entry"].size(), 2u);
  EXPECT_EQ(history["entry"][0]["request"]["method"], "DELETE");
  EXPECT_FALSE(history["entry"][0].contains("resource"));
  EXPECT_EQ(history["entry"][1]["request"]["method"], "POST");
  // Recreating a deleted resource with PUT continues its version sequence.
  created.erase("meta");
  Response again = client_->Send("PUT", "/Patient/" + id, created.dump(), FhirJson());
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.headers.Get("ETag"), "W/\"3\"");
}

TEST_F(RestTest, ErrorsAreOperationOutcomesWithTheRightStatus) {
  auto expect_outcome = [](const Response& response, int status) {
    EXPECT_EQ(response.status, status) << response.body;
    Json body = ParseBody(response);
    EXPECT_EQ(body["resourceType"], "OperationOutcome") << response.body;
    EXPECT_FALSE(body["issue"].empty());
  };
  expect_outcome(client_->Get("/Patient/does-not-exist"), 404);
  expect_outcome(client_->Get("/NoSuchType/1"), 404);
  expect_outcome(client_->Get("/Patient/bad_id!"), 400);
  expect_outcome(client_->Send("POST", "/Patient", "{not json", FhirJson()), 400);
  expect_outcome(client_->Send("POST", "/Patient", R"({"resourceType":"Observation"})", FhirJson()),
                 400);
  expect_outcome(client_->Send("POST", "/Patient", "{}", {{"Content-Type", "text/plain"}}), 415);
  expect_outcome(client_->Send("PATCH", "/Patient"), 405);
  expect_outcome(client_->Send("POST", "/Patient/1"), 405);
  expect_outcome(client_->Get("/Patient/1", {{"Accept", "application/fhir+xml"}}), 406);
  expect_outcome(client_->Get("/metadata?_format=xml"), 406);
  std::string huge =
      R"({"resourceType":"Basic","code":{"text":")" + std::string(2100000, 'x') + "\"}}";
  expect_outcome(client_->Send("POST", "/Basic", huge, FhirJson()), 413);
}

TEST_F(RestTest, InvalidResourceIs422WithOneIssuePerProblemAndLocation) {
  Json patient = PatientWith(Unique("invalid-"));
  patient["gender"] = "mail";
  patient["birthDate"] = "1980-13-01";
  patient["unknownElement"] = true;
  Response response = client_->Send("POST", "/Patient", patient.dump(), FhirJson());
  ASSERT_EQ(response.status, 422) << response.body;
  Json body = ParseBody(response);
  std::set<std::string> locations;
  for (const Json& issue : body["issue"]) locations.insert(issue["expression"][0]);
  EXPECT_TRUE(locations.count("Patient.gender"));
  EXPECT_TRUE(locations.count("Patient.birthDate"));
  EXPECT_TRUE(locations.count("Patient.unknownElement"));
  // Nothing was stored.
  Json search = ParseBody(client_->Get("/Patient?identifier=urn:test|" +
                                       patient["identifier"][0]["value"].get<std::string>()));
  EXPECT_EQ(search["total"], 0);
}

TEST_F(RestTest, ConditionalReadsAnswerNotModified) {
  Json created = Create(PatientWith(Unique("cond-read-")));
  std::string id = created["id"];
  EXPECT_EQ(client_->Get("/Patient/" + id, {{"If-None-Match", "W/\"1\""}}).status, 304);
  EXPECT_EQ(client_->Get("/Patient/" + id, {{"If-None-Match", "W/\"0\""}}).status, 200);
  Response read = client_->Get("/Patient/" + id);
  std::string modified(read.headers.Get("Last-Modified"));
  EXPECT_EQ(client_->Get("/Patient/" + id, {{"If-Modified-Since", modified}}).status, 304);
  EXPECT_EQ(client_->Get("/Patient/" + id, {{"If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}})
                .status,
            200);
}

TEST_F(RestTest, PreferControlsTheResponseBody) {
  Json patient = PatientWith(Unique("prefer-"));
  Response minimal =
      client_->Send("POST", "/Patient", patient.dump(),
                    {{"Content-Type", "application/fhir+json"}, {"Prefer", "return=minimal"}});
  EXPECT_EQ(minimal.status, 201);
  EXPECT_TRUE(minimal.body.empty());
  EXPECT_FALSE(minimal.headers.Get("Location").empty());
  Response outcome = client_->Send(
      "POST", "/Patient", patient.dump(),
      {{"Content-Type", "application/fhir+json"}, {"Prefer", "return=OperationOutcome"}});
  EXPECT_EQ(outcome.status, 201);
  EXPECT_EQ(ParseBody(outcome)["resourceType"], "OperationOutcome");
}

TEST_F(RestTest, JsonPatchAppliesValidatesAndLocks) {
  Json created = Create(PatientWith(Unique("patch-")));
  std::string id = created["id"];
  Headers patch_headers = {{"Content-Type", "application/json-patch+json"}};
  Response patched = client_->Send(
      "PATCH", "/Patient/" + id,
      R"([{"op":"replace","path":"/gender","value":"female"},{"op":"add","path":"/active","value":true}])",
      patch_headers);
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(ParseBody(patched)["gender"], "female");
  EXPECT_EQ(patched.headers.Get("ETag"), "W/\"2\"");
  // A failing test op changes nothing.
  Response failed =
      client_->Send("PATCH", "/Patient/" + id, R"([{"op":"test","path":"/gender","value":"male"}])",
                    patch_headers);
  EXPECT_EQ(failed.status, 422);
  // A patch that makes the resource invalid is rejected.
  Response invalid =
      client_->Send("PATCH", "/Patient/" + id,
                    R"([{"op":"replace","path":"/gender","value":"mail"}])", patch_headers);
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(client_->Get("/Patient/" + id).headers.Get("ETag"), "W/\"2\"");
  EXPECT_EQ(client_->Send("PATCH", "/Patient/" + id, "[]", {{"Content-Type", "text/plain"}}).status,
            415);
  EXPECT_EQ(client_->Send("PATCH", "/Patient/" + id, "[]", FhirJson()).status, 400);
  EXPECT_EQ(client_->Send("PATCH", "/Patient/missing", "[]", patch_headers).status, 404);
}

TEST_F(RestTest, FhirPathPatchAppliesAParametersBody) {
  Json created = Create(PatientWith(Unique("fhirpath-patch-")));
  std::string id = created["id"];
  Json parameters = {{"resourceType", "Parameters"},
                     {"parameter",
                      {{{"name", "operation"},
                        {"part",
                         {{{"name", "type"}, {"valueCode", "replace"}},
                          {{"name", "path"}, {"valueString", "Patient.birthDate"}},
                          {{"name", "value"}, {"valueDate", "1981-02-03"}}}}}}}};
  Response patched = client_->Send("PATCH", "/Patient/" + id, parameters.dump(), FhirJson());
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(ParseBody(patched)["birthDate"], "1981-02-03");
  EXPECT_EQ(patched.headers.Get("ETag"), "W/\"2\"");
  parameters["parameter"][0]["part"][1]["valueString"] = "Patient.nothingHere";
  EXPECT_EQ(client_->Send("PATCH", "/Patient/" + id, parameters.dump(), FhirJson()).status, 422);
}

TEST_F(RestTest, TransactionResolvesUrnUuidReferences) {
  std::string identifier = Unique("tx-");
  Json bundle = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       {{{"fullUrl", "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
         {"resource", PatientWith(identifier)},
         {"request", {{"method", "POST"}, {"url", "Patient"}}}},
        {{"fullUrl", "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"},
         {"resource",
          {{"resourceType", "Observation"},
           {"status", "final"},
           {"code", {{"text", "glucose"}}},
           {"subject", {{"reference", "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}}}}},
         {"request", {{"method", "POST"}, {"url", "Observation"}}}}}}};
  Response response = client_->Send("POST", "/", bundle.dump(), FhirJson());
  ASSERT_EQ(response.status, 200) << response.body;
  Json result = ParseBody(response);
  EXPECT_EQ(result["type"], "transaction-response");
  ASSERT_EQ(result["entry"].size(), 2u);
  EXPECT_EQ(result["entry"][0]["response"]["status"], "201 Created");
  std::string patient_location = result["entry"][0]["response"]["location"];
  std::string observation_location = result["entry"][1]["response"]["location"];
  std::string patient_id = patient_location.substr(8, patient_location.find("/_history") - 8);
  Json observation = ParseBody(client_->Get("/" + observation_location));
  EXPECT_EQ(observation["subject"]["reference"], "Patient/" + patient_id);
}

TEST_F(RestTest, FailingTransactionChangesNothing) {
  std::string identifier = Unique("atomic-");
  Json bundle = {{"resourceType", "Bundle"},
                 {"type", "transaction"},
                 {"entry",
                  {{{"resource", PatientWith(identifier)},
                    {"request", {{"method", "POST"}, {"url", "Patient"}}}},
                   {{"resource", {{"resourceType", "Observation"}, {"status", "not-a-status"}}},
                    {"request", {{"method", "POST"}, {"url", "Observation"}}}}}}};
  Response response = client_->Send("POST", "/", bundle.dump(), FhirJson());
  EXPECT_EQ(response.status, 422) << response.body;
  std::string where = ParseBody(response)["issue"][0]["expression"][0];
  EXPECT_EQ(where.rfind("Bundle.entry[1].resource", 0), 0u) << where;
  Json search = ParseBody(client_->Get("/Patient?identifier=urn:test|" + identifier));
  EXPECT_EQ(search["total"], 0);

  // A failure discovered during the writes (If-Match) also rolls back the earlier entries.
  Json conflicting = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       {{{"resource", PatientWith(identifier)},
         {"request", {{"method", "POST"}, {"url", "Patient"}}}},
        {{"resource", PatientWith(identifier)},
         {"request", {{"method", "DELETE"}, {"url", "Patient/nope"}, {"ifMatch", "W/\"3\""}}}}}}};
  Response conflict = client_->Send("POST", "/", conflicting.dump(), FhirJson());
  EXPECT_EQ(conflict.status, 412) << conflict.body;
  EXPECT_EQ(ParseBody(client_->Get("/Patient?identifier=urn:test|" + identifier))["total"], 0);
}

TEST_F(RestTest, TransactionConditionalCreateAndConditionalReference) {
  std::string identifier = Unique("ifnone-");
  auto bundle = [&] {
    return Json{
        {"resourceType", "Bundle"},
        {"type", "transaction"},
        {"entry",
         {{{"fullUrl", "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
           {"resource", PatientWith(identifier)},
           {"request",
            {{"method", "POST"},
             {"url", "Patient"},
             {"ifNoneExist", "identifier=urn:test|" + identifier}}}},
          {{"resource",
            {{"resourceType", "Observation"},
             {"status", "final"},
             {"code", {{"text", "x"}}},
             {"subject", {{"reference", "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"}}},
             {"performer", {{{"reference", "Patient?identifier=urn:test|" + identifier}}}}}},
           {"request", {{"method", "POST"}, {"url", "Observation"}}}}}}};
  };
  // First run: the conditional reference cannot resolve yet (the Patient is created in the
  // same transaction but conditional references are resolved against stored data).
  Json first = bundle();
  first["entry"][1]["resource"].erase("performer");
  Response created = client_->Send("POST", "/", first.dump(), FhirJson());
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(ParseBody(created)["entry"][0]["response"]["status"], "201 Created");

  Response again = client_->Send("POST", "/", bundle().dump(), FhirJson());
  ASSERT_EQ(again.status, 200) << again.body;
  Json result = ParseBody(again);
  EXPECT_EQ(result["entry"][0]["response"]["status"], "200 OK");
  Json patients = ParseBody(client_->Get("/Patient?identifier=urn:test|" + identifier));
  EXPECT_EQ(patients["total"], 1);
  std::string patient_id = patients["entry"][0]["resource"]["id"];
  std::string location = result["entry"][1]["response"]["location"];
  Json observation = ParseBody(client_->Get("/" + location));
  EXPECT_EQ(observation["subject"]["reference"], "Patient/" + patient_id);
  EXPECT_EQ(observation["performer"][0]["reference"], "Patient/" + patient_id);
}

TEST_F(RestTest, BatchAppliesEachEntryOnItsOwn) {
  std::string identifier = Unique("batch-");
  Json bundle = {{"resourceType", "Bundle"},
                 {"type", "batch"},
                 {"entry",
                  {{{"resource", PatientWith(identifier)},
                    {"request", {{"method", "POST"}, {"url", "Patient"}}}},
                   {{"resource", {{"resourceType", "Patient"}, {"gender", "mail"}}},
                    {"request", {{"method", "POST"}, {"url", "Patient"}}}},
                   {{"request", {{"method", "GET"}, {"url", "Patient/does-not-exist"}}}}}}};
  Response response = client_->Send("POST", "/", bundle.dump(), FhirJson());
  ASSERT_EQ(response.status, 200) << response.body;
  Json result = ParseBody(response);
  EXPECT_EQ(result["type"], "batch-response");
  EXPECT_EQ(result["entry"][0]["response"]["status"], "201 Created");
  EXPECT_EQ(result["entry"][1]["response"]["status"], "422 Unprocessable Entity");
  EXPECT_EQ(result["entry"][1]["response"]["outcome"]["resourceType"], "OperationOutcome");
  EXPECT_EQ(result["entry"][2]["response"]["status"], "404 Not Found");
  EXPECT_EQ(ParseBody(client_->Get("/Patient?identifier=urn:test|" + identifier))["total"], 1);
}

TEST_F(RestTest, ConditionalUpdateAndDelete) {
  std::string identifier = Unique("cond-");
  std::string query = "/Patient?identifier=urn:test|" + identifier;
  Response created = client_->Send("PUT", query, PatientWith(identifier).dump(), FhirJson());
  ASSERT_EQ(created.status, 201) << created.body;
  Json patient = PatientWith(identifier);
  patient["gender"] = "female";
  Response updated = client_->Send("PUT", query, patient.dump(), FhirJson());
  EXPECT_EQ(updated.status, 200);
  EXPECT_EQ(ParseBody(updated)["id"], ParseBody(created)["id"]);
  // Conditional create finds the existing one.
  Response exists = client_->Send("POST", "/Patient", patient.dump(),
                                  {{"Content-Type", "application/fhir+json"},
                                   {"If-None-Exist", "identifier=urn:test|" + identifier}});
  EXPECT_EQ(exists.status, 200);
  // A second match makes conditional interactions fail with 412.
  Create(PatientWith(identifier));
  EXPECT_EQ(client_->Send("PUT", query, patient.dump(), FhirJson()).status, 412);
  EXPECT_EQ(client_->Send("DELETE", query).status, 412);
  EXPECT_EQ(client_
                ->Send("POST", "/Patient", patient.dump(),
                       {{"Content-Type", "application/fhir+json"},
                        {"If-None-Exist", "identifier=urn:test|" + identifier}})
                .status,
            412);
  // An unknown criterion is refused rather than matching everything.
  EXPECT_EQ(client_->Send("DELETE", "/Patient?nonsense=1").status, 400);
}

TEST_F(RestTest, HistoryPagesWithSinceAndCount) {
  std::string identifier = Unique("hist-");
  Json created = Create(PatientWith(identifier));
  std::string id = created["id"];
  for (int i = 0; i < 4; ++i) {
    created["active"] = (i % 2 == 0);
    created.erase("meta");
    ASSERT_EQ(client_->Send("PUT", "/Patient/" + id, created.dump(), FhirJson()).status, 200);
  }
  Json page = ParseBody(client_->Get("/Patient/" + id + "/_history?_count=2"));
  EXPECT_EQ(page["total"], 5);
  ASSERT_EQ(page["entry"].size(), 2u);
  EXPECT_EQ(page["entry"][0]["resource"]["meta"]["versionId"], "5");
  std::string next;
  for (const Json& link : page["link"]) {
    if (link["relation"] == "next")
      next = link["url"];
  }
  ASSERT_FALSE(next.empty());
  Json page2 = ParseBody(client_->Get(PathOf(next)));
  ASSERT_EQ(page2["entry"].size(), 2u);
  EXPECT_EQ(page2["entry"][0]["resource"]["meta"]["versionId"], "3");

  std::string since = page["entry"][0]["resource"]["meta"]["lastUpdated"];
  Json recent = ParseBody(client_->Get("/Patient/_history?_since=" + since));
  EXPECT_GE(recent["entry"].size(), 1u);
  for (const Json& entry : recent["entry"]) {
    EXPECT_GE(entry["response"]["lastModified"].get<std::string>(), since);
  }
  Json system = ParseBody(client_->Get("/_history?_count=1"));
  EXPECT_EQ(system["entry"].size(), 1u);
  EXPECT_EQ(client_->Get("/_history?_since=yesterday").status, 400);
  EXPECT_EQ(client_->Get("/Patient/never-existed/_history").status, 404);
}

TEST_F(RestTest, SearchReportsIgnoredParametersAndStrictHandling) {
  std::string identifier = Unique("search-");
  Json created = Create(PatientWith(identifier));
  Json result = ParseBody(client_->Get("/Patient?identifier=" + identifier + "&nonsense=1"));
  EXPECT_EQ(result["type"], "searchset");
  ASSERT_EQ(result["entry"].size(), 2u);
  EXPECT_EQ(result["entry"][0]["search"]["mode"], "match");
  EXPECT_EQ(result["entry"][1]["resource"]["resourceType"], "OperationOutcome");
  EXPECT_EQ(result["entry"][1]["search"]["mode"], "outcome");
  EXPECT_EQ(client_->Get("/Patient?nonsense=1", {{"Prefer", "handling=strict"}}).status, 400);
  EXPECT_EQ(client_->Get("/Patient?_lastUpdated=gt2024-13").status, 400);
  Json by_id = ParseBody(client_->Get("/Patient?_id=" + created["id"].get<std::string>()));
  EXPECT_EQ(by_id["total"], 1);
  Response posted = client_->Send("POST", "/Patient/_search", "identifier=urn:test%7C" + identifier,
                                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(ParseBody(posted)["total"], 1) << posted.body;
}

TEST_F(RestTest, PrettyAndGzip) {
  Response pretty = client_->Get("/metadata?_pretty=true");
  EXPECT_NE(pretty.body.find("\n  \"resourceType\""), std::string::npos);
  client_->SetDecompress(false);
  Response zipped = client_->Get("/metadata", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(zipped.headers.Get("Content-Encoding"), "gzip");
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[0]), 0x1f);
  Response plain = client_->Get("/metadata");
  EXPECT_TRUE(plain.headers.Get("Content-Encoding").empty());
  EXPECT_EQ(plain.body.front(), '{');
}

TEST(ServeConfigTest, SettingsComeFromConfigFileAndEnvironment) {
  TempDir dir;
  std::filesystem::path config = dir.Path() / "medalliance.conf";
  std::ofstream(config) << "listen = 127.0.0.1:0\nmax-body-bytes = 1000\n";
  // The environment names the database; the file sets the body limit.
  setenv("MEDALLIANCE_DB", (dir.Path() / "from-env.db").c_str(), 1);
  test_support::ServerProcess process(MA_BINARY, {"serve", "--config", config.string(), "--quiet"});
  auto started = process.Start(std::chrono::seconds(30));
  unsetenv("MEDALLIANCE_DB");
  ASSERT_TRUE(started.has_value()) << started.error().GetMessage();
  HttpClient client("127.0.0.1", process.GetPort());
  EXPECT_EQ(client.Get("/healthz").status, 200);
  std::string big = R"({"resourceType":"Basic","code":{"text":")" + std::string(2000, 'x') + "\"}}";
  EXPECT_EQ(client.Send("POST", "/Basic", big, FhirJson()).status, 413);
  EXPECT_TRUE(std::filesystem::exists(dir.Path() / "from-env.db"));
}

}  // namespace
}  // namespace medalliance::integration
