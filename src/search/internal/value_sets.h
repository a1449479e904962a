#pragma once
// ValueSets stored on the server, expanded for the token modifiers :in and :not-in
// (doc/search.md, "Value sets").

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::search::internal {

// The codes of a value set: a coding is in it when (system, code) is in `codes` or its system
// is in `systems` (a whole code system), and it is not excluded the same way.
struct ValueSetCodes {
  std::vector<std::pair<std::string, std::string>> codes;  // (system, code)
  std::vector<std::string> systems;
  std::vector<std::pair<std::string, std::string>> excluded_codes;
  std::vector<std::string> excluded_systems;
};

// Expands one ValueSet resource: expansion.contains (nested too) when present, else
// compose.include / compose.exclude (listed concepts; a system without concepts is the whole
// system; include.valueSet is read through `load`, at most 4 levels deep). kBadRequest naming
// `param` for what cannot be expanded here (compose filters, a missing imported value set).
// `load` finds a value set by canonical URL (or "ValueSet/id"); nullopt when unknown.
using ValueSetLoader = std::function<core::Result<std::optional<fhir::Json>>(std::string_view)>;
core::Result<ValueSetCodes> ExpandValueSet(const fhir::Json& value_set, std::string_view param,
                                           const ValueSetLoader& load, int depth = 0);

// Finds a current ValueSet by canonical URL (`url` or `url|version`), by "ValueSet/id", or by
// an absolute URL of this server ending in ValueSet/id.
core::Result<std::optional<fhir::Json>> LoadValueSet(store::ReadTx& tx, std::string_view reference,
                                                     const std::string& base_url);

}  // namespace medalliance::search::internal
