#include "mpi/identifiers.h"

#include <chrono>
#include <cstdio>
#include <unordered_set>

#include "fhir/json/json.h"
#include "mpi/internal/tables.h"

namespace medalliance::mpi {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsUpper(char c) {
  return c >= 'A' && c <= 'Z';
}

bool AllDigits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!IsDigit(c)) {
      return false;
    }
  }
  return true;
}

int ParseInt(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

void AddIssue(std::vector<core::Issue>& issues, std::string code, std::string message,
              const std::string& location) {
  issues.push_back(
      core::Issue{core::Severity::kError, std::move(code), std::move(message), location});
}

int Today(const IdentityOptions& options) {
  if (options.today_yyyymmdd != 0) {
    return options.today_yyyymmdd;
  }
  const std::chrono::year_month_day today{
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  return static_cast<int>(today.year()) * 10000 +
         static_cast<int>(static_cast<unsigned>(today.month())) * 100 +
         static_cast<int>(static_cast<unsigned>(today.day()));
}

bool IsValidDate(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1 || day > 31) {
    return false;
  }
  return std::chrono::year_month_day{std::chrono::year{year},
                                     std::chrono::month{static_cast<unsigned>(month)},
                                     std::chrono::day{static_cast<unsigned>(day)}}
      .ok();
}

std::string FormatDate(std::string_view yyyymmdd) {
  return std::string(yyyymmdd.substr(0, 4)) + "-" + std::string(yyyymmdd.substr(4, 2)) + "-" +
         std::string(yyyymmdd.substr(6, 2));
}

const std::unordered_set<std::string_view>& RegionCodes() {
  static const auto* const kCodes = [] {
    auto* codes = new std::unordered_set<std::string_view>();
    std::string_view text = internal::Gb2260CodesTable();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos)
        end = text.size();
      std::string_view line = text.substr(start, end - start);
      if (line.size() == 6 && AllDigits(line)) {
        codes->insert(line);
      }
      start = end + 1;
    }
    for (std::string_view extra : {"810000", "820000", "830000"}) codes->insert(extra);
    return codes;
  }();
  return *kCodes;
}

std::string ToUpperAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool HasWhitespace(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
      return true;
  }
  // U+3000 ideographic space
  return text.find("\xE3\x80\x80") != std::string_view::npos;
}

bool IsFhirId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    if (!(IsDigit(c) || IsUpper(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// "CN" for China, else the upper-cased code as given.
std::string CanonicalCountry(std::string_view country) {
  std::string upper = ToUpperAscii(country);
  if (upper == "CN" || upper == "CHN" || upper == "CHINA" || country == "中国" ||
      country == "中华人民共和国") {
    return "CN";
  }
  return upper;
}

std::string PassportCountry(const fhir::Json& identifier) {
  if (const fhir::Json* extensions = identifier.Find("extension");
      extensions != nullptr && extensions->IsArray()) {
    for (const fhir::Json& extension : extensions->Items()) {
      if (extension.IsObject() && extension.GetStringMember("url") == kIssuingCountryExtension) {
        std::string_view code = extension.GetStringMember("valueCode");
        if (code.empty())
          code = extension.GetStringMember("valueString");
        if (!code.empty())
          return std::string(code);
      }
    }
  }
  if (const fhir::Json* assigner = identifier.Find("assigner");
      assigner != nullptr && assigner->IsObject()) {
    if (const fhir::Json* assigner_id = assigner->Find("identifier");
        assigner_id != nullptr && assigner_id->IsObject() &&
        !assigner_id->GetStringMember("value").empty()) {
      return std::string(assigner_id->GetStringMember("value"));
    }
    return std::string(assigner->GetStringMember("display"));
  }
  return {};
}

}  // namespace

char ResidentIdCheckCharacter(std::string_view first17) {
  static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  static constexpr char kCheck[] = "10X98765432";
  if (first17.size() != 17 || !AllDigits(first17)) {
    return 0;
  }
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += (first17[i] - '0') * kWeights[i];
  return kCheck[sum % 11];
}

bool HasValidResidentIdChecksum(std::string_view value) {
  if (value.size() != 18) {
    return false;
  }
  const char expected = ResidentIdCheckCharacter(value.substr(0, 17));
  const char actual = value[17] == 'x' ? 'X' : value[17];
  return expected != 0 && expected == actual;
}

bool IsKnownRegionCode(std::string_view code) {
  return RegionCodes().contains(code);
}

std::string NormalizeResidentId(std::string_view value) {
  return ToUpperAscii(value);
}

std::string NormalizePhone(std::string_view value) {
  std::string digits;
  bool international = false;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !international) {
      international = true;
    } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
      continue;
    } else {
      return {};
    }
  }
  if (!international && digits.starts_with("0086")) {
    digits.erase(0, 4);
  } else if (international) {
    if (!digits.starts_with("86")) {
      return digits.size() >= 7 && digits.size() <= 15 && digits[0] != '0' ? "+" + digits
                                                                           : std::string();
    }
    digits.erase(0, 2);
  }
  // Mainland numbers from here on.
  if (digits.size() == 11 && digits[0] == '1' && digits[1] >= '3') {
    return digits;  // mobile
  }
  if ((digits.starts_with("400") || digits.starts_with("800")) && digits.size() == 10) {
    return digits;  // service numbers
  }
  if (digits.size() >= 10 && digits[0] == '0' && digits[1] != '0') {
    // Area codes: 010 and 020-029 have three digits and 8-digit numbers; the others four.
    const bool short_area = digits[1] == '1' || digits[1] == '2';
    const size_t area = short_area ? 3 : 4;
    if (short_area && digits[1] == '1' && digits[2] != '0') {
      return {};
    }
    const size_t subscriber = digits.size() - area;
    const bool length_ok = short_area ? subscriber == 8 : (subscriber == 7 || subscriber == 8);
    if (length_ok && digits[area] != '0' && digits[area] != '1') {
      return digits;
    }
  }
  return {};
}

bool CheckResidentId(std::string_view value, std::string_view birth_date, std::string_view gender,
                     const std::string& location, std::vector<core::Issue>& issues,
                     const IdentityOptions& options) {
  if (value.size() == 15 && AllDigits(value)) {
    AddIssue(issues, "value",
             "15位一代居民身份证号码已停用，请填写18位号码 / 15-digit first-generation resident ID "
             "numbers are no longer valid; give the 18-character number",
             location);
    return false;
  }
  if (value.size() != 18 || !AllDigits(value.substr(0, 17)) ||
      !(IsDigit(value[17]) || value[17] == 'X' || value[17] == 'x')) {
    AddIssue(issues, "value",
             "居民身份证号码格式错误：应为17位数字加1位校验码（0-9或X） / resident ID must be 17 "
             "digits followed by a check character (0-9 or X)",
             location);
    return false;
  }
  bool ok = true;
  const std::string region(value.substr(0, 6));
  if (!IsKnownRegionCode(region)) {
    AddIssue(issues, "value",
             "居民身份证地区码 " + region +
                 " 不是 GB/T 2260 行政区划代码 / resident ID region code " + region +
                 " is not a GB/T 2260 administrative division code",
             location);
    ok = false;
  }
  const std::string_view date = value.substr(6, 8);
  const int year = ParseInt(date.substr(0, 4));
  const int month = ParseInt(date.substr(4, 2));
  const int day = ParseInt(date.substr(6, 2));
  const int yyyymmdd = ParseInt(date);
  if (!IsValidDate(year, month, day) || year < 1870 || yyyymmdd > Today(options)) {
    AddIssue(issues, "value",
             "居民身份证出生日期 " + std::string(date) + " 无效 / resident ID birth date " +
                 std::string(date) + " is not a valid past date",
             location);
    ok = false;
  } else if (!birth_date.empty()) {
    // Compare as far as Patient.birthDate is precise (YYYY, YYYY-MM or YYYY-MM-DD).
    const std::string id_date = FormatDate(date);
    const std::string_view given = birth_date.substr(0, std::min<size_t>(birth_date.size(), 10));
    if (id_date.compare(0, given.size(), given) != 0) {
      AddIssue(issues, "business-rule",
               "居民身份证出生日期 " + id_date + " 与出生日期 " + std::string(birth_date) +
                   " 不符 / resident ID birth date " + id_date +
                   " does not match Patient.birthDate " + std::string(birth_date),
               location);
      ok = false;
    }
  }
  const bool id_male = (value[16] - '0') % 2 == 1;
  if ((gender == "male" && !id_male) || (gender == "female" && id_male)) {
    AddIssue(issues, "business-rule",
             std::string("居民身份证第17位表示") + (id_male ? "男性" : "女性") + "，与性别 " +
                 std::string(gender) + " 不符 / the resident ID's 17th digit says " +
                 (id_male ? "male" : "female") + " but Patient.gender is " + std::string(gender),
             location);
    ok = false;
  }
  const char expected = ResidentIdCheckCharacter(value.substr(0, 17));
  const char actual = value[17] == 'x' ? 'X' : value[17];
  if (expected != actual) {
    AddIssue(issues, "value",
             "居民身份证校验位错误 / resident ID check digit is wrong (GB 11643 MOD 11-2)",
             location);
    ok = false;
  }
  return ok;
}

bool CheckHkmoPermit(std::string_view value, const std::string& location,
                     std::vector<core::Issue>& issues) {
  const bool ok = (value.size() == 9 || value.size() == 11) &&
                  (value[0] == 'H' || value[0] == 'M') && AllDigits(value.substr(1));
  if (!ok) {
    AddIssue(issues, "value",
             "港澳居民来往内地通行证号码格式错误：应为H或M加8位或10位数字 / Hong Kong and Macau "
             "permit number must be H or M followed by 8 or 10 digits",
             location);
  }
  return ok;
}

bool CheckPassport(std::string_view value, std::string_view country, const std::string& location,
                   std::vector<core::Issue>& issues) {
  const std::string canonical = CanonicalCountry(country);
  if (canonical == "CN") {
    const size_t n = value.size();
    const bool e_or_g =
        n == 9 && (value[0] == 'E' || value[0] == 'G') && AllDigits(value.substr(1));
    const bool e_letter = n == 9 && value[0] == 'E' && IsUpper(value[1]) && value[1] != 'I' &&
                          value[1] != 'O' && AllDigits(value.substr(2));
    const bool official = (n == 8 || n == 9) &&
                          (value[0] == 'D' || value[0] == 'S' || value[0] == 'P') &&
                          AllDigits(value.substr(1));
    if (!(e_or_g || e_letter || official)) {
      AddIssue(issues, "value",
               "中国护照号码格式错误：应为E或G加8位数字、E加1个字母和7位数字，或D/S/P加7-8位数字 "
               "/ Chinese passport number must be E or G and 8 digits, E, a letter and 7 digits, "
               "or D/S/P and 7-8 digits",
               location);
      return false;
    }
    return true;
  }
  bool ok = value.size() >= 5 && value.size() <= 20;
  for (char c : value) {
    ok = ok && (IsDigit(c) || IsUpper(c));
  }
  if (!ok) {
    AddIssue(issues, "value",
             "护照号码格式错误：应为5-20位大写字母或数字 / passport number must be 5-20 upper-case "
             "letters or digits",
             location);
  }
  return ok;
}

bool CheckMrn(std::string_view system, std::string_view value, const std::string& location,
              std::vector<core::Issue>& issues) {
  bool ok = true;
  const std::string_view organization =
      system.substr(std::min(system.size(), kMrnSystemPrefix.size()));
  if (!system.starts_with(kMrnSystemPrefix) || !IsFhirId(organization)) {
    AddIssue(issues, "value",
             "病历号标识系统应为 https://fhir.medalliance.cn/sid/mrn/<成员机构id> / a record "
             "number system must be https://fhir.medalliance.cn/sid/mrn/<member Organization id>",
             location + ".system");
    ok = false;
  }
  if (value.empty() || HasWhitespace(value)) {
    AddIssue(issues, "value",
             "病历号不能为空且不能包含空白字符 / a record number must be non-empty and contain no "
             "whitespace",
             location + ".value");
    ok = false;
  }
  return ok;
}

bool CheckPhone(std::string_view value, const std::string& location,
                std::vector<core::Issue>& issues) {
  if (!NormalizePhone(value).empty()) {
    return true;
  }
  AddIssue(
      issues, "value",
      "电话号码格式错误：应为11位手机号（1[3-9]开头）、带区号的固定电话或国际号码（+国家码） / "
      "phone number must be an 11-digit mobile number (1[3-9]...), a landline with its area "
      "code, or an international number (+country code)",
      location);
  return false;
}

core::Status ValidatePatientIdentity(const fhir::Json& patient, const IdentityOptions& options) {
  if (!patient.IsObject() || patient.GetStringMember("resourceType") != "Patient") {
    return core::Error::Unprocessable("不是 Patient 资源 / not a Patient resource", "Patient");
  }
  std::vector<core::Issue> issues;
  const std::string_view birth_date = patient.GetStringMember("birthDate");
  const std::string_view gender = patient.GetStringMember("gender");
  std::string first_resident_id;
  if (const fhir::Json* identifiers = patient.Find("identifier");
      identifiers != nullptr && identifiers->IsArray()) {
    for (size_t i = 0; i < identifiers->Items().size(); ++i) {
      const fhir::Json& identifier = identifiers->Items()[i];
      if (!identifier.IsObject())
        continue;
      const std::string base = "Patient.identifier[" + std::to_string(i) + "]";
      const std::string_view system = identifier.GetStringMember("system");
      const std::string_view value = identifier.GetStringMember("value");
      const bool ours = system == kResidentIdSystem || system == kHkmoPermitSystem ||
                        system == kPassportSystem || system.starts_with(kMrnSystemPrefix);
      if (ours && value.empty() && !system.starts_with(kMrnSystemPrefix)) {
        AddIssue(issues, "required", "标识值缺失 / identifier value is missing", base + ".value");
        continue;
      }
      if (system == kResidentIdSystem) {
        if (CheckResidentId(value, birth_date, gender, base + ".value", issues, options)) {
          const std::string normalized = NormalizeResidentId(value);
          if (first_resident_id.empty()) {
            first_resident_id = normalized;
          } else if (first_resident_id != normalized) {
            AddIssue(issues, "business-rule",
                     "患者有两个不同的居民身份证号码 / the patient has two different resident ID "
                     "numbers",
                     base + ".value");
          }
        }
      } else if (system == kHkmoPermitSystem) {
        CheckHkmoPermit(value, base + ".value", issues);
      } else if (system == kPassportSystem) {
        CheckPassport(value, PassportCountry(identifier), base + ".value", issues);
      } else if (system.starts_with(kMrnSystemPrefix)) {
        CheckMrn(system, value, base, issues);
      }
    }
  }
  auto check_telecom = [&](const fhir::Json* telecom, const std::string& base) {
    if (telecom == nullptr || !telecom->IsArray())
      return;
    for (size_t i = 0; i < telecom->Items().size(); ++i) {
      const fhir::Json& point = telecom->Items()[i];
      if (!point.IsObject())
        continue;
      const std::string_view system = point.GetStringMember("system");
      if (system == "phone" || system == "sms") {
        CheckPhone(point.GetStringMember("value"),
                   base + ".telecom[" + std::to_string(i) + "].value", issues);
      }
    }
  };
  check_telecom(patient.Find("telecom"), "Patient");
  if (const fhir::Json* contacts = patient.Find("contact");
      contacts != nullptr && contacts->IsArray()) {
    for (size_t j = 0; j < contacts->Items().size(); ++j) {
      if (contacts->Items()[j].IsObject()) {
        check_telecom(contacts->Items()[j].Find("telecom"),
                      "Patient.contact[" + std::to_string(j) + "]");
      }
    }
  }
  if (issues.empty()) {
    return core::Ok{};
  }
  return core::Error(core::ErrorCode::kUnprocessable, std::move(issues));
}

}  // namespace medalliance::mpi
