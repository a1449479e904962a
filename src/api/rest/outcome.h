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
// A response carrying the error's status and OperationOutcome.
FhirResponse ErrorResponse(const core::Error& error);

}  // namespace medalliance::api::rest
