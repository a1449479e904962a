#pragma once
// Error -> OperationOutcome, using the one error table (core/error_codes.def).

#include <string>

#include "api/rest/request.h"
#include "core/error.h"
#include "fhir/json/json.h"

namespace medalliance::api::rest {

fhir::Json MakeOperationOutcome(const core::Error& error);
// An OperationOutcome with one issue of the given severity (for Prefer: return=OperationOutcome
// and warnings).
fhir::Json MakeOutcome(core::Severity severity, std::string_view code, std::string_view message);
// Appends issues (warnings from write hooks, say) to an OperationOutcome's issue list.
void AppendIssues(fhir::Json& outcome, const std::vector<core::Issue>& issues);
// A response carrying the error's status and OperationOutcome.
FhirResponse ErrorResponse(const core::Error& error);

}  // namespace medalliance::api::rest
