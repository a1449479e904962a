#pragma once
// A search value's number with its implicit precision (FHIR R4 search, "number": 100 stands
// for [99.5, 100.5), 1e2 for [50, 150)): shared by the SQL planner and Subscription matching.

#include <optional>
#include <string_view>

namespace medalliance::search::internal {

struct SearchDecimal {
  double value = 0;
  double half = 0.5;  // half the unit of the last significant digit
};

// nullopt when `text` is not a decimal (hexadecimal, NaN and infinities are refused too).
std::optional<SearchDecimal> ParseSearchDecimal(std::string_view text);

}  // namespace medalliance::search::internal
