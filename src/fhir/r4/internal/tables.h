#pragma once
// Row types of the generated R4 tables (generated_*.cc, written by tools/r4gen/generate.py).
// Private to fhir/r4: use fhir/r4/definitions.h. Rows are constant data; definitions.cc builds
// the lookup maps from them once.

#include <cstddef>
#include <cstdint>

namespace medalliance::fhir::r4::internal {

// Element flags (keep in sync with tools/r4gen/generate.py).
inline constexpr uint8_t kFlagBackbone = 1;
inline constexpr uint8_t kFlagChoice = 2;
inline constexpr uint8_t kFlagResourceSlot = 4;
inline constexpr uint8_t kFlagModifier = 8;
inline constexpr uint8_t kFlagSummary = 16;

struct TypeRow {
  const char* name;
  uint8_t kind;  // 0 primitive, 1 complex, 2 resource
  bool is_abstract;
  const char* base;
};

struct ElementRow {
  const char* path;
  uint32_t min;
  int32_t max;        // -1 = "*"
  const char* types;  // space-separated type codes
  const char* content_reference;
  uint8_t flags;
  const char* required_value_set;  // empty when the binding is not required
  const char* targets;             // space-separated Reference/canonical target types
};

struct ValueSetRow {
  const char* url;
  const char* codes;  // "\001<system>\n" then "<code>\n" per code, for each system
};

struct UnexpandedValueSetRow {
  const char* url;
  const char* reason;
};

struct SearchParamRow {
  const char* base;
  const char* code;
  const char* type;
  const char* expression;
  const char* targets;
  const char* components;  // "code=expression;..."
  const char* url;
};

extern const TypeRow kTypeRows[];
extern const size_t kTypeRowCount;
extern const ElementRow kElementRows[];
extern const size_t kElementRowCount;
extern const ValueSetRow kValueSetRows[];
extern const size_t kValueSetRowCount;
extern const UnexpandedValueSetRow kUnexpandedValueSetRows[];
extern const size_t kUnexpandedValueSetRowCount;
extern const SearchParamRow kSearchParamRows[];
extern const size_t kSearchParamRowCount;
// Hand-written (alliance_search_params.cc): the alliance's own SearchParameters.
extern const SearchParamRow kAllianceSearchParamRows[];
extern const size_t kAllianceSearchParamRowCount;

}  // namespace medalliance::fhir::r4::internal
