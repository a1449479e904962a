#include "fhir/json/json.h"
#include "fhir/patch/json_patch.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "referral/referral_fixture.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::referral {
namespace {

Json MemberOrganization(const std::string& id, const std::string& name, const std::string& grade,
                        const std::string& city) {
  return Json{
      {"resourceType", "Organization"},
      {"id", id},
      {"active", true},
      {"extension",
       Json::array({{{"url", "https://fhir.medalliance.cn/StructureDefinition/hospital-grade"},
                     {"valueString", grade}}})},
      {"name", name},
      {"address", Json::array({{{"city", city}}})},
      {"partOf", {{"reference", "Organization/alliance"}}}};
}

}  // namespace

void ReferralTest::SetUp() {
  store_ = store::SqliteStore::Open({}).value();
  request_hook_ = std::make_unique<ServiceRequestHook>();
  task_hook_ = std::make_unique<TaskHook>(TaskHookOptions{&clock_, config_});
  appointment_hook_ = std::make_unique<AppointmentHook>();
  board_ = std::make_unique<GreenChannelBoard>(&clock_);
  metrics_ = std::make_unique<ReferralMetrics>(&clock_, config_);
  api::rest::RestConfig config;
  for (std::string_view type : fhir::r4::ResourceTypeNames())
    config.resource_types.emplace_back(type);
  config.validate = [](const fhir::Json& resource) {
    return fhir::validation::ValidateResource(resource);
  };
  config.apply_json_patch = [](fhir::Json& document, const fhir::Json& patch) {
    return fhir::ApplyJsonPatch(document, patch);
  };
  config.clock = &clock_;
  audit_hook_ = std::make_unique<audit::AuditWriteHook>(clock_);
  config.hooks = {request_hook_.get(), task_hook_.get(), appointment_hook_.get(),
                  audit_hook_.get()};
  config.operations = {board_.get(), metrics_.get()};
  service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));

  Put({{"resourceType", "Organization"}, {"id", "alliance"}, {"name", "广深医疗联盟"}});
  Put(MemberOrganization("gz-central", "广州联盟中心医院", "三级甲等", "广州市"));
  Put(MemberOrganization("gz-tianhe-chc", "天河区社区卫生服务中心", "社区卫生服务中心", "广州市"));
  Put(MemberOrganization("sz-heart", "深圳联盟心血管医院", "三级甲等", "深圳市"));
  Put(MemberOrganization("sz-people", "深圳联盟人民医院", "三级甲等", "深圳市"));
  Put(MemberOrganization("sz-nanshan", "南山区人民医院", "二级", "深圳市"));
  Put({{"resourceType", "Organization"},
       {"id", "sz-heart-card"},
       {"name", "心内科 Cardiology"},
       {"partOf", {{"reference", "Organization/sz-heart"}}}});
  Put({{"resourceType", "Practitioner"}, {"id", "pr-nanshan"}});
  Put({{"resourceType", "PractitionerRole"},
       {"id", "role-nanshan"},
       {"practitioner", {{"reference", "Practitioner/pr-nanshan"}}},
       {"organization", {{"reference", "Organization/sz-nanshan"}}}});
  Put({{"resourceType", "PractitionerRole"},
       {"id", "coordinator-sz-heart"},
       {"active", true},
       {"practitioner", {{"reference", "Practitioner/pr-heart-duty"}}},
       {"organization", {{"reference", "Organization/sz-heart"}}},
       {"code",
        Json::array({{{"coding",
                       Json::array({{{"system", "https://fhir.medalliance.cn/CodeSystem/referral"},
                                     {"code", "duty-coordinator"}}})}}})}});
  Put({{"resourceType", "Patient"}, {"id", "p1"}, {"gender", "male"}});
}

api::rest::FhirResponse ReferralTest::Send(std::string method, std::string url, std::string body,
                                           std::string content_type, const store::Caller& caller,
                                           bool want_outcome) {
  api::rest::FhirRequest request;
  if (want_outcome)
    request.headers.Set("Prefer", "return=OperationOutcome");
  request.method = std::move(method);
  size_t question = url.find('?');
  api::rest::SplitPath(url.substr(0, question), request.segments);
  if (question != std::string::npos)
    request.params = api::rest::ParseQueryString(url.substr(question + 1));
  request.body = std::move(body);
  request.content_type = std::move(content_type);
  request.base_url = "http://test";
  request.SetCaller(caller);
  return service_->Handle(request);
}

void ReferralTest::Put(const Json& resource) {
  std::string url =
      resource["resourceType"].get<std::string>() + "/" + resource["id"].get<std::string>();
  api::rest::FhirResponse response = Send("PUT", url, resource.dump());
  ASSERT_TRUE(response.status == 200 || response.status == 201) << url << " " << response.body;
}

std::string ReferralTest::Create(const Json& resource) {
  api::rest::FhirResponse response = Send("POST", resource["resourceType"], resource.dump());
  EXPECT_EQ(response.status, 201) << response.body;
  return Json::parse(response.body).value("id", "");
}

Json ReferralTest::Read(const std::string& reference) {
  api::rest::FhirResponse response = Send("GET", reference);
  EXPECT_EQ(response.status, 200) << reference << " " << response.body;
  return Json::parse(response.body);
}

std::vector<Json> ReferralTest::Search(const std::string& url) {
  api::rest::FhirResponse response = Send("GET", url);
  EXPECT_EQ(response.status, 200) << response.body;
  std::vector<Json> out;
  Json bundle = Json::parse(response.body);
  for (const Json& entry : bundle.value("entry", Json::array())) {
    if (entry["search"].value("mode", "") == "match")
      out.push_back(entry["resource"]);
  }
  return out;
}

std::vector<Json> ReferralTest::AuditsOf(const std::string& reference) {
  std::vector<Json> out;
  for (const Json& event : Search("AuditEvent?_count=1000")) {
    for (const Json& entity : event.value("entity", Json::array())) {
      std::string what = entity.value("what", Json::object()).value("reference", "");
      if (what.rfind(reference, 0) == 0) {
        out.push_back(event);
        break;
      }
    }
  }
  return out;
}

Json ReferralTest::MakeReferral(const std::string& requester, const std::string& performer) {
  return Json{
      {"resourceType", "ServiceRequest"},
      {"status", "active"},
      {"intent", "order"},
      {"priority", "routine"},
      {"category", Json::array({{{"coding", Json::array({{{"system", "http://snomed.info/sct"},
                                                          {"code", "3457005"},
                                                          {"display", "Patient referral"}}})}}})},
      {"authoredOn", "2026-11-26T16:00:00+08:00"},
      {"reasonCode", Json::array({{{"text", "冠心病 coronary heart disease"}}})},
      {"subject", {{"reference", "Patient/p1"}}},
      {"requester", {{"reference", requester}}},
      {"performer", Json::array({{{"reference", performer}}})}};
}

Json ReferralTest::MakeGreenReferral(const std::string& requester, const std::string& performer,
                                     const std::string& condition) {
  Json request = MakeReferral(requester, performer);
  request["priority"] = "stat";
  request["category"].push_back(
      {{"coding", Json::array({{{"system", kGreenSystem}, {"code", "green-channel"}},
                               {{"system", kGreenSystem}, {"code", condition}}})}});
  return request;
}

std::string ReferralTest::StartReferral(const Json& service_request) {
  std::string request_id = Create(service_request);
  Json task = {{"resourceType", "Task"},
               {"status", "requested"},
               {"intent", "order"},
               {"basedOn", Json::array({{{"reference", "ServiceRequest/" + request_id}}})}};
  return Create(task);
}

api::rest::FhirResponse ReferralTest::Move(const std::string& task_id, const std::string& status,
                                           const store::Caller& caller, bool want_outcome) {
  Json patch = Json::array({{{"op", "replace"}, {"path", "/status"}, {"value", status}}});
  if (status == "rejected") {
    patch.push_back({{"op", "add"},
                     {"path", "/statusReason"},
                     {"value", {{"text", "床位已满 no bed available"}}}});
  }
  if (status == "completed") {
    patch.push_back(
        {{"op", "add"},
         {"path", "/output"},
         {"value",
          Json::array({{{"type", {{"text", "discharge summary"}}},
                        {"valueReference", {{"reference", "Composition/discharge-1"}}}}})}});
  }
  return Send("PATCH", "Task/" + task_id, patch.dump(), "application/json-patch+json", caller,
              want_outcome);
}

store::Caller ReferralTest::As(const std::string& organization_id) {
  store::Caller caller;
  caller.authenticated = true;
  caller.organization_id = organization_id;
  caller.roles = {"referral-coordinator"};
  return caller;
}

}  // namespace medalliance::referral
