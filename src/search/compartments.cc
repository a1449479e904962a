#include "search/compartments.h"

namespace medalliance::search {

std::vector<std::string_view> CompartmentParams(std::string_view compartment,
                                                std::string_view type) {
  std::vector<std::string_view> out;
  for (const internal::CompartmentRow& row : internal::CompartmentRows()) {
    if (row.compartment == compartment && row.type == type && row.param != "{def}") {
      out.push_back(row.param);
    }
  }
  return out;
}

std::vector<std::string_view> CompartmentTypes(std::string_view compartment) {
  std::vector<std::string_view> out;
  for (const internal::CompartmentRow& row : internal::CompartmentRows()) {
    if (row.compartment == compartment && (out.empty() || out.back() != row.type)) {
      out.push_back(row.type);
    }
  }
  return out;
}

}  // namespace medalliance::search
