#pragma once
// The OperationDefinition resources of recognition's operations ($recognize,
// $recognition-metrics), built from one description each so that both share one shape.

#include <string_view>
#include <vector>

#include "fhir/json/json.h"

namespace medalliance::recognition::internal {

struct OperationParameter {
  std::string_view name;
  std::string_view use;  // "in" or "out"
  int min = 0;
  std::string_view max = "1";
  std::string_view type;  // empty: a part-only parameter (no type)
  std::string_view documentation;
};

struct OperationDescription {
  std::string_view id;  // also the operation's code
  std::string_view url;
  std::string_view name;
  std::string_view title;
  std::string_view description;
  std::vector<OperationParameter> parameters;
};

// A system-level, state-free OperationDefinition (version 0.1.0, status active, published by
// the alliance).
fhir::Json OperationDefinition(const OperationDescription& operation);

}  // namespace medalliance::recognition::internal
