// The master patient index's link operations over HTTP: link two Patients of two members,
// $everything across them (each entry marked with its member), search by a linked identifier,
// unlink, and $everything of one member only again.

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

class MpiLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.Path() / "mpi-link.db");
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
    std::mt19937 rng{std::random_device{}()};
    suffix_ = std::to_string(rng() % 1000000);
  }

  Json Send(const std::string& method, const std::string& path, const Json& body, int expected) {
    Response response = client_->Send(method, path, body.is_null() ? "" : body.dump(), FhirJson());
    EXPECT_EQ(response.status, expected) << method << " " << path << ": " << response.body;
    return ParseBody(response);
  }

  std::string CreatePatient(const std::string& member, const std::string& mrn, const Json& name,
                            const std::string& birth_date, const std::string& gender) {
    Json patient = {
        {"resourceType", "Patient"},
        {"identifier", Json::array({{{"system", "https://fhir.medalliance.cn/sid/mrn/" + member},
                                     {"value", mrn}}})},
        {"name", Json::array({name})},
        {"gender", gender},
        {"birthDate", birth_date}};
    return "Patient/" + Send("POST", "/Patient", patient, 201)["id"].get<std::string>();
  }

  void CreateObservation(const std::string& patient, const std::string& code) {
    Json observation = {
        {"resourceType", "Observation"},
        {"status", "final"},
        {"code", {{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", code}}})}}},
        {"subject", {{"reference", patient}}}};
    Send("POST", "/Observation", observation, 201);
  }

  // (resource reference, member) of every entry of $everything, following next links.
  std::set<std::pair<std::string, std::string>> Everything(const std::string& path) {
    std::set<std::pair<std::string, std::string>> out;
    std::string url = path;
    for (int page = 0; page < 20 && !url.empty(); ++page) {
      Json bundle = Send("GET", url, Json(), 200);
      for (const Json& entry : bundle.value("entry", Json::array())) {
        std::string member;
        for (const Json& extension : entry.value("extension", Json::array())) {
          if (extension["url"] == "https://fhir.medalliance.cn/StructureDefinition/alliance-member")
            member = extension["valueReference"]["reference"];
        }
        out.insert({entry["resource"]["resourceType"].get<std::string>() + "/" +
                        entry["resource"]["id"].get<std::string>(),
                    member});
      }
      url.clear();
      for (const Json& link : bundle["link"]) {
        if (link["relation"] == "next") {
          std::string next = link["url"];
          url = next.substr(next.find('/', next.find("//") + 2));  // the path and query
        }
      }
    }
    return out;
  }

  size_t Count(const std::string& path) {
    return Send("GET", path, Json(), 200).value("entry", Json::array()).size();
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
  std::string suffix_;
};

TEST_F(MpiLinkTest, LinkEverythingAcrossMembersThenUnlink) {
  std::string a = CreatePatient("gz-central", "GZ-" + suffix_,
                                {{"family", "陈"}, {"given", {"静"}}}, "1962-04-05", "female");
  std::string b =
      CreatePatient("sz-heart", "SZ-" + suffix_, {{"text", "CHEN JING"}}, "1962-05-04", "female");
  CreateObservation(a, "8867-4");
  CreateObservation(b, "8480-6");
  CreateObservation(b, "8462-4");
  const std::string b_mrn = "https://fhir.medalliance.cn/sid/mrn/sz-heart|SZ-" + suffix_;
  EXPECT_EQ(Count("/Observation?patient.identifier=" + b_mrn + "&_mpi-linked=true"), 2u);

  Json parameters = {
      {"resourceType", "Parameters"},
      {"parameter", Json::array({{{"name", "patient"}, {"valueReference", {{"reference", a}}}},
                                 {{"name", "patient"}, {"valueReference", {{"reference", b}}}},
                                 {{"name", "reason"}, {"valueString", "steward: same person"}}})}};
  Json linked = Send("POST", "/Person/$mpi-link", parameters, 200);
  ASSERT_EQ(linked["parameter"][0]["name"], "provenance") << linked.dump();

  auto across = Everything("/" + a + "/$everything?_mpi=linked&_count=2");
  EXPECT_EQ(across.size(), 5u);  // 2 Patients + 3 Observations
  std::set<std::string> members;
  for (const auto& [reference, member] : across) members.insert(member);
  EXPECT_EQ(members, (std::set<std::string>{"Organization/gz-central", "Organization/sz-heart"}));
  EXPECT_TRUE(across.count({b, "Organization/sz-heart"}));
  EXPECT_EQ(Count("/Observation?patient.identifier=" + b_mrn), 2u);
  EXPECT_EQ(Count("/Observation?patient.identifier=" + b_mrn + "&_mpi-linked=true"), 3u);

  Json unlink = {
      {"resourceType", "Parameters"},
      {"parameter", Json::array({{{"name", "patient"}, {"valueReference", {{"reference", b}}}}})}};
  Send("POST", "/Person/$mpi-unlink", unlink, 200);
  auto alone = Everything("/" + a + "/$everything?_mpi=linked");
  EXPECT_EQ(alone.size(), 2u);
  for (const auto& [reference, member] : alone) EXPECT_EQ(member, "Organization/gz-central");
  EXPECT_EQ(Count("/Observation?patient.identifier=" + b_mrn + "&_mpi-linked=true"), 2u);
  // Who did what: the Provenance of each change.
  EXPECT_EQ(Count("/Provenance?target=" + b), 0u);  // Persons changed, not the Patient
  Json persons = Send("GET", "/Person?link=" + b, Json(), 200);
  ASSERT_EQ(persons["entry"].size(), 1u);
  std::string person = "Person/" + persons["entry"][0]["resource"]["id"].get<std::string>();
  EXPECT_EQ(Count("/Provenance?target=" + person), 1u);
  // Each invocation is audited, as every write is; the audit log flushes every few ms.
  size_t audited = 0;
  for (int i = 0; i < 100 && audited < 2; ++i) {
    audited = Count("/AuditEvent?subtype=operation&_count=100");
    if (audited < 2)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(audited, 2u);  // $mpi-link and $mpi-unlink
}

}  // namespace
}  // namespace medalliance::integration
