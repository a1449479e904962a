// The alliance registry (Registry view) and the member-reference write hook, through RestService
// over an in-memory store (no HTTP) with a fake clock.

#include "registry/registry.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/rest/rest_service.h"
#include "core/time.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "registry/internal/parse_cache.h"
#include "registry/member_reference_hook.h"
#include "registry/members_operation.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::registry {
namespace {

using api::rest::FhirRequest;
using api::rest::FhirResponse;
using Json = nlohmann::ordered_json;

Json Ref(const std::string& reference) {
  return Json{{"reference", reference}};
}

Json Grade(const std::string& code, const std::string& display) {
  return Json::array({Json{
      {"url", kGradeExtension},
      {"valueCodeableConcept",
       {{"coding", Json::array({{{"system", kGradeSystem}, {"code", code}, {"display", display}}})},
        {"text", display}}}}});
}

Json Hospital(const std::string& id, const std::string& name, const std::string& city,
              const std::string& grade_code, const std::string& grade_display) {
  return Json{{"resourceType", "Organization"},
              {"id", id},
              {"active", true},
              {"extension", Grade(grade_code, grade_display)},
              {"name", name},
              {"address", Json::array({{{"city", city}, {"state", "广东省"}}})}};
}

Json Affiliation(const std::string& id, const std::string& member, const std::string& start,
                 const std::string& end = {}, bool active = true) {
  Json period = {{"start", start}};
  if (!end.empty())
    period["end"] = end;
  return Json{{"resourceType", "OrganizationAffiliation"},
              {"id", id},
              {"active", active},
              {"period", period},
              {"organization", Ref("Organization/alliance")},
              {"participatingOrganization", Ref("Organization/" + member)}};
}

Json Report(const Json& performer) {
  return Json{{"resourceType", "DiagnosticReport"},
              {"status", "final"},
              {"code", {{"text", "血常规 / blood count"}}},
              {"performer", Json::array({performer})}};
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::SqliteStore::Open({}).value();
    hook_ = std::make_unique<MemberReferenceHook>(MemberReferenceHookOptions{&clock_});
    members_ = std::make_unique<MembersOperation>(&clock_);
    api::rest::RestConfig config;
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.validate = [](const fhir::Json& resource) {
      return fhir::validation::ValidateResource(resource);
    };
    config.clock = &clock_;
    config.hooks = {hook_.get()};
    config.operations = {members_.get()};
    service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
  }

  // The alliance with two members in Guangzhou, one in Shenzhen, a former member (ended), a
  // suspended one (affiliation active=false), a future one, a non-member and departments.
  void MakeAlliance() {
    Put({{"resourceType", "Organization"},
         {"id", "alliance"},
         {"type", Json::array({{{"coding", Json::array({{{"system", kOrganizationTypeSystem},
                                                         {"code", "alliance"}}})}}})},
         {"name", "广深医疗联盟"}});
    Put(Hospital("gz-a", "广州联盟甲医院", "广州市", "level3-a", "三级甲等"));
    Put(Hospital("gz-chc", "广州联盟社区卫生服务中心", "广州市", "chc", "社区卫生服务中心"));
    Put(Hospital("sz-a", "深圳联盟甲医院", "深圳市", "level3-a", "三级甲等"));
    Put(Hospital("sz-old", "深圳联盟旧医院", "深圳市", "level2", "二级"));
    Put(Hospital("sz-paused", "深圳联盟暂停医院", "深圳市", "level2", "二级"));
    Put(Hospital("gz-future", "广州联盟新医院", "广州市", "level2", "二级"));
    Put(Hospital("outsider", "联盟外医院", "佛山市", "level3-a", "三级甲等"));
    Put(Affiliation("m-gz-a", "gz-a", "2020-10-01"));
    Put(Affiliation("m-gz-chc", "gz-chc", "2021-01-01"));
    Put(Affiliation("m-sz-a", "sz-a", "2020-10-01"));
    Put(Affiliation("m-sz-old", "sz-old", "2020-10-01", "2025-06-30"));
    Put(Affiliation("m-sz-paused", "sz-paused", "2020-10-01", "", false));
    Put(Affiliation("m-gz-future", "gz-future", "2027-01-01"));
    Put({{"resourceType", "Organization"},
         {"id", "gz-a-lab"},
         {"name", "检验科"},
         {"partOf", Ref("Organization/gz-a")}});
    Put({{"resourceType", "Organization"},
         {"id", "gz-a-lab-micro"},
         {"name", "微生物室"},
         {"partOf", Ref("Organization/gz-a-lab")}});
    Put({{"resourceType", "Organization"},
         {"id", "sz-old-lab"},
         {"name", "检验科"},
         {"partOf", Ref("Organization/sz-old")}});
    Put({{"resourceType", "HealthcareService"},
         {"id", "gz-a-stroke"},
         {"providedBy", Ref("Organization/gz-a")},
         {"specialty", Json::array({{{"coding", Json::array({{{"system", "http://snomed.info/sct"},
                                                              {"code", "394591006"}}})}}})}});
    Put({{"resourceType", "Practitioner"}, {"id", "doc-a"}, {"name", {{{"text", "李明"}}}}});
    Put({{"resourceType", "PractitionerRole"},
         {"id", "role-a"},
         {"practitioner", Ref("Practitioner/doc-a")},
         {"organization", Ref("Organization/gz-a")}});
    Put({{"resourceType", "Practitioner"}, {"id", "doc-out"}, {"name", {{{"text", "王芳"}}}}});
    Put({{"resourceType", "PractitionerRole"},
         {"id", "role-out"},
         {"practitioner", Ref("Practitioner/doc-out")},
         {"organization", Ref("Organization/outsider")}});
  }

  FhirResponse Send(std::string method, std::string url, std::string body = {}) {
    FhirRequest request;
    request.method = std::move(method);
    size_t question = url.find('?');
    api::rest::SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos) {
      request.params = api::rest::ParseQueryString(url.substr(question + 1));
    }
    request.body = std::move(body);
    request.content_type = "application/fhir+json";
    request.base_url = "http://test";
    return service_->Handle(request);
  }

  void Put(const Json& resource) {
    std::string type = resource["resourceType"];
    std::string id = resource["id"];
    FhirResponse response = Send("PUT", type + "/" + id, resource.dump());
    ASSERT_TRUE(response.status == 200 || response.status == 201) << response.body;
  }

  FhirResponse Post(const Json& resource) {
    return Send("POST", resource["resourceType"], resource.dump());
  }

  // The first issue of a refused write: (diagnostics, expression).
  static std::pair<std::string, std::string> FirstIssue(const FhirResponse& response) {
    Json outcome = Json::parse(response.body);
    const Json& issue = outcome["issue"][0];
    std::string expression = issue.contains("expression") ? issue["expression"][0] : "";
    return {issue.value("diagnostics", ""), expression};
  }

  std::vector<Member> Members(std::string_view city = {}) {
    std::vector<Member> members;
    core::Status status = store_->Read([&](store::ReadTx& tx) -> core::Status {
      Registry registry(tx);
      MA_ASSIGN_OR_RETURN(members, registry.Members(clock_.Now(), city));
      return {};
    });
    EXPECT_TRUE(status.has_value());
    return members;
  }

  OrganizationStanding CheckAt(std::string_view id, core::EpochMillis at) {
    OrganizationStanding standing;
    core::Status status = store_->Read([&](store::ReadTx& tx) -> core::Status {
      Registry registry(tx);
      MA_ASSIGN_OR_RETURN(standing, registry.Check(id, at));
      return {};
    });
    EXPECT_TRUE(status.has_value());
    return standing;
  }

  core::FakeClock clock_{1795651200000};  // 2026-11-26T00:00:00Z
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<MemberReferenceHook> hook_;
  std::unique_ptr<MembersOperation> members_;
  std::unique_ptr<api::rest::RestService> service_;
};

TEST_F(RegistryTest, ListsCurrentMembersWithCityGradeDepartmentsAndServices) {
  MakeAlliance();
  std::vector<Member> members = Members();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].organization_id, "gz-a");
  EXPECT_EQ(members[1].organization_id, "gz-chc");
  EXPECT_EQ(members[2].organization_id, "sz-a");
  EXPECT_EQ(members[0].city, "广州市");
  EXPECT_EQ(members[0].grade_code, "level3-a");
  EXPECT_EQ(members[0].grade_display, "三级甲等");
  EXPECT_EQ(members[0].affiliation_id, "m-gz-a");
  EXPECT_EQ(members[0].joined, "2020-10-01");
  EXPECT_EQ(members[0].department_ids, std::vector<std::string>{"gz-a-lab"});
  EXPECT_EQ(members[0].service_ids, std::vector<std::string>{"gz-a-stroke"});
  EXPECT_EQ(Members("广州市").size(), 2u);
  ASSERT_EQ(Members("深圳市").size(), 1u);
  EXPECT_EQ(Members("深圳市")[0].organization_id, "sz-a");
}

TEST_F(RegistryTest, MembershipFollowsTheAffiliationPeriod) {
  MakeAlliance();
  core::EpochMillis in_2024 = core::ParseFhirDateTime("2024-05-01T00:00:00Z")->low;
  core::EpochMillis in_2027 = core::ParseFhirDateTime("2027-02-01T00:00:00Z")->low;
  EXPECT_EQ(CheckAt("sz-old", in_2024).standing, Standing::kMember);
  OrganizationStanding now = CheckAt("sz-old", clock_.Now());
  EXPECT_EQ(now.standing, Standing::kInactive);
  EXPECT_NE(now.reason.find("2025-06-30"), std::string::npos) << now.reason;
  // The end date covers its whole day in China (UTC+8).
  core::EpochMillis last_evening = core::ParseFhirDateTime("2025-06-30T23:00:00+08:00")->low;
  EXPECT_EQ(CheckAt("sz-old", last_evening).standing, Standing::kMember);
  EXPECT_EQ(CheckAt("gz-future", clock_.Now()).standing, Standing::kInactive);
  EXPECT_EQ(CheckAt("gz-future", in_2027).standing, Standing::kMember);
  EXPECT_EQ(CheckAt("sz-paused", in_2024).standing, Standing::kInactive);
}

TEST_F(RegistryTest, ClassifiesDepartmentsOutsidersAndUnknowns) {
  MakeAlliance();
  OrganizationStanding lab = CheckAt("gz-a-lab-micro", clock_.Now());
  EXPECT_EQ(lab.standing, Standing::kDepartment);
  EXPECT_EQ(lab.member_id, "gz-a");
  EXPECT_EQ(CheckAt("sz-old-lab", clock_.Now()).standing, Standing::kInactive);
  EXPECT_EQ(CheckAt("outsider", clock_.Now()).standing, Standing::kNotMember);
  EXPECT_EQ(CheckAt("nowhere", clock_.Now()).standing, Standing::kUnknown);
  EXPECT_EQ(CheckAt("alliance", clock_.Now()).standing, Standing::kNotMember);
}

TEST_F(RegistryTest, ReportsNamingMembersDepartmentsAndTheirStaffAreAccepted) {
  MakeAlliance();
  EXPECT_EQ(Post(Report(Ref("Organization/gz-a"))).status, 201);
  EXPECT_EQ(Post(Report(Ref("Organization/gz-a-lab-micro"))).status, 201);
  EXPECT_EQ(Post(Report(Ref("PractitionerRole/role-a"))).status, 201);
  EXPECT_EQ(Post(Report(Ref("Practitioner/doc-a"))).status, 201);
  EXPECT_EQ(Post(Report(Ref("Patient/anyone"))).status, 201);      // not checked
  EXPECT_EQ(Post(Report(Json{{"display", "外院"}})).status, 201);  // no literal reference
}

TEST_F(RegistryTest, UnknownOrganizationIsRefusedInChineseAndEnglish) {
  MakeAlliance();
  FhirResponse response = Post(Report(Ref("Organization/nowhere")));
  EXPECT_EQ(response.status, 422) << response.body;
  auto [message, expression] = FirstIssue(response);
  EXPECT_NE(message.find("未知机构"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown organization Organization/nowhere"), std::string::npos)
      << message;
  EXPECT_EQ(expression, "DiagnosticReport.performer[0]");
}

TEST_F(RegistryTest, FormerMemberIsRefusedWithTheEndDate) {
  MakeAlliance();
  FhirResponse response = Post(Report(Ref("Organization/sz-old")));
  EXPECT_EQ(response.status, 422) << response.body;
  auto [message, expression] = FirstIssue(response);
  EXPECT_NE(message.find("成员资格已于 2025-06-30 终止"), std::string::npos) << message;
  EXPECT_NE(message.find("membership ended 2025-06-30"), std::string::npos) << message;
  EXPECT_NE(message.find("深圳联盟旧医院"), std::string::npos) << message;
  EXPECT_EQ(Post(Report(Ref("Organization/sz-paused"))).status, 422);
  EXPECT_EQ(Post(Report(Ref("Organization/sz-old-lab"))).status, 422);
}

TEST_F(RegistryTest, OutsidersAndTheirStaffAreRefused) {
  MakeAlliance();
  FhirResponse response = Post(Report(Ref("Organization/outsider")));
  EXPECT_EQ(response.status, 422);
  EXPECT_NE(FirstIssue(response).first.find("is not a member of the alliance"), std::string::npos);
  EXPECT_EQ(Post(Report(Ref("PractitionerRole/role-out"))).status, 422);
  EXPECT_EQ(Post(Report(Ref("PractitionerRole/no-such-role"))).status, 422);
  response = Post(Report(Ref("Practitioner/doc-out")));
  EXPECT_EQ(response.status, 422);
  EXPECT_NE(FirstIssue(response).first.find("has no active PractitionerRole"), std::string::npos);
}

TEST_F(RegistryTest, EveryCheckedElementIsChecked) {
  MakeAlliance();
  Json request = {{"resourceType", "ServiceRequest"},
                  {"status", "active"},
                  {"intent", "order"},
                  {"subject", Ref("Patient/p1")},
                  {"requester", Ref("Organization/gz-chc")},
                  {"performer", Json::array({Ref("Organization/gz-a"), Ref("Organization/x")})}};
  FhirResponse response = Post(request);
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(FirstIssue(response).second, "ServiceRequest.performer[1]");
  request["performer"] = Json::array({Ref("Organization/sz-a")});
  EXPECT_EQ(Post(request).status, 201);

  Json task = {{"resourceType", "Task"},
               {"status", "requested"},
               {"intent", "order"},
               {"owner", Ref("Organization/outsider")}};
  response = Post(task);
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(FirstIssue(response).second, "Task.owner");

  Json study = {
      {"resourceType", "ImagingStudy"},
      {"status", "available"},
      {"subject", Ref("Patient/p1")},
      {"series",
       Json::array({{{"uid", "2.25.1"},
                     {"modality", {{"code", "CT"}}},
                     {"performer", Json::array({{{"actor", Ref("Organization/sz-old")}}})}}})}};
  response = Post(study);
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_EQ(FirstIssue(response).second, "ImagingStudy.series[0].performer[0].actor");

  Json observation = {
      {"resourceType", "Observation"},
      {"status", "final"},
      {"code", {{"text", "血糖"}}},
      {"performer", Json::array({Ref("#org")})},
      {"contained",
       Json::array({{{"resourceType", "Organization"}, {"id", "org"}, {"name", "外院"}}})}};
  response = Post(observation);
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_EQ(FirstIssue(response).second, "Observation.performer[0]");
}

TEST_F(RegistryTest, RecordNumbersMustNameAMemberHospital) {
  MakeAlliance();
  auto patient = [](const std::string& member) {
    return Json{
        {"resourceType", "Patient"},
        {"identifier",
         Json::array({{{"system", std::string(kMrnSystemPrefix) + member}, {"value", "MRN1"}}})},
        {"name", Json::array({{{"family", "张"}, {"given", Json::array({"伟"})}}})}};
  };
  EXPECT_EQ(Post(patient("gz-a")).status, 201);
  FhirResponse response = Post(patient("outsider"));
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(FirstIssue(response).second, "Patient.identifier[0].system");
  response = Post(patient("gz-a-lab"));
  EXPECT_EQ(response.status, 422);
  EXPECT_NE(FirstIssue(response).first.find("not the department"), std::string::npos);
}

TEST_F(RegistryTest, UpdatesMayKeepAReferenceToAFormerMember) {
  MakeAlliance();
  // Written while sz-old was a member.
  clock_.Set(core::ParseFhirDateTime("2024-05-01T00:00:00Z")->low);
  Json report = Report(Ref("Organization/sz-old"));
  report["id"] = "old-report";
  Put(report);
  clock_.Set(1795651200000);
  report["status"] = "amended";
  Put(report);  // the reference was there before
  report["performer"].push_back(Ref("Organization/outsider"));
  EXPECT_EQ(Send("PUT", "DiagnosticReport/old-report", report.dump()).status, 422);
  EXPECT_EQ(Send("DELETE", "DiagnosticReport/old-report").status, 204);
}

TEST_F(RegistryTest, WithoutAnAllianceNothingIsChecked) {
  EXPECT_EQ(Post(Report(Ref("Organization/nowhere"))).status, 201);
  Put(Hospital("outsider", "联盟外医院", "佛山市", "level3-a", "三级甲等"));
  EXPECT_EQ(Post(Report(Ref("Organization/outsider"))).status, 201);
}

TEST_F(RegistryTest, ATransactionMayAddAMemberAndItsReports) {
  MakeAlliance();
  Json bundle = {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  auto put = [&](Json resource) {
    std::string url = std::string(resource["resourceType"]) + "/" + std::string(resource["id"]);
    bundle["entry"].push_back(
        {{"resource", resource}, {"request", {{"method", "PUT"}, {"url", url}}}});
  };
  put(Hospital("sz-new", "深圳联盟新成员医院", "深圳市", "level2", "二级"));
  put(Affiliation("m-sz-new", "sz-new", "2026-01-01"));
  Json report = Report(Ref("Organization/sz-new"));
  report["id"] = "new-report";
  put(report);
  FhirResponse response = Send("POST", "", bundle.dump());
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Members("深圳市").size(), 2u);
}

// The hook remembers "no alliance" for the rest of a transaction only while it writes no
// Organization: an alliance written in the same transaction turns the check on at once.
TEST_F(RegistryTest, AnAllianceWrittenInTheSameTransactionTurnsTheCheckOn) {
  Json bundle = {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
  auto put = [&](Json resource) {
    std::string url = std::string(resource["resourceType"]) + "/" + std::string(resource["id"]);
    bundle["entry"].push_back(
        {{"resource", resource}, {"request", {{"method", "PUT"}, {"url", url}}}});
  };
  Json before = Report(Ref("Organization/nowhere"));
  before["id"] = "before-alliance";
  put(before);  // no alliance yet: accepted
  put({{"resourceType", "Organization"},
       {"id", "alliance"},
       {"type", Json::array({{{"coding", Json::array({{{"system", kOrganizationTypeSystem},
                                                       {"code", "alliance"}}})}}})},
       {"name", "广深医疗联盟"}});
  Json after = Report(Ref("Organization/nowhere"));
  after["id"] = "after-alliance";
  put(after);
  FhirResponse response = Send("POST", "", bundle.dump());
  EXPECT_EQ(response.status, 422) << response.body;
  EXPECT_NE(response.body.find("Organization/nowhere"), std::string::npos) << response.body;
  EXPECT_EQ(Send("GET", "DiagnosticReport/before-alliance").status, 404);
}

TEST_F(RegistryTest, GradeIsAnAllianceSearchParameter) {
  const fhir::r4::SearchParamDefinition* grade = fhir::r4::FindSearchParam("Organization", "grade");
  ASSERT_NE(grade, nullptr);
  EXPECT_EQ(grade->type, fhir::r4::SearchParamType::kToken);
  EXPECT_EQ(grade->url, "https://fhir.medalliance.cn/SearchParameter/Organization-grade");
  MakeAlliance();
  FhirResponse response =
      Send("GET", "Organization?grade=" + std::string(kGradeSystem) + "|level3-a&_sort=_id");
  ASSERT_EQ(response.status, 200) << response.body;
  Json bundle = Json::parse(response.body);
  std::vector<std::string> ids;
  for (const Json& entry : bundle["entry"]) ids.push_back(entry["resource"]["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"gz-a", "outsider", "sz-a"}));
}

TEST_F(RegistryTest, MembersOperationListsCurrentMembersOfACity) {
  MakeAlliance();
  // %E6%B7%B1%E5%9C%B3%E5%B8%82 = 深圳市
  FhirResponse response = Send("GET", "Organization/$members?city=%E6%B7%B1%E5%9C%B3%E5%B8%82");
  ASSERT_EQ(response.status, 200) << response.body;
  Json out = Json::parse(response.body);
  EXPECT_EQ(out["resourceType"], "Parameters");
  EXPECT_EQ(out["parameter"][0]["name"], "total");
  EXPECT_EQ(out["parameter"][0]["valueInteger"], 1);
  const Json& parts = out["parameter"][1]["part"];
  EXPECT_EQ(parts[0]["valueReference"]["reference"], "Organization/sz-a");
  EXPECT_EQ(parts[1]["valueReference"]["reference"], "OrganizationAffiliation/m-sz-a");
  EXPECT_EQ(parts[2]["valueString"], "深圳市");
  EXPECT_EQ(parts[3]["valueCoding"]["code"], "level3-a");
  // In 2024 the former member was still one; in 2027 the future one has joined.
  response = Send("GET", "Organization/$members?date=2024-05-01");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Json::parse(response.body)["parameter"][0]["valueInteger"], 4);  // + sz-old
  response = Send("GET", "Organization/$members?date=2027-02-01");
  EXPECT_EQ(Json::parse(response.body)["parameter"][0]["valueInteger"], 4);  // + gz-future
  EXPECT_EQ(Send("GET", "Organization/$members?date=yesterday").status, 400);
}

TEST(ParseCacheTest, SharesTreesOfIdenticalTextOnly) {
  std::string v1 = R"({"resourceType":"Organization","id":"x","name":"甲","active":true})";
  std::string v2 = R"({"resourceType":"Organization","id":"x","name":"甲","active":false})";
  auto first = internal::ParseCached(v1).value();
  EXPECT_EQ(internal::ParseCached(v1).value(), first);  // the same tree
  auto second = internal::ParseCached(v2).value();
  EXPECT_NE(second, first);
  EXPECT_FALSE(second->Find("active")->GetBool());
  EXPECT_TRUE(first->Find("active")->GetBool());
  EXPECT_FALSE(internal::ParseCached("{not json").has_value());
}

TEST_F(RegistryTest, ANewVersionOfAnAffiliationIsSeenAtOnce) {
  MakeAlliance();
  EXPECT_EQ(Post(Report(Ref("Organization/gz-a"))).status, 201);
  Put(Affiliation("m-gz-a", "gz-a", "2020-10-01", "2026-01-31"));
  EXPECT_EQ(Post(Report(Ref("Organization/gz-a"))).status, 422);
  Put(Affiliation("m-gz-a", "gz-a", "2020-10-01"));
  EXPECT_EQ(Post(Report(Ref("Organization/gz-a"))).status, 201);
}

}  // namespace
}  // namespace medalliance::registry
