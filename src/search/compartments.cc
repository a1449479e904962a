#include "search/compartments.h"

#include <algorithm>

#include "search/internal/extract.h"

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

std::vector<std::string> CompartmentsOf(const fhir::Json& resource, std::string_view compartment) {
  std::vector<std::string> out;
  std::string_view type = resource.GetStringMember("resourceType");
  if (type == compartment) {
    out.emplace_back(resource.GetStringMember("id"));
    return out;
  }
  const internal::Extractor& extractor = internal::Extractor::Get();
  std::string prefix = std::string(compartment) + "/";
  for (std::string_view param : CompartmentParams(compartment, type)) {
    const internal::ParamPlan* plan = extractor.Find(type, param);
    if (plan == nullptr)
      continue;
    std::vector<store::IndexEntry> entries;
    extractor.IndexParam(resource, *plan, entries);
    for (const store::IndexEntry& entry : entries) {
      if (entry.kind != store::IndexKind::kReference)
        continue;
      std::string_view value = entry.value;
      // Absolute references to this server are stored as given; keep their "Type/id" tail.
      size_t at = value.rfind(prefix);
      if (at == std::string_view::npos || (at > 0 && value[at - 1] != '/'))
        continue;
      std::string_view id = value.substr(at + prefix.size());
      if (!id.empty() && id.find('/') == std::string_view::npos)
        out.emplace_back(id);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
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
