// Mutual recognition over HTTP (issue 6): the seeded catalogue, the HR mark searchable with
// _security, and [base]/$recognize against the real server.

#include <string>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

constexpr char kMark[] = "https://fhir.medalliance.cn/CodeSystem/recognition%7CHR";

class RecognitionHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.Path() / "recognition.db");
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
  }

  Json Send(const std::string& method, const std::string& path, const Json& body, int expected) {
    Response response = client_->Send(method, path, body.dump(), FhirJson());
    EXPECT_EQ(response.status, expected) << path << ": " << response.body;
    return ParseBody(response);
  }

  Json Recognize(const std::string& patient, const std::string& at) {
    Json parameters = {
        {"resourceType", "Parameters"},
        {"parameter",
         Json::array({{{"name", "patient"}, {"valueReference", {{"reference", patient}}}},
                      {{"name", "orderer"}, {"valueReference", {{"reference", "Organization/sz"}}}},
                      {{"name", "item"},
                       {"valueCoding", {{"system", "http://loinc.org"}, {"code", "2823-3"}}}},
                      {{"name", "at"}, {"valueDateTime", at}}})}};
    return Send("POST", "/$recognize", parameters, 200);
  }

  // The reason codes of the result part about `reference` ("" when reusable); "absent".
  static std::string Verdict(const Json& answer, const std::string& reference) {
    for (const Json& parameter : answer["parameter"]) {
      if (parameter["name"] != "result")
        continue;
      for (const Json& part : parameter["part"]) {
        if (part["name"] != "reusable" && part["name"] != "not-reusable")
          continue;
        if (part["part"][0]["valueReference"]["reference"] != reference)
          continue;
        std::string reasons;
        for (const Json& sub : part["part"]) {
          if (sub["name"] == "reason")
            reasons += sub["valueCoding"]["code"].get<std::string>();
        }
        return reasons;
      }
    }
    return "absent";
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(RecognitionHttpTest, RecognizeAndTheSearchableMark) {
  Response metadata = client_->Get("/metadata");
  EXPECT_NE(metadata.body.find("https://fhir.medalliance.cn/OperationDefinition/recognize"),
            std::string::npos);
  EXPECT_EQ(client_->Get("/CodeSystem/recognition-item").status, 200);
  EXPECT_EQ(client_->Get("/OperationDefinition/recognize").status, 200);

  Send("PUT", "/Organization/gz", {{"resourceType", "Organization"}, {"id", "gz"}, {"name", "GZ"}},
       201);
  Send("PUT", "/Organization/chc", {{"resourceType", "Organization"}, {"id", "chc"}, {"name", "C"}},
       201);
  Json qualification = {
      {"resourceType", "Basic"},
      {"code",
       {{"coding", Json::array({{{"system", "https://fhir.medalliance.cn/CodeSystem/recognition"},
                                 {"code", "qualification"}}})}}},
      {"subject", {{"reference", "Organization/gz"}}},
      {"extension",
       Json::array(
           {{{"url", "https://fhir.medalliance.cn/StructureDefinition/recognition-qualification"},
             {"extension",
              Json::array({{{"url", "scope"}, {"valueCode", "chemistry"}},
                           {{"url", "period"}, {"valuePeriod", {{"start", "2026-01-01"}}}}})}}})}};
  Send("POST", "/Basic", qualification, 201);
  Json patient = Send(
      "POST", "/Patient",
      {{"resourceType", "Patient"},
       {"identifier",
        Json::array({{{"system", "https://fhir.medalliance.cn/sid/mrn/gz"}, {"value", "MRN-1"}}})},
       {"name", Json::array({{{"family", "李"}, {"given", {"娜"}}}})},
       {"gender", "female"},
       {"birthDate", "1975-05-05"}},
      201);
  std::string patient_ref = "Patient/" + patient["id"].get<std::string>();
  auto observation = [&](const std::string& performer) {
    Json created =
        Send("POST", "/Observation",
             {{"resourceType", "Observation"},
              {"status", "final"},
              {"code",
               {{"coding", Json::array({{{"system", "http://loinc.org"}, {"code", "2823-3"}}})}}},
              {"subject", {{"reference", patient_ref}}},
              {"issued", "2026-06-08T09:00:00+08:00"},
              {"performer", Json::array({{{"reference", "Organization/" + performer}}})},
              {"valueQuantity", {{"value", 4.2}, {"unit", "mmol/L"}}}},
             201);
    return "Observation/" + created["id"].get<std::string>();
  };
  std::string qualified = observation("gz");
  std::string unqualified = observation("chc");

  Response marked =
      client_->Get(std::string("/Observation?_security=") + kMark + "&subject=" + patient_ref);
  ASSERT_EQ(marked.status, 200) << marked.body;
  Json bundle = ParseBody(marked);
  ASSERT_EQ(bundle["entry"].size(), 1u) << marked.body;
  EXPECT_EQ("Observation/" + bundle["entry"][0]["resource"]["id"].get<std::string>(), qualified);
  EXPECT_EQ(bundle["entry"][0]["resource"]["meta"]["security"][0]["display"], "粤HR");

  Json last_day = Recognize(patient_ref, "2026-06-15T23:59:59+08:00");
  EXPECT_EQ(Verdict(last_day, qualified), "");
  EXPECT_EQ(Verdict(last_day, unqualified), "issuer-not-qualified");
  Json first_expired = Recognize(patient_ref, "2026-06-16T00:00:00+08:00");
  EXPECT_EQ(Verdict(first_expired, qualified), "expired");

  // A qualification for chc recorded later (through the real server): chc's report is
  // re-marked, with a new version.
  qualification["subject"]["reference"] = "Organization/chc";
  Send("POST", "/Basic", qualification, 201);
  Response remarked = client_->Get("/" + unqualified);
  ASSERT_EQ(remarked.status, 200) << remarked.body;
  EXPECT_EQ(ParseBody(remarked)["meta"]["versionId"], "2");
  EXPECT_NE(remarked.body.find("粤HR"), std::string::npos) << remarked.body;

  // The month's metrics of gz: nothing decided yet, a well-formed MeasureReport.
  EXPECT_NE(
      metadata.body.find("https://fhir.medalliance.cn/OperationDefinition/recognition-metrics"),
      std::string::npos);
  Response metrics = client_->Get("/$recognition-metrics?member=Organization/gz&period=2026-06");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  Json report = ParseBody(metrics);
  EXPECT_EQ(report["resourceType"], "MeasureReport");
  EXPECT_EQ(report["group"][0]["code"]["coding"][0]["code"], "total");
  EXPECT_EQ(client_->Get("/$recognition-metrics?member=Organization/gz").status, 400);
}

}  // namespace
}  // namespace medalliance::integration
