#include "mpi/identifiers.h"

#include <gtest/gtest.h>

#include "fhir/json/json.h"

namespace medalliance::mpi {
namespace {

constexpr IdentityOptions kToday{20260101};

// A resident ID with a correct check character.
std::string MakeId(std::string_view first17) {
  return std::string(first17) + ResidentIdCheckCharacter(first17);
}

fhir::Json Parse(std::string_view text) {
  core::Result<fhir::Json> json = fhir::ParseJson(text);
  EXPECT_TRUE(json.has_value()) << text;
  return json.has_value() ? std::move(json).value() : fhir::Json();
}

fhir::Json PatientWithIdentifier(std::string_view system, std::string_view value,
                                 std::string_view birth_date = "1949-12-31",
                                 std::string_view gender = "female") {
  fhir::Json patient = fhir::Json::MakeObject();
  patient.Set("resourceType", fhir::Json::MakeString("Patient"));
  fhir::Json identifiers = fhir::Json::MakeArray();
  fhir::Json mrn = fhir::Json::MakeObject();
  mrn.Set("system", fhir::Json::MakeString("https://fhir.medalliance.cn/sid/mrn/gz-central"));
  mrn.Set("value", fhir::Json::MakeString("GZ-0001"));
  identifiers.PushBack(std::move(mrn));
  fhir::Json identifier = fhir::Json::MakeObject();
  identifier.Set("system", fhir::Json::MakeString(std::string(system)));
  identifier.Set("value", fhir::Json::MakeString(std::string(value)));
  identifiers.PushBack(std::move(identifier));
  patient.Set("identifier", std::move(identifiers));
  if (!birth_date.empty())
    patient.Set("birthDate", fhir::Json::MakeString(std::string(birth_date)));
  if (!gender.empty())
    patient.Set("gender", fhir::Json::MakeString(std::string(gender)));
  return patient;
}

std::vector<core::Issue> IssuesOf(const fhir::Json& patient) {
  core::Status status = ValidatePatientIdentity(patient, kToday);
  if (status.has_value())
    return {};
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
  return status.error().GetIssues();
}

std::vector<core::Issue> ResidentIdIssues(std::string_view value,
                                          std::string_view birth_date = "1949-12-31",
                                          std::string_view gender = "female") {
  return IssuesOf(PatientWithIdentifier(kResidentIdSystem, value, birth_date, gender));
}

bool Contains(const std::vector<core::Issue>& issues, std::string_view text) {
  for (const core::Issue& issue : issues) {
    if (issue.diagnostics.find(text) != std::string::npos)
      return true;
  }
  return false;
}

// ---- resident identity card ----------------------------------------------------------------

TEST(ResidentIdTest, StandardExampleIsValid) {
  EXPECT_EQ(ResidentIdCheckCharacter("11010519491231002"), 'X');
  EXPECT_TRUE(ResidentIdIssues("11010519491231002X").empty());
}

TEST(ResidentIdTest, LowerCaseXIsAccepted) {
  EXPECT_TRUE(ResidentIdIssues("11010519491231002x").empty());
  EXPECT_TRUE(HasValidResidentIdChecksum("11010519491231002x"));
}

TEST(ResidentIdTest, WrongCheckDigitIsReportedInBothLanguages) {
  std::vector<core::Issue> issues = ResidentIdIssues("110105194912310021");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].diagnostics.find("居民身份证校验位错误"), std::string::npos);
  EXPECT_NE(issues[0].diagnostics.find("resident ID check digit is wrong"), std::string::npos);
  EXPECT_EQ(issues[0].expression, "Patient.identifier[1].value");
  EXPECT_EQ(issues[0].code, "value");
}

TEST(ResidentIdTest, EverySingleDigitTypoFailsTheCheck) {
  const std::string id = MakeId("44030619850612345");
  for (size_t pos = 0; pos < 17; ++pos) {
    for (char digit = '0'; digit <= '9'; ++digit) {
      if (digit == id[pos])
        continue;
      std::string typo = id;
      typo[pos] = digit;
      EXPECT_FALSE(HasValidResidentIdChecksum(typo)) << typo;
    }
  }
}

TEST(ResidentIdTest, WrongLengthOrCharactersIsAFormatError) {
  for (std::string_view bad : {"11010519491231002", "11010519491231002XX", "1101051949123100AX",
                               "11010519491231002Y", ""}) {
    std::vector<core::Issue> issues = ResidentIdIssues(bad);
    ASSERT_EQ(issues.size(), 1u) << bad;
    if (bad.empty()) {
      EXPECT_TRUE(Contains(issues, "identifier value is missing"));
    } else {
      EXPECT_TRUE(Contains(issues, "居民身份证号码格式错误")) << bad;
      EXPECT_TRUE(Contains(issues, "resident ID must be 17 digits")) << bad;
    }
  }
}

TEST(ResidentIdTest, FifteenDigitFirstGenerationNumberIsRejected) {
  std::vector<core::Issue> issues = ResidentIdIssues("110105491231002");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "15位一代居民身份证号码已停用"));
  EXPECT_TRUE(Contains(issues, "first-generation"));
}

TEST(ResidentIdTest, UnknownRegionCodeIsRejected) {
  std::vector<core::Issue> issues = ResidentIdIssues(MakeId("99999919491231002"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "地区码 999999"));
  EXPECT_TRUE(Contains(issues, "region code 999999 is not a GB/T 2260"));
}

TEST(ResidentIdTest, HistoricalRegionCodeIsAccepted) {
  // 440524 潮阳县 existed 1983-1992 (now 440582); numbers issued then stay valid.
  EXPECT_TRUE(IsKnownRegionCode("440524"));
  EXPECT_TRUE(ResidentIdIssues(MakeId("44052418800101001"), "1880-01-01", "male").empty());
}

TEST(ResidentIdTest, ResidencePermitRegionsForHongKongMacauTaiwanAreAccepted) {
  EXPECT_TRUE(IsKnownRegionCode("810000"));
  EXPECT_TRUE(IsKnownRegionCode("820000"));
  EXPECT_TRUE(IsKnownRegionCode("830000"));
}

TEST(ResidentIdTest, ImpossibleBirthDateIsRejected) {
  std::vector<core::Issue> issues = ResidentIdIssues(MakeId("11010519490230002"), "");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "居民身份证出生日期 19490230 无效"));
  EXPECT_TRUE(Contains(issues, "is not a valid past date"));
}

TEST(ResidentIdTest, FutureBirthDateIsRejected) {
  EXPECT_TRUE(Contains(ResidentIdIssues(MakeId("11010520300101002"), ""), "not a valid past date"));
}

TEST(ResidentIdTest, BirthDateMustAgreeWithPatientBirthDate) {
  std::vector<core::Issue> issues = ResidentIdIssues("11010519491231002X", "1949-12-13");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "与出生日期 1949-12-13 不符"));
  EXPECT_TRUE(Contains(issues, "does not match Patient.birthDate 1949-12-13"));
  EXPECT_EQ(issues[0].code, "business-rule");
}

TEST(ResidentIdTest, PartialBirthDateIsComparedAsFarAsGiven) {
  EXPECT_TRUE(ResidentIdIssues("11010519491231002X", "1949").empty());
  EXPECT_TRUE(ResidentIdIssues("11010519491231002X", "1949-12").empty());
  EXPECT_FALSE(ResidentIdIssues("11010519491231002X", "1950").empty());
}

TEST(ResidentIdTest, SexDigitMustAgreeWithGender) {
  std::vector<core::Issue> issues = ResidentIdIssues("11010519491231002X", "1949-12-31", "male");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "居民身份证第17位表示女性"));
  EXPECT_TRUE(Contains(issues, "17th digit says female but Patient.gender is male"));
  // Odd 17th digit: male.
  EXPECT_TRUE(ResidentIdIssues(MakeId("11010519491231001"), "1949-12-31", "male").empty());
  EXPECT_FALSE(ResidentIdIssues(MakeId("11010519491231001"), "1949-12-31", "female").empty());
  // Unknown or other gender is not compared.
  EXPECT_TRUE(ResidentIdIssues("11010519491231002X", "1949-12-31", "unknown").empty());
}

TEST(ResidentIdTest, SeveralProblemsGiveSeveralIssues) {
  std::vector<core::Issue> issues = ResidentIdIssues("110105194912310021", "1950-01-01", "male");
  EXPECT_EQ(issues.size(), 3u);  // birth date, sex, check digit
}

TEST(ResidentIdTest, TwoDifferentResidentIdsAreRejected) {
  fhir::Json patient = PatientWithIdentifier(kResidentIdSystem, "11010519491231002X");
  fhir::Json second = fhir::Json::MakeObject();
  second.Set("system", fhir::Json::MakeString(std::string(kResidentIdSystem)));
  second.Set("value", fhir::Json::MakeString(MakeId("11010519491231004")));
  patient.Find("identifier")->PushBack(std::move(second));
  std::vector<core::Issue> issues = IssuesOf(patient);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].expression, "Patient.identifier[2].value");
  EXPECT_TRUE(Contains(issues, "two different resident ID numbers"));
}

// ---- Hong Kong / Macau permit -------------------------------------------------------------

TEST(HkmoPermitTest, ValidForms) {
  for (std::string_view value : {"H12345678", "M87654321", "H1234567801"}) {
    EXPECT_TRUE(IssuesOf(PatientWithIdentifier(kHkmoPermitSystem, value)).empty()) << value;
  }
}

TEST(HkmoPermitTest, InvalidForms) {
  for (std::string_view value :
       {"h12345678", "H1234567", "X12345678", "H123456789", "H12345678A", "12345678"}) {
    std::vector<core::Issue> issues = IssuesOf(PatientWithIdentifier(kHkmoPermitSystem, value));
    ASSERT_EQ(issues.size(), 1u) << value;
    EXPECT_TRUE(Contains(issues, "港澳居民来往内地通行证号码格式错误"));
    EXPECT_TRUE(Contains(issues, "H or M followed by 8 or 10 digits"));
    EXPECT_EQ(issues[0].expression, "Patient.identifier[1].value");
  }
}

// ---- passports ----------------------------------------------------------------------------

fhir::Json PassportPatient(std::string_view value, std::string_view country) {
  fhir::Json patient = PatientWithIdentifier(kPassportSystem, value);
  fhir::Json& identifier = patient.Find("identifier")->Items()[1];
  fhir::Json extensions = fhir::Json::MakeArray();
  fhir::Json extension = fhir::Json::MakeObject();
  extension.Set("url", fhir::Json::MakeString(std::string(kIssuingCountryExtension)));
  extension.Set("valueCode", fhir::Json::MakeString(std::string(country)));
  extensions.PushBack(std::move(extension));
  identifier.Set("extension", std::move(extensions));
  return patient;
}

TEST(PassportTest, ChinesePassportForms) {
  for (std::string_view value : {"E12345678", "G12345678", "EA1234567", "D1234567", "P12345678"}) {
    EXPECT_TRUE(IssuesOf(PassportPatient(value, "CHN")).empty()) << value;
  }
  for (std::string_view value : {"E1234567", "A12345678", "EI1234567", "E123456789", "e12345678"}) {
    std::vector<core::Issue> issues = IssuesOf(PassportPatient(value, "CN"));
    ASSERT_EQ(issues.size(), 1u) << value;
    EXPECT_TRUE(Contains(issues, "中国护照号码格式错误"));
    EXPECT_TRUE(Contains(issues, "Chinese passport number must be"));
  }
}

TEST(PassportTest, CountryFromAssigner) {
  fhir::Json patient = Parse(R"({"resourceType":"Patient","identifier":[{
      "system":"https://fhir.medalliance.cn/sid/passport","value":"X1234",
      "assigner":{"display":"中国"}}]})");
  EXPECT_TRUE(Contains(IssuesOf(patient), "中国护照号码格式错误"));
}

TEST(PassportTest, OtherCountriesUseTheGenericRule) {
  EXPECT_TRUE(IssuesOf(PassportPatient("K0123456", "GBR")).empty());
  EXPECT_TRUE(IssuesOf(PassportPatient("123456789", "US")).empty());
  std::vector<core::Issue> issues = IssuesOf(PassportPatient("AB1", "GBR"));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(Contains(issues, "护照号码格式错误"));
  EXPECT_TRUE(Contains(issues, "5-20 upper-case letters or digits"));
  EXPECT_FALSE(IssuesOf(PassportPatient("AB 12345", "GBR")).empty());
}

// ---- member record numbers ----------------------------------------------------------------

TEST(MrnTest, ValidRecordNumber) {
  EXPECT_TRUE(
      IssuesOf(PatientWithIdentifier("https://fhir.medalliance.cn/sid/mrn/sz-heart", "MRN-000123"))
          .empty());
}

TEST(MrnTest, WhitespaceOrEmptyValueIsRejected) {
  for (std::string_view value : {"MRN 000123", "", "\t"}) {
    std::vector<core::Issue> issues =
        IssuesOf(PatientWithIdentifier("https://fhir.medalliance.cn/sid/mrn/sz-heart", value));
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_TRUE(Contains(issues, "病历号不能为空且不能包含空白字符"));
    EXPECT_TRUE(Contains(issues, "record number must be non-empty"));
    EXPECT_EQ(issues[0].expression, "Patient.identifier[1].value");
  }
}

TEST(MrnTest, SystemWithoutOrganizationIdIsRejected) {
  for (std::string_view system :
       {"https://fhir.medalliance.cn/sid/mrn/", "https://fhir.medalliance.cn/sid/mrn/bad id"}) {
    std::vector<core::Issue> issues = IssuesOf(PatientWithIdentifier(system, "123"));
    ASSERT_EQ(issues.size(), 1u) << system;
    EXPECT_EQ(issues[0].expression, "Patient.identifier[1].system");
    EXPECT_TRUE(Contains(issues, "<member Organization id>"));
  }
}

// ---- phones -------------------------------------------------------------------------------

TEST(PhoneTest, NormalisesMainlandNumbers) {
  EXPECT_EQ(NormalizePhone("138 0013 8000"), "13800138000");
  EXPECT_EQ(NormalizePhone("+86 138-0013-8000"), "13800138000");
  EXPECT_EQ(NormalizePhone("0086 13800138000"), "13800138000");
  EXPECT_EQ(NormalizePhone("020-87654321"), "02087654321");
  EXPECT_EQ(NormalizePhone("(0755) 2345 6789"), "075523456789");
  EXPECT_EQ(NormalizePhone("0763-2345678"), "07632345678");
  EXPECT_EQ(NormalizePhone("010 6512 3456"), "01065123456");
  EXPECT_EQ(NormalizePhone("400-123-4567"), "4001234567");
  EXPECT_EQ(NormalizePhone("+852 9123 4567"), "+85291234567");
}

TEST(PhoneTest, RejectsMalformedNumbers) {
  for (std::string_view bad :
       {"12800138000", "1380013800", "138001380001", "87654321", "020-1234567", "020-0234567",
        "011-12345678", "phone", "", "+0 123", "13800138000 ext 5"}) {
    EXPECT_EQ(NormalizePhone(bad), "") << bad;
  }
}

TEST(PhoneTest, TelecomIssuesHaveLocationsAndBothLanguages) {
  fhir::Json patient = Parse(R"({"resourceType":"Patient",
      "telecom":[{"system":"email","value":"a@b.cn"},{"system":"phone","value":"13800138000"},
                 {"system":"phone","value":"8765-4321"}],
      "contact":[{"telecom":[{"system":"phone","value":"123"}]}]})");
  std::vector<core::Issue> issues = IssuesOf(patient);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].expression, "Patient.telecom[2].value");
  EXPECT_EQ(issues[1].expression, "Patient.contact[0].telecom[0].value");
  EXPECT_TRUE(Contains(issues, "电话号码格式错误"));
  EXPECT_TRUE(Contains(issues, "landline with its area code"));
}

// ---- whole resource -----------------------------------------------------------------------

TEST(ValidatePatientIdentityTest, ValidPatientPasses) {
  fhir::Json patient = Parse(R"({"resourceType":"Patient","gender":"female",
      "birthDate":"1949-12-31",
      "identifier":[{"system":"https://fhir.medalliance.cn/sid/mrn/gz-central","value":"A1"},
                    {"system":"https://fhir.medalliance.cn/sid/resident-id",
                     "value":"11010519491231002X"},
                    {"system":"http://other.example/id","value":"any thing"}],
      "telecom":[{"system":"phone","value":"+86 13800138000"}]})");
  EXPECT_TRUE(ValidatePatientIdentity(patient, kToday).has_value());
}

TEST(ValidatePatientIdentityTest, NotAPatientIsUnprocessable) {
  core::Status status = ValidatePatientIdentity(Parse(R"({"resourceType":"Observation"})"));
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnprocessable);
}

TEST(ValidatePatientIdentityTest, IssuesFromSeveralIdentifiersAreAllReported) {
  fhir::Json patient = Parse(R"({"resourceType":"Patient",
      "identifier":[{"system":"https://fhir.medalliance.cn/sid/resident-id",
                     "value":"110105194912310021"},
                    {"system":"https://fhir.medalliance.cn/sid/hkmo-permit","value":"H1"}]})");
  std::vector<core::Issue> issues = IssuesOf(patient);
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].expression, "Patient.identifier[0].value");
  EXPECT_EQ(issues[1].expression, "Patient.identifier[1].value");
}

}  // namespace
}  // namespace medalliance::mpi
