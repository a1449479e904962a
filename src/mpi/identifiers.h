#pragma once
// Validation of a Patient's identity data on write: identifiers in the systems of the design
// brief's Names table, and phone numbers in telecom.
//
//   https://fhir.medalliance.cn/sid/resident-id   居民身份证, 18 characters, GB 11643-1999:
//       6-digit GB/T 2260 region (any code in use 1980-2019, plus 810000/820000/830000 of the
//       residence permits for Hong Kong, Macau and Taiwan residents), 8-digit birth date,
//       3-digit sequence whose last digit is odd for men and even for women, ISO 7064
//       MOD 11-2 check character (0-9 or X; a lower-case x is accepted). Birth date and sex
//       must agree with Patient.birthDate and Patient.gender when those are present.
//   https://fhir.medalliance.cn/sid/hkmo-permit   港澳居民来往内地通行证 (card version, 2013 on):
//       H (Hong Kong) or M (Macau) + 8 digits; the 10-digit form also carries the 2-digit
//       issue count printed on the card (H1234567801).
//   https://fhir.medalliance.cn/sid/passport      issuing country from the extension
//       https://fhir.medalliance.cn/StructureDefinition/issuing-country (valueCode), else
//       Identifier.assigner.identifier.value, else assigner.display (ISO 3166 alpha-2/alpha-3
//       or 中国/China). China: E + 8 digits, E + letter + 7 digits, G + 8 digits, or D/S/P +
//       7-8 digits (diplomatic, service, public affairs). Other countries: 5-20 letters/digits.
//   https://fhir.medalliance.cn/sid/mrn/<Organization id>  a member's record number: the id is
//       a FHIR id, the value non-empty without whitespace. (Whether the id names an active
//       member is the registry's check, not this one's.)
//   telecom system phone/sms: mainland mobile 1[3-9] + 9 digits, mainland landline 0 + 2-3
//       digit area code + 7-8 digit number (separators and a +86/0086 prefix allowed), 400/800
//       service numbers, or another country's number in international form (+852 ...).
//
// Every problem is one issue; messages are Chinese then English
// ("居民身份证校验位错误 / resident ID check digit is wrong"), with a FHIRPath location such as
// Patient.identifier[1].value. Thread-safe; tables load once on first use.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/result.h"

namespace medalliance::fhir {
class Json;
}

namespace medalliance::mpi {

inline constexpr std::string_view kResidentIdSystem = "https://fhir.medalliance.cn/sid/resident-id";
inline constexpr std::string_view kHkmoPermitSystem = "https://fhir.medalliance.cn/sid/hkmo-permit";
inline constexpr std::string_view kPassportSystem = "https://fhir.medalliance.cn/sid/passport";
inline constexpr std::string_view kMrnSystemPrefix = "https://fhir.medalliance.cn/sid/mrn/";
inline constexpr std::string_view kIssuingCountryExtension =
    "https://fhir.medalliance.cn/StructureDefinition/issuing-country";

struct IdentityOptions {
  // Today's date as YYYYMMDD for the "birth date in the future" check; 0 means the system
  // clock (tests pass a fixed date).
  int today_yyyymmdd = 0;
};

// Validates identifiers and telecom phones of a Patient resource (JSON object).
// Ok when nothing is wrong; otherwise kUnprocessable with one issue per problem.
core::Status ValidatePatientIdentity(const fhir::Json& patient,
                                     const IdentityOptions& options = {});

// The pieces, for callers (and tests) that check one value. Each appends issues to `issues`
// with `location` as their expression and returns true when the value is acceptable.
// `birth_date` is Patient.birthDate (YYYY, YYYY-MM or YYYY-MM-DD, may be empty) and `gender`
// Patient.gender (may be empty).
bool CheckResidentId(std::string_view value, std::string_view birth_date, std::string_view gender,
                     const std::string& location, std::vector<core::Issue>& issues,
                     const IdentityOptions& options = {});
bool CheckHkmoPermit(std::string_view value, const std::string& location,
                     std::vector<core::Issue>& issues);
// `country` as given (alpha-2, alpha-3, 中国, China); empty: the generic rule.
bool CheckPassport(std::string_view value, std::string_view country, const std::string& location,
                   std::vector<core::Issue>& issues);
bool CheckMrn(std::string_view system, std::string_view value, const std::string& location,
              std::vector<core::Issue>& issues);
bool CheckPhone(std::string_view value, const std::string& location,
                std::vector<core::Issue>& issues);

// ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') of the first 17 digits; 0 when they are
// not 17 digits.
char ResidentIdCheckCharacter(std::string_view first17);
// True for a syntactically valid 18-character number with a correct check character
// (no region or date checks). Accepts a lower-case x.
bool HasValidResidentIdChecksum(std::string_view value);
// True when the six-digit code is a GB/T 2260 code (1980-2019) or 810000/820000/830000.
bool IsKnownRegionCode(std::string_view code);
// Phone digits for matching: separators and a +86/0086 prefix removed ("138 0013 8000" ->
// "13800138000"); other countries keep "+" and their code. Empty when not a phone number.
std::string NormalizePhone(std::string_view value);
// Upper-cases a resident ID's x.
std::string NormalizeResidentId(std::string_view value);

}  // namespace medalliance::mpi
