#include "api/rest/outcome.h"

namespace medalliance::api::rest {

using fhir::Json;

namespace {

Json IssueJson(const core::Issue& issue) {
  Json json = Json::MakeObject();
  json.Set("severity", Json::MakeString(std::string(core::ToString(issue.severity))));
  json.Set("code", Json::MakeString(issue.code.empty() ? "processing" : issue.code));
  if (!issue.diagnostics.empty())
    json.Set("diagnostics", Json::MakeString(issue.diagnostics));
  if (!issue.expression.empty()) {
    Json expressions = Json::MakeArray();
    expressions.PushBack(Json::MakeString(issue.expression));
    json.Set("expression", std::move(expressions));
  }
  return json;
}

}  // namespace

Json MakeOperationOutcome(const core::Error& error) {
  Json outcome = Json::MakeObject();
  outcome.Set("resourceType", Json::MakeString("OperationOutcome"));
  Json issues = Json::MakeArray();
  for (const core::Issue& issue : error.GetIssues()) issues.PushBack(IssueJson(issue));
  if (issues.Size() == 0) {
    issues.PushBack(IssueJson(core::Issue{core::Severity::kError,
                                          std::string(core::IssueTypeOf(error.GetCode())),
                                          std::string(core::NameOf(error.GetCode())), ""}));
  }
  outcome.Set("issue", std::move(issues));
  return outcome;
}

Json MakeOutcome(core::Severity severity, std::string_view code, std::string_view message) {
  Json outcome = Json::MakeObject();
  outcome.Set("resourceType", Json::MakeString("OperationOutcome"));
  Json issues = Json::MakeArray();
  issues.PushBack(IssueJson(core::Issue{severity, std::string(code), std::string(message), ""}));
  outcome.Set("issue", std::move(issues));
  return outcome;
}

void AppendIssues(Json& outcome, const std::vector<core::Issue>& issues) {
  if (issues.empty())
    return;
  Json* list = outcome.Find("issue");
  if (list == nullptr)
    list = &outcome.Set("issue", Json::MakeArray());
  for (const core::Issue& issue : issues) list->PushBack(IssueJson(issue));
}

FhirResponse ErrorResponse(const core::Error& error) {
  FhirResponse response;
  response.status = error.GetHttpStatus();
  response.body = fhir::WriteJson(MakeOperationOutcome(error));
  return response;
}

}  // namespace medalliance::api::rest
