#pragma once
// `medalliance fhirpath EXPRESSION [FILE]`: evaluates a FHIRPath expression on one FHIR JSON
// resource (FILE, a .zst file, or standard input when FILE is empty or "-") and prints the
// result collection as a JSON array: nodes as their JSON, Booleans and numbers as JSON values,
// strings, dates, times and quantities as JSON strings ("2020-01-01", "5 'mg'").

#include <string>
#include <string_view>

#include "core/result.h"

namespace medalliance::cli {

struct FhirPathFlags {
  std::string expression;
  std::string file;  // empty or "-": standard input
  bool pretty = false;
};

// Evaluates `expression` on the resource in `resource_text` and returns the result array as
// JSON text (no trailing newline). Errors: kBadRequest for a syntax error or input that is not
// a JSON object; kUnprocessable for an evaluation error.
core::Result<std::string> EvaluateFhirPathToJson(std::string_view expression,
                                                 std::string_view resource_text, bool pretty);

// Runs the subcommand: prints the result on stdout and returns 0, or prints
// "medalliance fhirpath: <reason>" on stderr and returns 1.
int RunFhirPath(const FhirPathFlags& flags);

}  // namespace medalliance::cli
