#pragma once
// Reading the inputs of an operation from an R4 Parameters resource
// (http://hl7.org/fhir/R4/parameters.html): `parameter` entries by name, and a primitive
// value as text. Shared by every operation's input parsing (mpi, recognition, referral).

#include <string>
#include <string_view>
#include <vector>

#include "fhir/json/json.h"

namespace medalliance::fhir {

// The first `parameter` entry named `name`, or nullptr (also when `parameters` has no
// `parameter` array).
const Json* FindParameter(const Json& parameters, std::string_view name);

// Every `parameter` entry named `name`, in order.
std::vector<const Json*> FindParameters(const Json& parameters, std::string_view name);

// The first entry named `name` as text: its valueString, valueCode, valueDate, valueDateTime,
// valueUri or valueId; else valueReference.reference; else valueCoding.code. Empty when the
// entry is missing or has none of these.
std::string ParameterText(const Json& parameters, std::string_view name);

}  // namespace medalliance::fhir
