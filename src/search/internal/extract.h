#pragma once
// Index extraction: evaluates the FHIRPath expression of every R4 SearchParameter of a
// resource's type and turns the values into store::IndexEntry rows (doc/search.md lists
// what each parameter type stores).
//
// Expressions are parsed once, on first use of the Extractor, and shared; Extractor is
// immutable after construction and thread-safe.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "store/store.h"

namespace medalliance::search::internal {

// Suffixes of derived index rows (stored under "<code><suffix>").
inline constexpr std::string_view kTextSuffix = ":text";          // token display text (string)
inline constexpr std::string_view kOfTypeSuffix = ":of-type";     // identifier type|value (token)
inline constexpr std::string_view kIdentifierSuffix = ":identifier";  // Reference.identifier
// Composite rows: "<code>#<group>#<component>", one group per composite value.
inline constexpr char kCompositeSeparator = '#';

struct ParamPlan {
  const fhir::r4::SearchParamDefinition* definition = nullptr;
  fhir::fhirpath::Expression expression;
  bool parsed = false;
  std::string parse_error;  // when !parsed
  struct Component {
    const fhir::r4::SearchParamDefinition* definition = nullptr;  // the component's parameter
    fhir::fhirpath::Expression expression;
    bool parsed = false;
  };
  std::vector<Component> components;  // composite parameters only
  // Top-level elements the expression starts from ("code" for Observation.code); when none
  // of them (nor a choice form such as valueQuantity for "value") is in the resource, the
  // expression is not evaluated. Empty: always evaluate.
  std::vector<std::string> roots;
};

class Extractor {
 public:
  // The process-wide instance (built on first call; thread-safe).
  static const Extractor& Get();

  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // Every index row of `resource` (its resourceType picks the parameters).
  std::vector<store::IndexEntry> Index(const fhir::Json& resource) const;
  // The rows of one parameter. Returns false (with `error`) when the expression failed.
  bool IndexParam(const fhir::Json& resource, const ParamPlan& plan,
                  std::vector<store::IndexEntry>& out, std::string* error = nullptr) const;
  // The indexed parameters of a type (excluding those the planner answers from the resource
  // tables: _id, _lastUpdated, and special ones).
  const std::vector<ParamPlan>& Plans(std::string_view type) const;
  const ParamPlan* Find(std::string_view type, std::string_view code) const;

 private:
  Extractor();
  std::unordered_map<std::string_view, std::vector<ParamPlan>> plans_;
  fhir::fhirpath::EvalOptions options_;
  std::unordered_map<std::string_view, fhir::Json> stubs_;  // resolve() targets by type
};

// Normalises a reference for the index: "Patient/1/_history/2" -> "Patient/1"; absolute URLs
// ending in Type/id keep the URL. Empty for contained ("#x") references.
std::string NormaliseReference(std::string_view reference);

}  // namespace medalliance::search::internal
