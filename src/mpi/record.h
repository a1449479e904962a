#pragma once
// PatientRecord: the features of one Patient the matcher compares, extracted once per write.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mpi/names.h"

namespace medalliance::fhir {
class Json;
}

namespace medalliance::mpi {

struct PatientRecord {
  std::string reference;               // "Patient/<id>", or any key the caller chooses
  std::string resident_id;             // upper-cased as written; may fail its check digit
  bool resident_id_valid = false;      // 18 characters with a correct GB 11643 check character
  std::vector<std::string> documents;  // "hkmo|H12345678", "passport|CN|E12345678"
  NameKey name;
  int birth_year = 0;  // 0 when unknown
  int birth_month = 0;
  int birth_day = 0;
  char sex = 0;                     // 'M', 'F' or 0 (absent, other, unknown)
  std::vector<std::string> phones;  // NormalizePhone() forms
  std::string address;              // folded, separators removed; empty when absent
};

// Extracts the matching features of a Patient resource. Never fails: what is absent or
// unusable is left empty (validation is ValidatePatientIdentity's job).
PatientRecord ExtractRecord(const fhir::Json& patient);

// Folds an address for comparison: simplified characters, no whitespace or punctuation,
// lower-case Latin letters.
std::string NormalizeAddress(std::string_view text);

}  // namespace medalliance::mpi
