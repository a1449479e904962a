#include "mpi/record.h"

#include "fhir/json/json.h"
#include "mpi/identifiers.h"
#include "mpi/internal/utf8.h"

namespace medalliance::mpi {
namespace {

int ParseDigits(std::string_view text) {
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return 0;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string JoinStrings(const fhir::Json* array, std::string_view separator) {
  std::string out;
  if (array == nullptr || !array->IsArray())
    return out;
  for (const fhir::Json& item : array->Items()) {
    if (!item.IsString())
      continue;
    if (!out.empty())
      out += separator;
    out += item.GetString();
  }
  return out;
}

}  // namespace

std::string NormalizeAddress(std::string_view text) {
  std::string folded = FoldHanzi(text);
  std::string out;
  out.reserve(folded.size());
  for (char32_t c : internal::DecodeUtf8(folded)) {
    if (c < 0x80) {
      if (c >= U'A' && c <= U'Z') {
        out.push_back(static_cast<char>(c - U'A' + U'a'));
      } else if ((c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9')) {
        out.push_back(static_cast<char>(c));
      }
      continue;
    }
    if (c == 0xFF0C || c == 0x3001 || c == 0x3002 || c == 0xFF08 || c == 0xFF09 || c == 0xFF03) {
      continue;  // ，、。（）＃
    }
    internal::AppendUtf8(c, out);
  }
  return out;
}

PatientRecord ExtractRecord(const fhir::Json& patient) {
  PatientRecord record;
  if (!patient.IsObject())
    return record;
  if (std::string_view id = patient.GetStringMember("id"); !id.empty()) {
    record.reference = "Patient/" + std::string(id);
  }
  if (const fhir::Json* identifiers = patient.Find("identifier");
      identifiers != nullptr && identifiers->IsArray()) {
    for (const fhir::Json& identifier : identifiers->Items()) {
      if (!identifier.IsObject())
        continue;
      const std::string_view system = identifier.GetStringMember("system");
      const std::string_view value = identifier.GetStringMember("value");
      if (value.empty())
        continue;
      if (system == kResidentIdSystem) {
        std::string normalized = NormalizeResidentId(value);
        const bool valid = HasValidResidentIdChecksum(normalized);
        if (record.resident_id.empty() || (valid && !record.resident_id_valid)) {
          record.resident_id = std::move(normalized);
          record.resident_id_valid = valid;
        }
      } else if (system == kHkmoPermitSystem) {
        // The trailing two-digit issue count changes on renewal; match on the permanent part.
        record.documents.push_back("hkmo|" + std::string(value.substr(0, 9)));
      } else if (system == kPassportSystem) {
        record.documents.push_back("passport|" + std::string(value));
      }
    }
  }
  if (const fhir::Json* names = patient.Find("name"); names != nullptr && names->IsArray()) {
    for (const fhir::Json& name : names->Items()) {
      if (!name.IsObject())
        continue;
      AddHumanName(name.GetStringMember("family"), JoinStrings(name.Find("given"), " "),
                   name.GetStringMember("text"), record.name);
    }
  }
  if (std::string_view birth = patient.GetStringMember("birthDate"); birth.size() >= 4) {
    record.birth_year = ParseDigits(birth.substr(0, 4));
    if (birth.size() >= 7)
      record.birth_month = ParseDigits(birth.substr(5, 2));
    if (birth.size() >= 10)
      record.birth_day = ParseDigits(birth.substr(8, 2));
  }
  if (std::string_view gender = patient.GetStringMember("gender"); gender == "male") {
    record.sex = 'M';
  } else if (gender == "female") {
    record.sex = 'F';
  }
  if (const fhir::Json* telecom = patient.Find("telecom");
      telecom != nullptr && telecom->IsArray()) {
    for (const fhir::Json& point : telecom->Items()) {
      if (!point.IsObject())
        continue;
      const std::string_view system = point.GetStringMember("system");
      if (system != "phone" && system != "sms")
        continue;
      std::string phone = NormalizePhone(point.GetStringMember("value"));
      if (!phone.empty())
        record.phones.push_back(std::move(phone));
    }
  }
  if (const fhir::Json* addresses = patient.Find("address");
      addresses != nullptr && addresses->IsArray() && !addresses->Items().empty() &&
      addresses->Items()[0].IsObject()) {
    const fhir::Json& address = addresses->Items()[0];
    std::string text(address.GetStringMember("text"));
    if (text.empty()) {
      text = std::string(address.GetStringMember("state")) +
             std::string(address.GetStringMember("city")) +
             std::string(address.GetStringMember("district")) +
             JoinStrings(address.Find("line"), "");
    }
    record.address = NormalizeAddress(text);
  }
  return record;
}

}  // namespace medalliance::mpi
