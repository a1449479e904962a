#include "fhir/validation/validator.h"

#include <string>

#include <gtest/gtest.h>

#include "fhir/json/json.h"

namespace medalliance::fhir::validation {
namespace {

class ValidatorTest : public ::testing::Test {
 protected:
  // Issues of `text` as "code@expression" lines.
  static std::string Issues(const std::string& text) {
    core::Result<Json> json = ParseJson(text);
    EXPECT_TRUE(json.has_value()) << text;
    if (!json.has_value())
      return "parse error";
    std::string out;
    for (const core::Issue& issue : CollectIssues(json.value())) {
      EXPECT_EQ(issue.severity, core::Severity::kError);
      if (!out.empty())
        out += "\n";
      out += issue.code + "@" + issue.expression;
    }
    return out;
  }
};

TEST_F(ValidatorTest, MinimalPatientIsValid) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","id":"p1","gender":"female",
    "name":[{"family":"Chan","given":["Tai","Man"]}],"birthDate":"1970-02-28",
    "active":true})"),
            "");
}

TEST_F(ValidatorTest, ValidateResourceReturnsUnprocessableWithAllIssues) {
  core::Result<Json> json = ParseJson(R"({"resourceType":"Patient","foo":1,"gender":"x"})");
  ASSERT_TRUE(json.has_value());
  core::Status status = ValidateResource(json.value());
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  ASSERT_EQ(status.error().GetIssues().size(), 2u);
  EXPECT_TRUE(ValidateResource(ParseJson(R"({"resourceType":"Patient"})").value()).has_value());
}

TEST_F(ValidatorTest, ResourceTypeMustBePresentAndKnown) {
  EXPECT_EQ(Issues(R"({"id":"x"})"), "required@");
  EXPECT_EQ(Issues(R"({"resourceType":"Patientx"})"), "invalid@");
  EXPECT_EQ(Issues(R"({"resourceType":"DomainResource"})"), "invalid@");
  EXPECT_EQ(Issues(R"({"resourceType":7})"), "structure@");
  EXPECT_EQ(Issues(R"([1])"), "structure@");
}

TEST_F(ValidatorTest, UnknownElementsAreReported) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","nam":[{"family":"x"}]})"),
            "structure@Patient.nam");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"family":"x","fam":"y"}]})"),
            "structure@Patient.name[0].fam");
}

TEST_F(ValidatorTest, ChoiceTypesResolveByTypeName) {
  const std::string base = R"({"resourceType":"Observation","status":"final","code":{"text":"t"},)";
  EXPECT_EQ(Issues(base + R"("valueQuantity":{"value":1.5,"unit":"mg"}})"), "");
  EXPECT_EQ(Issues(base + R"("valueString":"high"})"), "");
  EXPECT_EQ(Issues(base + R"("valueMoney":{"value":1}})"), "structure@Observation.valueMoney");
  EXPECT_EQ(Issues(base + R"("value":"high"})"), "structure@Observation.value");
  EXPECT_EQ(Issues(base + R"("valueString":"a","valueBoolean":true})"),
            "structure@Observation.valueBoolean");
}

TEST_F(ValidatorTest, JsonKindsFollowTheType) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","active":"true"})"), "structure@Patient.active");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","multipleBirthInteger":"2"})"),
            "structure@Patient.multipleBirthInteger");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","birthDate":19700101})"),
            "structure@Patient.birthDate");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","maritalStatus":"M"})"),
            "structure@Patient.maritalStatus");
  EXPECT_EQ(Issues(R"({"resourceType":"Observation","status":"final","code":{"text":"t"},
    "valueQuantity":{"value":"1.5"}})"),
            "structure@Observation.valueQuantity.value");
}

TEST_F(ValidatorTest, ArraysOnlyForRepeatingElements) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":{"family":"x"}})"),
            "structure@Patient.name");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","gender":["male"]})"), "structure@Patient.gender");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"given":"Tai"}]})"),
            "structure@Patient.name[0].given");
}

TEST_F(ValidatorTest, RequiredElementsMustBePresent) {
  EXPECT_EQ(Issues(R"({"resourceType":"Observation","code":{"text":"t"}})"),
            "required@Observation.status");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","link":[{"type":"seealso"}]})"),
            "required@Patient.link[0].other");
  // A primitive that only carries an extension still counts as present.
  EXPECT_EQ(Issues(R"({"resourceType":"Observation","code":{"text":"t"},"_status":{
    "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason",
    "valueCode":"unknown"}]}})"),
            "");
}

TEST_F(ValidatorTest, PrimitiveFormats) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","id":"a_b"})"), "value@Patient.id");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","birthDate":"1970-02-30"})"),
            "value@Patient.birthDate");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","deceasedDateTime":"2020-01-01T10:00:00"})"),
            "value@Patient.deceasedDateTime");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","deceasedDateTime":"2020-01-01T10:00:00+08:00"})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}})"),
            "value@Patient.meta.lastUpdated");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","implicitRules":"a b"})"),
            "value@Patient.implicitRules");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","multipleBirthInteger":2147483648})"),
            "value@Patient.multipleBirthInteger");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","multipleBirthInteger":1.0})"),
            "value@Patient.multipleBirthInteger");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","photo":[{"data":"abc"}]})"),
            "value@Patient.photo[0].data");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","photo":[{"size":-1}]})"),
            "value@Patient.photo[0].size");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","communication":[{"language":{"text":"x"}}],
    "language":"en  US"})"),
            "value@Patient.language");
  EXPECT_EQ(Issues(R"({"resourceType":"Appointment","status":"booked","minutesDuration":0,
    "participant":[{"status":"accepted","actor":{"display":"x"}}]})"),
            "value@Appointment.minutesDuration");
  EXPECT_EQ(Issues(R"({"resourceType":"Observation","status":"final","code":{"text":"t"},
    "valueTime":"25:00:00"})"),
            "value@Observation.valueTime");
}

TEST_F(ValidatorTest, EmptyAndNullValuesAreInvalid) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{}]})"), "structure@Patient.name[0]");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[]})"), "structure@Patient.name");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","gender":null})"), "structure@Patient.gender");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"family":""}]})"),
            "value@Patient.name[0].family");
}

TEST_F(ValidatorTest, PrimitiveExtensionSiblings) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","birthDate":"1970","_birthDate":{
    "extension":[{"url":"http://x.org/e","valueString":"s"}]}})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"given":["A",null],
    "_given":[null,{"extension":[{"url":"http://x.org/e","valueString":"s"}]}]}]})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"given":["A",null]}]})"),
            "structure@Patient.name[0].given[1]");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","name":[{"given":["A"],
    "_given":[null,{"id":"x"}]}]})"),
            "structure@Patient.name[0]._given");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","_name":{"id":"x"}})"), "structure@Patient._name");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","_gender":{"foo":"x"}})"),
            "structure@Patient._gender.foo");
}

TEST_F(ValidatorTest, RequiredBindings) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","gender":"M"})"), "code-invalid@Patient.gender");
  EXPECT_EQ(Issues(R"({"resourceType":"Observation","status":"done","code":{"text":"t"}})"),
            "code-invalid@Observation.status");
  // Data types carry required bindings too (HumanName.use).
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","contact":[{"name":{"use":"nick"}}]})"),
            "code-invalid@Patient.contact[0].name.use");
  // AllergyIntolerance.clinicalStatus is a CodeableConcept with a required binding.
  const std::string allergy =
      R"({"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},)";
  EXPECT_EQ(Issues(allergy + R"("clinicalStatus":{"coding":[{"system":
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]}})"),
            "");
  EXPECT_EQ(Issues(allergy + R"("clinicalStatus":{"coding":[{"system":
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"gone"}]}})"),
            "code-invalid@AllergyIntolerance.clinicalStatus");
}

TEST_F(ValidatorTest, RequiredBindingOnCodeableConceptNeedsOneMatchingCoding) {
  // R4 has no Coding-typed element with a required binding; CodeableConcepts accept a local
  // coding next to one from the value set, and a text-only concept.
  const std::string base = R"({"resourceType":"Condition","subject":{"reference":"Patient/1"},
    "verificationStatus":)";
  EXPECT_EQ(Issues(base + R"({"coding":[{"system":"http://x.org/local","code":"c"},
    {"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "code":"confirmed"}]}})"),
            "");
  EXPECT_EQ(Issues(base + R"({"text":"confirmed"}})"), "");
  EXPECT_EQ(Issues(base + R"({"coding":[{"system":"http://x.org/local","code":"c"}]}})"),
            "code-invalid@Condition.verificationStatus");
}

TEST_F(ValidatorTest, ContainedResourcesAreValidatedRecursively) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization",
    "id":"o1","name":"H"}],"managingOrganization":{"reference":"#o1"}})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization",
    "id":"o1","nme":"H"}]})"),
            "structure@Patient.contained[0].nme");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization",
    "id":"o1","contained":[{"resourceType":"Organization","id":"o2"}]}]})"),
            "invariant@Patient.contained[0].contained");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","contained":[{"resourceType":"Organization",
    "id":"o1","meta":{"versionId":"1"}}]})"),
            "invariant@Patient.contained[0].meta");
}

TEST_F(ValidatorTest, NestedResourcesUseTheirOwnType) {
  EXPECT_EQ(Issues(R"({"resourceType":"Bundle","type":"collection","entry":[
    {"resource":{"resourceType":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
     "subjct":{"reference":"Patient/1"}}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
     "subject":{"reference":"Patient 1"}}}]})"),
            "structure@Bundle.entry[1].resource.subjct\n"
            "value@Bundle.entry[2].resource.subject.reference");
  EXPECT_EQ(Issues(R"({"resourceType":"Parameters","parameter":[{"name":"p",
    "resource":{"resourceType":"Patient","gender":"f"}}]})"),
            "code-invalid@Parameters.parameter[0].resource.gender");
}

TEST_F(ValidatorTest, ReferenceForms) {
  for (const char* good :
       {"Patient/1", "Patient/1/_history/2", "#p1", "http://example.org/fhir/Patient/1",
        "urn:uuid:0f6c8b3e-9d0a-4c1e-8a8b-1234567890ab", "urn:oid:1.2.3",
        "Patient?identifier=x|1"}) {
    EXPECT_EQ(Issues(std::string(R"({"resourceType":"Observation","status":"final",
      "code":{"text":"t"},"subject":{"reference":")") +
                     good + "\"}}"),
              "")
        << good;
  }
  for (const char* bad :
       {"Patientx/1", "Patient/1/2", "Patient/a b", "http:", "Patient/", "patient"}) {
    EXPECT_EQ(Issues(std::string(R"({"resourceType":"Observation","status":"final",
      "code":{"text":"t"},"subject":{"reference":")") +
                     bad + "\"}}"),
              "value@Observation.subject.reference")
        << bad;
  }
}

TEST_F(ValidatorTest, ExtensionsNeedValueOrExtensionsNotBoth) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e",
    "valueString":"a"}]})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e",
    "extension":[{"url":"a","valueInteger":1}]}]})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e",
    "valueString":"a","extension":[{"url":"a","valueInteger":1}]}]})"),
            "invariant@Patient.extension[0]");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","extension":[{"url":"http://x.org/e",
    "id":"e1"}]})"),
            "invariant@Patient.extension[0]");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","extension":[{"valueString":"a"}]})"),
            "required@Patient.extension[0].url");
}

TEST_F(ValidatorTest, NarrativeDivMustBeXhtmlDiv) {
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","text":{"status":"generated",
    "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","text":{"status":"generated",
    "div":"<p>x</p>"}})"),
            "value@Patient.text.div");
  EXPECT_EQ(Issues(R"({"resourceType":"Patient","text":{"status":"generated"}})"),
            "required@Patient.text.div");
}

TEST_F(ValidatorTest, ContentReferencesReuseTheTargetDefinition) {
  EXPECT_EQ(Issues(R"({"resourceType":"Questionnaire","status":"active","item":[{"linkId":"1",
    "type":"group","item":[{"linkId":"1.1","type":"string"}]}]})"),
            "");
  EXPECT_EQ(Issues(R"({"resourceType":"Questionnaire","status":"active","item":[{"linkId":"1",
    "type":"group","item":[{"type":"string"}]}]})"),
            "required@Questionnaire.item[0].item[0].linkId");
}

TEST_F(ValidatorTest, IssuesAreCapped) {
  std::string text = R"({"resourceType":"Patient","name":[)";
  for (int i = 0; i < 300; ++i) text += std::string(i ? "," : "") + R"({"x":1})";
  text += "]}";
  ValidationOptions options;
  options.max_issues = 100;
  EXPECT_EQ(CollectIssues(ParseJson(text).value(), options).size(), 100u);
}

}  // namespace
}  // namespace medalliance::fhir::validation
