#pragma once
// The FHIRPath syntax tree (private to fhir/fhirpath). Immutable after Parse().

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"

namespace medalliance::fhir::fhirpath::internal {

struct Node {
  enum class Kind : uint8_t {
    kLiteral,   // literal
    kEmpty,     // {}
    kMember,    // children[0] (or the focus when absent) . name
    kFunction,  // children[0] (target or null) . name ( children[1..] )
    kIndexer,   // children[0] [ children[1] ]
    kUnary,     // op children[0]
    kBinary,    // children[0] op children[1]
    kTypeOp,    // children[0] is|as type_name
    kThis,      // $this
    kIndex,     // $index
    kTotal,     // $total
    kVariable,  // %name
  };
  Kind kind = Kind::kLiteral;
  std::string name;  // member/function/variable name, operator text, or type name (kTypeOp: op)
  std::string type_name;  // kTypeOp: the type specifier ("FHIR.Patient", "Integer")
  Item literal;
  std::vector<std::unique_ptr<Node>> children;  // kFunction: children[0] may be null
  size_t position = 0;
};

}  // namespace medalliance::fhir::fhirpath::internal
