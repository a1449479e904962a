// The alliance registry over HTTP on the demo alliance: members per city, search by grade and
// by service, and the member-reference check (422 in Chinese and English) on report writes.

#include <string>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

class RegistryDemoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string demo_dir = std::string(MA_SOURCE_DIR) + "/data/demo";
    server_ = new TestServer(dir_->Path() / "demo.db", {"--demo", "--demo-dir", demo_dir});
    client_ = new HttpClient("127.0.0.1", server_->Port());
  }
  static void TearDownTestSuite() {
    delete client_;
    delete server_;
    delete dir_;
  }

  static Json Get(const std::string& path) {
    Response response = client_->Get(path);
    EXPECT_EQ(response.status, 200) << path << ": " << response.body;
    return ParseBody(response);
  }

  static Response Post(const Json& resource) {
    return client_->Send("POST", "/" + std::string(resource["resourceType"]), resource.dump(),
                         FhirJson());
  }

  static Json Report(const std::string& performer) {
    return {{"resourceType", "DiagnosticReport"},
            {"status", "final"},
            {"code", {{"text", "血常规 / blood count"}}},
            {"subject", {{"reference", "Patient/pat-01"}}},
            {"performer", Json::array({{{"reference", performer}}})}};
  }

  // The ids of the search matches.
  static std::vector<std::string> Ids(const Json& bundle, const std::string& mode = "match") {
    std::vector<std::string> ids;
    for (const Json& entry : bundle.value("entry", Json::array())) {
      if (entry["search"].value("mode", "") == mode)
        ids.push_back(entry["resource"]["id"]);
    }
    return ids;
  }

  static TempDir* dir_;
  static TestServer* server_;
  static HttpClient* client_;
};

TempDir* RegistryDemoTest::dir_ = nullptr;
TestServer* RegistryDemoTest::server_ = nullptr;
HttpClient* RegistryDemoTest::client_ = nullptr;

TEST_F(RegistryDemoTest, NineCurrentMembersInEachCity) {
  // %E5%B9%BF%E5%B7%9E%E5%B8%82 = 广州市, %E6%B7%B1%E5%9C%B3%E5%B8%82 = 深圳市
  const std::string members =
      "&_has:OrganizationAffiliation:participating-organization:active=true&_total=accurate";
  EXPECT_EQ(Get("/Organization?address-city=%E5%B9%BF%E5%B7%9E%E5%B8%82" + members)["total"], 9);
  EXPECT_EQ(Get("/Organization?address-city=%E6%B7%B1%E5%9C%B3%E5%B8%82" + members)["total"], 9);
  // The same through the registry, which also follows the affiliation periods.
  Json guangzhou = Get("/Organization/$members?city=%E5%B9%BF%E5%B7%9E%E5%B8%82");
  EXPECT_EQ(guangzhou["parameter"][0]["valueInteger"], 9);
  Json shenzhen = Get("/Organization/$members?city=%E6%B7%B1%E5%9C%B3%E5%B8%82");
  EXPECT_EQ(shenzhen["parameter"][0]["valueInteger"], 9);
  // In 2024 the former member (left 2025-06-30) was one of them.
  EXPECT_EQ(Get("/Organization/$members?city=%E6%B7%B1%E5%9C%B3%E5%B8%82&date=2024-01-01")
                ["parameter"][0]["valueInteger"],
            10);
  // The former member is still on record, with its affiliation inactive.
  EXPECT_EQ(Get("/OrganizationAffiliation?primary-organization=Organization/alliance"
                "&_total=accurate&_count=0")["total"],
            19);
}

TEST_F(RegistryDemoTest, SearchesMembersByGradeAndByService) {
  Json grade =
      Get("/Organization?grade=https://fhir.medalliance.cn/CodeSystem/hospital-grade|level3-a"
          "&_total=accurate&_sort=_id");
  EXPECT_EQ(grade["total"], 7);
  EXPECT_EQ(Ids(grade), (std::vector<std::string>{"gz-cancer", "gz-central", "gz-heart", "gz-neuro",
                                                  "sz-cancer", "sz-central", "sz-heart"}));
  EXPECT_EQ(Get("/Organization?grade=chc&_total=accurate&_count=0")["total"], 6);

  Json stroke =
      Get("/HealthcareService?service-type=https://fhir.medalliance.cn/CodeSystem/service|"
          "stroke-thrombolysis&_include=HealthcareService:organization&_sort=_id");
  EXPECT_EQ(Ids(stroke, "include"),
            (std::vector<std::string>{"gz-central", "gz-neuro", "sz-central", "sz-trauma"}));
  // The grade is listed in the CapabilityStatement with its canonical URL.
  EXPECT_NE(client_->Get("/metadata")
                .body.find("https://fhir.medalliance.cn/SearchParameter/Organization-grade"),
            std::string::npos);
}

TEST_F(RegistryDemoTest, ReportsOfMembersAndTheirDepartmentsAreAccepted) {
  EXPECT_EQ(Post(Report("Organization/sz-central")).status, 201);
  EXPECT_EQ(Post(Report("Organization/gz-tianhe-chc-lab")).status, 201);
  EXPECT_EQ(Post(Report("PractitionerRole/role-pr-001")).status, 201);
}

TEST_F(RegistryDemoTest, ReportNamingAnUnknownOrganizationIsRefused) {
  Response response = Post(Report("Organization/no-such-hospital"));
  ASSERT_EQ(response.status, 422) << response.body;
  Json issue = ParseBody(response)["issue"][0];
  std::string message = issue["diagnostics"];
  EXPECT_NE(message.find("未知机构 Organization/no-such-hospital"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown organization Organization/no-such-hospital"), std::string::npos)
      << message;
  EXPECT_EQ(issue["expression"][0], "DiagnosticReport.performer[0]");
}

TEST_F(RegistryDemoTest, ReportNamingAFormerMemberIsRefused) {
  // The demo's former member: affiliation ended 2025-06-30.
  Response response = Post(Report("Organization/sz-qianhai"));
  ASSERT_EQ(response.status, 422) << response.body;
  std::string message = ParseBody(response)["issue"][0]["diagnostics"];
  EXPECT_NE(message.find("成员资格已于 2025-06-30 终止"), std::string::npos) << message;
  EXPECT_NE(message.find("membership ended 2025-06-30"), std::string::npos) << message;

  // A member whose affiliation period ended, though still marked active.
  Json hospital = {{"resourceType", "Organization"},
                   {"id", "gz-ended"},
                   {"name", "广州联盟旧成员医院"},
                   {"address", Json::array({{{"city", "广州市"}}})}};
  ASSERT_EQ(client_->Send("PUT", "/Organization/gz-ended", hospital.dump(), FhirJson()).status,
            201);
  Json affiliation = {{"resourceType", "OrganizationAffiliation"},
                      {"active", true},
                      {"period", {{"start", "2021-01-01"}, {"end", "2024-12-31"}}},
                      {"organization", {{"reference", "Organization/alliance"}}},
                      {"participatingOrganization", {{"reference", "Organization/gz-ended"}}}};
  ASSERT_EQ(Post(affiliation).status, 201);
  response = Post(Report("Organization/gz-ended"));
  ASSERT_EQ(response.status, 422) << response.body;
  message = ParseBody(response)["issue"][0]["diagnostics"];
  EXPECT_NE(message.find("联盟成员资格无效"), std::string::npos) << message;
  EXPECT_NE(message.find("membership ended 2024-12-31"), std::string::npos) << message;
}

TEST_F(RegistryDemoTest, PatientsAtTwoMembersAreOnePerson) {
  Json people = Get("/Person?link=Patient/pat-01b");
  ASSERT_EQ(Ids(people).size(), 1u);
  std::string links = people["entry"][0]["resource"]["link"].dump();
  EXPECT_NE(links.find("Patient/pat-01\""), std::string::npos) << links;
}

}  // namespace
}  // namespace medalliance::integration
