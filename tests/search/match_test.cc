// search::MatchCriteria: in-memory matching over a resource's index rows, for Subscription
// criteria; every supported parameter type, modifiers and prefixes, and refusals.

#include "search/match.h"

#include <gtest/gtest.h>

#include "fhir/json/json.h"

namespace medalliance::search {
namespace {

class MatchTest : public ::testing::Test {
 protected:
  bool Matches(std::string_view criteria, std::string_view resource_json,
               std::string_view id = "x") {
    auto parsed = MatchCriteria::Parse(criteria);
    EXPECT_TRUE(parsed.has_value()) << criteria << ": " << parsed.error().GetMessage();
    if (!parsed)
      return false;
    auto resource = fhir::ParseJson(resource_json);
    EXPECT_TRUE(resource.has_value());
    return parsed->Matches(id, IndexForMatch(*resource));
  }
  static std::string Refusal(std::string_view criteria) {
    auto parsed = MatchCriteria::Parse(criteria);
    return parsed ? std::string() : parsed.error().GetMessage();
  }

  static constexpr std::string_view kTask = R"({"resourceType":"Task","status":"requested",
    "intent":"order","owner":{"reference":"Organization/sz-heart"},
    "requester":{"reference":"Organization/gz-central"},
    "focus":{"reference":"ServiceRequest/sr1"},
    "code":{"coding":[{"system":"https://fhir.medalliance.cn/CodeSystem/task-code","code":"referral"}]},
    "authoredOn":"2026-11-26T08:00:00Z"})";
  static constexpr std::string_view kObservation = R"({"resourceType":"Observation",
    "status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}],
    "text":"Glucose"},"subject":{"reference":"Patient/p1"},
    "effectiveDateTime":"2026-11-20T10:00:00Z",
    "valueQuantity":{"value":5.6,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}})";
  static constexpr std::string_view kPatient = R"({"resourceType":"Patient",
    "name":[{"family":"Zhāng","given":["Wei"]},{"text":"张伟"}],"gender":"male",
    "birthDate":"1970-05-03","telecom":[{"system":"phone","value":"+86 20 1234"}]})";
};

TEST_F(MatchTest, TypeAloneMatchesEveryResourceOfTheType) {
  EXPECT_TRUE(Matches("Task", kTask));
  EXPECT_EQ(MatchCriteria::Parse("Task").value().GetType(), "Task");
}

TEST_F(MatchTest, ReferenceMatchesTypedBareAndAbsoluteForms) {
  EXPECT_TRUE(Matches("Task?owner=Organization/sz-heart", kTask));
  EXPECT_FALSE(Matches("Task?owner=Organization/gz-central", kTask));
  EXPECT_TRUE(Matches("Task?owner=sz-heart", kTask));
  EXPECT_TRUE(Matches("Task?owner:Organization=sz-heart", kTask));
  EXPECT_TRUE(Matches("Task?owner=https://fhir.example.org/r4/Organization/sz-heart", kTask));
  EXPECT_TRUE(Matches("Task?owner=Organization/x,Organization/sz-heart", kTask));
  EXPECT_TRUE(Matches("Observation?patient=Patient/p1", kObservation));  // derived parameter
  EXPECT_FALSE(Matches("Observation?patient=Patient/p2", kObservation));
}

TEST_F(MatchTest, TokenMatchesCodeSystemAndNot) {
  EXPECT_TRUE(Matches("Task?status=requested", kTask));
  EXPECT_FALSE(Matches("Task?status=accepted", kTask));
  EXPECT_TRUE(Matches("Task?status=accepted,requested", kTask));
  EXPECT_TRUE(
      Matches("Task?code=https://fhir.medalliance.cn/CodeSystem/task-code|referral", kTask));
  EXPECT_FALSE(Matches("Task?code=http://other|referral", kTask));
  EXPECT_TRUE(Matches("Task?code=https://fhir.medalliance.cn/CodeSystem/task-code|", kTask));
  EXPECT_TRUE(Matches("Task?status:not=completed", kTask));
  EXPECT_FALSE(Matches("Task?status:not=requested", kTask));
  EXPECT_TRUE(Matches("Patient?telecom=phone|%2B86%2020%201234", kPatient));
}

TEST_F(MatchTest, RepeatedParametersAreAllRequired) {
  EXPECT_TRUE(Matches("Task?status=requested&owner=Organization/sz-heart", kTask));
  EXPECT_FALSE(Matches("Task?status=requested&owner=Organization/other", kTask));
}

TEST_F(MatchTest, StringMatchesFoldedPrefixExactAndContains) {
  EXPECT_TRUE(Matches("Patient?family=zhang", kPatient));
  EXPECT_TRUE(Matches("Patient?family=ZH", kPatient));
  EXPECT_FALSE(Matches("Patient?family=hang", kPatient));
  EXPECT_TRUE(Matches("Patient?family:contains=hang", kPatient));
  EXPECT_TRUE(Matches("Patient?family:exact=Zh%C4%81ng", kPatient));
  EXPECT_FALSE(Matches("Patient?family:exact=zhang", kPatient));
  EXPECT_TRUE(Matches("Patient?name=%E4%BC%9F", kPatient));  // 伟: CJK by substring
}

TEST_F(MatchTest, DatePrefixesCompareRanges) {
  EXPECT_TRUE(Matches("Patient?birthdate=1970", kPatient));
  EXPECT_TRUE(Matches("Patient?birthdate=1970-05-03", kPatient));
  EXPECT_FALSE(Matches("Patient?birthdate=1971", kPatient));
  EXPECT_TRUE(Matches("Patient?birthdate=gt1969-12-31", kPatient));
  EXPECT_FALSE(Matches("Patient?birthdate=lt1970-01-01", kPatient));
  EXPECT_TRUE(Matches("Patient?birthdate=ge1970-05-03", kPatient));
  EXPECT_TRUE(Matches("Patient?birthdate=le1970-05-03", kPatient));
  EXPECT_TRUE(Matches("Patient?birthdate=ne1971", kPatient));
  EXPECT_TRUE(Matches("Observation?date=sa2026-11-19", kObservation));
  EXPECT_TRUE(Matches("Observation?date=eb2026-11-21", kObservation));
}

TEST_F(MatchTest, QuantityComparesNumberSystemAndUnit) {
  EXPECT_TRUE(Matches("Observation?value-quantity=5.6", kObservation));
  EXPECT_TRUE(Matches("Observation?value-quantity=gt5", kObservation));
  EXPECT_FALSE(Matches("Observation?value-quantity=lt5", kObservation));
  EXPECT_TRUE(
      Matches("Observation?value-quantity=5.6|http://unitsofmeasure.org|mmol/L", kObservation));
  EXPECT_FALSE(
      Matches("Observation?value-quantity=5.6|http://unitsofmeasure.org|mg/dL", kObservation));
  EXPECT_TRUE(Matches("Observation?value-quantity=ge5.6||mmol/L", kObservation));
}

TEST_F(MatchTest, NumberAndUriParameters) {
  std::string_view risk = R"({"resourceType":"RiskAssessment","status":"final",
    "subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.25}]})";
  EXPECT_TRUE(Matches("RiskAssessment?probability=0.25", risk));
  EXPECT_TRUE(Matches("RiskAssessment?probability=gt0.2", risk));
  EXPECT_FALSE(Matches("RiskAssessment?probability=gt0.3", risk));
  std::string_view valueset =
      R"({"resourceType":"ValueSet","status":"active","url":"http://example.org/vs/a"})";
  EXPECT_TRUE(Matches("ValueSet?url=http://example.org/vs/a", valueset));
  EXPECT_FALSE(Matches("ValueSet?url=http://example.org/vs", valueset));
}

TEST_F(MatchTest, MissingAndId) {
  EXPECT_TRUE(Matches("Task?owner:missing=false", kTask));
  EXPECT_FALSE(Matches("Task?owner:missing=true", kTask));
  EXPECT_TRUE(Matches("Task?business-status:missing=true", kTask));
  EXPECT_TRUE(Matches("Task?_id=t1,t2", kTask, "t2"));
  EXPECT_FALSE(Matches("Task?_id=t1", kTask, "t2"));
}

TEST_F(MatchTest, UnsupportedCriteriaAreRefusedNamingTheParameter) {
  EXPECT_NE(Refusal("Task?owner.name=x").find("owner.name"), std::string::npos);
  EXPECT_NE(Refusal("Patient?_has:Observation:patient:code=1").find("_has"), std::string::npos);
  EXPECT_NE(Refusal("Task?nonsense=1").find("nonsense"), std::string::npos);
  EXPECT_NE(Refusal("Task?_sort=status").find("_sort"), std::string::npos);
  EXPECT_NE(Refusal("Task?_lastUpdated=gt2020").find("_lastUpdated"), std::string::npos);
  EXPECT_NE(Refusal("Observation?code-value-quantity=x$1").find("code-value-quantity"),
            std::string::npos);
  EXPECT_NE(Refusal("Task?status:text=x").find("status:text"), std::string::npos);
  EXPECT_NE(Refusal("Patient?birthdate=ap1970").find("birthdate"), std::string::npos);
  EXPECT_NE(Refusal("Patient?birthdate=notadate").find("birthdate"), std::string::npos);
  EXPECT_FALSE(Refusal("Nothing?x=1").empty());
  EXPECT_FALSE(Refusal("Task?status").empty());
}

}  // namespace
}  // namespace medalliance::search
