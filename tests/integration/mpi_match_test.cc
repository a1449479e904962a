// The master patient index over HTTP: identity validation on write, Person links and
// Patient/$match against the real server, including after a restart (index rebuilt).

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

// A resident ID (GB 11643) with its MOD 11-2 check character.
std::string ResidentId(const std::string& first17) {
  static constexpr int kWeights[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return first17 + "10X98765432"[sum % 11];
}

Json MakePatient(const std::string& mrn_system, const std::string& mrn, const Json& name,
                 const std::string& birth_date, const std::string& gender,
                 const std::string& resident_id) {
  Json patient = {{"resourceType", "Patient"},
                  {"identifier", Json::array({{{"system", mrn_system}, {"value", mrn}}})},
                  {"name", Json::array({name})},
                  {"gender", gender},
                  {"birthDate", birth_date}};
  if (!resident_id.empty()) {
    patient["identifier"].push_back(
        {{"system", "https://fhir.medalliance.cn/sid/resident-id"}, {"value", resident_id}});
  }
  return patient;
}

class MpiMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.Path() / "mpi.db");
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
    // A birth date of its own per run keeps the blocks of this test to itself.
    std::mt19937 rng{std::random_device{}()};
    birth_date_ = "19" + std::to_string(50 + rng() % 40) + "-0" + std::to_string(1 + rng() % 9) +
                  "-1" + std::to_string(rng() % 9);
    std::string digits =
        birth_date_.substr(0, 4) + birth_date_.substr(5, 2) + birth_date_.substr(8, 2);
    resident_id_ = ResidentId("440106" + digits + "123");
  }

  Json Post(const std::string& path, const Json& body, int expected) {
    Response response = client_->Send("POST", path, body.dump(), FhirJson());
    EXPECT_EQ(response.status, expected) << response.body;
    return ParseBody(response);
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string birth_date_;
  std::string resident_id_;
};

TEST_F(MpiMatchTest, WritesAreCheckedLinkedAndMatched) {
  std::string bad = resident_id_;
  bad.back() = bad.back() == '0' ? '1' : '0';
  Json refused = Post("/Patient",
                      MakePatient("https://fhir.medalliance.cn/sid/mrn/gz-central", "GZ-1",
                                  {{"family", "张"}, {"given", {"伟"}}}, birth_date_, "male", bad),
                      422);
  EXPECT_NE(refused.dump().find("居民身份证校验位错误"), std::string::npos) << refused.dump();

  Json a =
      Post("/Patient",
           MakePatient("https://fhir.medalliance.cn/sid/mrn/gz-central", "GZ-1",
                       {{"family", "张"}, {"given", {"伟"}}}, birth_date_, "male", resident_id_),
           201);
  Json b = Post("/Patient",
                MakePatient("https://fhir.medalliance.cn/sid/mrn/sz-heart", "SZ-1",
                            {{"text", "ZHANG WEI"}}, birth_date_, "male", resident_id_),
                201);
  Response persons = client_->Get("/Person?link=Patient/" + b["id"].get<std::string>());
  ASSERT_EQ(persons.status, 200) << persons.body;
  Json person_bundle = ParseBody(persons);
  ASSERT_EQ(person_bundle["entry"].size(), 1u) << persons.body;
  EXPECT_EQ(person_bundle["entry"][0]["resource"]["link"].size(), 2u);

  Json query = {
      {"resourceType", "Parameters"},
      {"parameter",
       Json::array({{{"name", "resource"},
                     {"resource", MakePatient("https://fhir.medalliance.cn/sid/mrn/x", "X-1",
                                              {{"family", "張"}, {"given", {"偉"}}}, birth_date_,
                                              "male", resident_id_)}},
                    {{"name", "count"}, {"valueInteger", 5}}})}};
  auto check = [&](const Json& bundle) {
    EXPECT_EQ(bundle["resourceType"], "Bundle");
    EXPECT_EQ(bundle["type"], "searchset");
    ASSERT_EQ(bundle["entry"].size(), 2u) << bundle.dump();
    for (const Json& entry : bundle["entry"]) {
      EXPECT_EQ(entry["search"]["mode"], "match");
      EXPECT_EQ(entry["search"]["extension"][0]["url"],
                "http://hl7.org/fhir/StructureDefinition/match-grade");
      EXPECT_EQ(entry["search"]["extension"][0]["valueCode"], "certain");
      EXPECT_GE(entry["search"]["score"].get<double>(), 0.95);
    }
  };
  check(Post("/Patient/$match", query, 200));

  // After a restart the index is rebuilt from the database.
  server_.reset();
  server_ = std::make_unique<TestServer>(dir_.Path() / "mpi.db");
  client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
  check(Post("/Patient/$match", query, 200));
  Response metadata = client_->Get("/metadata");
  EXPECT_NE(metadata.body.find("OperationDefinition/Patient-match"), std::string::npos);
}

}  // namespace
}  // namespace medalliance::integration
