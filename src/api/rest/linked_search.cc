// Search across the Patients the master patient index links to one Person (issue 5, doc/mpi.md).
//
// `_mpi-linked=true` on any search rewrites its patient criteria before planning, so the
// planner never sees it:
//   patient=Patient/a            (also subject=, subject:Patient=, several comma values)
//   patient.identifier=sys|val   (any chain on patient / subject / subject:Patient /
//   patient:Patient)
// become `patient=Patient/a,Patient/b,...` (the name kept), the Patients found first and then
// every Patient linked to the same Person (RestConfig::linked_patients). A criterion that finds
// no Patient is left as it is (and finds nothing). `_mpi-linked=false` is only removed.

#include <algorithm>

#include "api/rest/rest_service.h"

namespace medalliance::api::rest {

using core::Error;

namespace {

constexpr std::string_view kLinkedParam = "_mpi-linked";
constexpr size_t kMaxLinkedPatients = 1000;

std::vector<std::string> SplitCommas(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    out.push_back(value.substr(start, comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

bool RestService::AsksForMpi(const QueryParams& params) {
  return std::any_of(params.begin(), params.end(),
                     [](const auto& param) { return param.first == "_mpi"; });
}

bool RestService::AsksForLinkedPatients(const QueryParams& params) {
  return std::any_of(params.begin(), params.end(),
                     [](const auto& param) { return param.first == kLinkedParam; });
}

core::Result<QueryParams> RestService::ExpandLinkedPatients(
    store::ReadTx& tx, const search::SearchRequest& request) const {
  bool expand = false;
  for (const auto& [name, value] : request.params) {
    if (name != kLinkedParam)
      continue;
    if (value != "true" && value != "false") {
      return Error::BadRequest("_mpi-linked must be true or false, not '" + value + "'",
                               std::string(kLinkedParam));
    }
    expand = expand || value == "true";
  }
  QueryParams out;
  if (expand && !config_.linked_patients) {
    return Error::NotImplemented("_mpi-linked needs the master patient index, which is off");
  }
  for (const auto& [name, value] : request.params) {
    if (name == kLinkedParam)
      continue;
    if (!expand) {
      out.emplace_back(name, value);
      continue;
    }
    size_t cut = name.find_first_of(".:");
    std::string base = name.substr(0, cut);
    std::string rest = cut == std::string::npos ? std::string() : name.substr(cut);
    if (base != "patient" && base != "subject") {
      out.emplace_back(name, value);
      continue;
    }
    std::vector<std::string> found;
    if (rest.starts_with(":Patient."))
      rest = rest.substr(8);
    if (rest.starts_with(".")) {
      search::SearchRequest patients;
      patients.type = "Patient";
      patients.params = {{rest.substr(1), value}, {"_count", std::to_string(kMaxLinkedPatients)}};
      patients.strict = true;
      patients.max_count = static_cast<int>(kMaxLinkedPatients);
      patients.base_url = request.base_url;
      MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher_.Search(tx, patients));
      for (const store::StoredResource& patient : page.matches) {
        found.push_back("Patient/" + patient.id);
      }
    } else if (rest.empty() || rest == ":Patient") {
      for (std::string reference : SplitCommas(value)) {
        if (!request.base_url.empty() && reference.starts_with(request.base_url + "/"))
          reference = reference.substr(request.base_url.size() + 1);
        if (reference.find('/') == std::string::npos)
          reference = "Patient/" + reference;
        if (reference.starts_with("Patient/"))
          found.push_back(reference);
      }
    }
    if (found.empty()) {
      out.emplace_back(name, value);
      continue;
    }
    std::vector<std::string> linked;
    for (const std::string& reference : found) {
      MA_ASSIGN_OR_RETURN(std::vector<std::string> more, config_.linked_patients(tx, reference));
      linked.insert(linked.end(), more.begin(), more.end());
    }
    std::sort(linked.begin(), linked.end());
    linked.erase(std::unique(linked.begin(), linked.end()), linked.end());
    if (linked.size() > kMaxLinkedPatients) {
      return Error::BadRequest("_mpi-linked: more than 1000 linked patients; narrow the search",
                               name);
    }
    std::string joined;
    for (const std::string& reference : linked) {
      if (!joined.empty())
        joined += ',';
      joined += reference;
    }
    out.emplace_back(base, std::move(joined));
  }
  return out;
}

}  // namespace medalliance::api::rest
