#include "core/error.h"

#include <utility>

namespace medalliance::core {

int HttpStatusOf(ErrorCode code) {
  switch (code) {
#define MA_ERROR_CODE(name, status, type) \
  case ErrorCode::name:                   \
    return status;
#include "core/error_codes.def"
#undef MA_ERROR_CODE
  }
  return 500;
}

std::string_view IssueTypeOf(ErrorCode code) {
  switch (code) {
#define MA_ERROR_CODE(name, status, type) \
  case ErrorCode::name:                   \
    return type;
#include "core/error_codes.def"
#undef MA_ERROR_CODE
  }
  return "exception";
}

std::string_view NameOf(ErrorCode code) {
  switch (code) {
#define MA_ERROR_CODE(name, status, type) \
  case ErrorCode::name:                   \
    return #name;
#include "core/error_codes.def"
#undef MA_ERROR_CODE
  }
  return "unknown";
}

std::string_view ToString(Severity severity) {
  switch (severity) {
    case Severity::kFatal:
      return "fatal";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInformation:
      return "information";
  }
  return "error";
}

Error::Error(ErrorCode code, std::string message, std::string expression, std::string issue_code)
    : code_(code) {
  issues_.push_back(Issue{
      Severity::kError, issue_code.empty() ? std::string(IssueTypeOf(code)) : std::move(issue_code),
      std::move(message), std::move(expression)});
}

Error::Error(ErrorCode code, std::vector<Issue> issues) : code_(code), issues_(std::move(issues)) {
  for (Issue& issue : issues_) {
    if (issue.code.empty())
      issue.code = std::string(IssueTypeOf(code));
  }
}

Error Error::BadRequest(std::string message, std::string expression) {
  return Error(ErrorCode::kBadRequest, std::move(message), std::move(expression));
}
Error Error::NotFound(std::string message) {
  return Error(ErrorCode::kNotFound, std::move(message));
}
Error Error::Gone(std::string message) {
  return Error(ErrorCode::kGone, std::move(message));
}
Error Error::Conflict(std::string message, std::string expression) {
  return Error(ErrorCode::kConflict, std::move(message), std::move(expression));
}
Error Error::PreconditionFailed(std::string message) {
  return Error(ErrorCode::kPreconditionFailed, std::move(message));
}
Error Error::Unprocessable(std::string message, std::string expression, std::string issue_code) {
  return Error(ErrorCode::kUnprocessable, std::move(message), std::move(expression),
               std::move(issue_code));
}
Error Error::Forbidden(std::string message, std::string expression) {
  return Error(ErrorCode::kForbidden, std::move(message), std::move(expression));
}
Error Error::NotImplemented(std::string message) {
  return Error(ErrorCode::kNotImplemented, std::move(message));
}
Error Error::Internal(std::string message) {
  return Error(ErrorCode::kInternal, std::move(message));
}
Error Error::Unavailable(std::string message) {
  return Error(ErrorCode::kUnavailable, std::move(message));
}

const std::string& Error::GetMessage() const {
  static const std::string kEmpty;
  return issues_.empty() ? kEmpty : issues_.front().diagnostics;
}

Error& Error::WithLocationPrefix(std::string_view prefix) {
  for (Issue& issue : issues_) {
    if (issue.expression.empty()) {
      issue.expression = std::string(prefix);
    } else {
      // "Patient.name" under "Bundle.entry[0].resource" keeps only the path after the type.
      auto dot = issue.expression.find('.');
      std::string rest = dot == std::string::npos ? "" : issue.expression.substr(dot);
      issue.expression = std::string(prefix) + rest;
    }
  }
  return *this;
}

}  // namespace medalliance::core
