#pragma once
// Structural validation of FHIR R4 resources in their JSON form, against the base
// specification (fhir/r4/definitions.h): no profiles, no terminology server, no FHIRPath
// invariants except ext-1 (extension: value or nested extensions, not both) and the
// contained-resource rules dom-2 / dom-4.
//
// Checked: resourceType, unknown elements (including wrong value[x] keys), JSON kinds per type,
// arrays vs single values, minimum cardinality, primitive formats, empty objects / arrays /
// strings and nulls, `_name` primitive-extension siblings, required code bindings (code,
// Coding, CodeableConcept), Reference.reference form, Narrative div, and resources nested in
// contained / Bundle.entry.resource / Parameters.parameter.resource (recursively).
// The rules and their issue codes are described in doc/validation.md.
//
// Thread-safe: functions are pure; the R4 tables are built once on first use.

#include <cstddef>
#include <vector>

#include "core/error.h"
#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::fhir::validation {

struct ValidationOptions {
  // At most this many issues are reported; the walk stops early once reached.
  size_t max_issues = 100;
};

// Validates one resource (the JSON object with "resourceType").
// Ok when valid; otherwise Error kUnprocessable with one issue per problem, each with
// severity error, a FHIR issue code (structure, required, value, code-invalid, invalid,
// invariant) and the FHIRPath location in `expression` (e.g. "Patient.name[0].given[1]",
// "Bundle.entry[2].resource.subject").
core::Status ValidateResource(const Json& resource, const ValidationOptions& options = {});

// The same walk, returning the issues (empty when valid).
std::vector<core::Issue> CollectIssues(const Json& resource, const ValidationOptions& options = {});

}  // namespace medalliance::fhir::validation
