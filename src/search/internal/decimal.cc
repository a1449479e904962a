#include "search/internal/decimal.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace medalliance::search::internal {

std::optional<SearchDecimal> ParseSearchDecimal(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  SearchDecimal out;
  out.value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() ||
      copy.find_first_of("xXnN") != std::string::npos) {
    return std::nullopt;
  }
  std::string_view mantissa = text;
  int exponent = 0;
  if (size_t e = text.find_first_of("eE"); e != std::string_view::npos) {
    mantissa = text.substr(0, e);
    exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  }
  int decimals = 0;
  if (size_t dot = mantissa.find('.'); dot != std::string_view::npos)
    decimals = static_cast<int>(mantissa.size() - dot - 1);
  out.half = 0.5 * std::pow(10.0, exponent - decimals);
  return out;
}

}  // namespace medalliance::search::internal
