#pragma once
// Expected failures as values: an ErrorCode plus the issues an OperationOutcome will carry.
// api/ alone maps an Error to HTTP (see error_codes.def); lower layers only build them.

#include <string>
#include <string_view>
#include <vector>

namespace medalliance::core {

enum class ErrorCode {
#define MA_ERROR_CODE(name, status, type) name,
#include "core/error_codes.def"
#undef MA_ERROR_CODE
};

// HTTP status and FHIR issue type (IssueType code) of each ErrorCode.
int HttpStatusOf(ErrorCode code);
std::string_view IssueTypeOf(ErrorCode code);
std::string_view NameOf(ErrorCode code);

enum class Severity { kFatal, kError, kWarning, kInformation };
std::string_view ToString(Severity severity);

// One OperationOutcome.issue. `code` is a FHIR IssueType code ("invalid", "required",
// "value", "structure", "code-invalid", "not-found", ...); empty means "the ErrorCode's type".
struct Issue {
  Severity severity = Severity::kError;
  std::string code;
  std::string diagnostics;
  std::string expression;  // FHIRPath location, e.g. "Patient.name[0].given[1]"; may be empty
};

class Error {
 public:
  Error(ErrorCode code, std::string message, std::string expression = {},
        std::string issue_code = {});
  Error(ErrorCode code, std::vector<Issue> issues);

  static Error BadRequest(std::string message, std::string expression = {});
  static Error NotFound(std::string message);
  static Error Gone(std::string message);
  static Error Conflict(std::string message, std::string expression = {});
  static Error PreconditionFailed(std::string message);
  static Error Unprocessable(std::string message, std::string expression = {},
                             std::string issue_code = {});
  static Error Forbidden(std::string message, std::string expression = {});
  static Error NotImplemented(std::string message);
  static Error Internal(std::string message);
  static Error Unavailable(std::string message);

  ErrorCode GetCode() const { return code_; }
  int GetHttpStatus() const { return HttpStatusOf(code_); }
  const std::vector<Issue>& GetIssues() const { return issues_; }
  std::vector<Issue>& MutableIssues() { return issues_; }
  // The first issue's diagnostics; for logs and tests.
  const std::string& GetMessage() const;
  // Prefixes every issue's expression (e.g. with "Bundle.entry[3].resource").
  Error& WithLocationPrefix(std::string_view prefix);

 private:
  ErrorCode code_;
  std::vector<Issue> issues_;
};

}  // namespace medalliance::core
