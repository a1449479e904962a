#include "mpi/linked_everything.h"

#include <algorithm>
#include <charconv>

#include "core/time.h"
#include "mpi/identifiers.h"
#include "mpi/link_operations.h"

namespace medalliance::mpi {
namespace {

using core::Error;
using fhir::Json;

Json Str(std::string_view text) {
  return Json::MakeString(std::string(text));
}

Json Extension(std::string_view url, std::string_view reference) {
  Json extension = Json::MakeObject();
  extension.Set("url", Str(url));
  Json value = Json::MakeObject();
  value.Set("reference", Str(reference));
  extension.Set("valueReference", std::move(value));
  return extension;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The parameters as (name, text) pairs: valueString, valueCode, valueInteger, ...
search::Params TextParameters(const Json& parameters) {
  search::Params out;
  if (const Json* list = parameters.Find("parameter"); list != nullptr && list->IsArray()) {
    for (const Json& parameter : list->Items()) {
      if (!parameter.IsObject())
        continue;
      for (const auto& [key, value] : parameter.Members()) {
        if (key.rfind("value", 0) != 0)
          continue;
        if (value.IsString() || value.IsNumber()) {
          out.emplace_back(std::string(parameter.GetStringMember("name")),
                           value.IsString() ? value.GetString() : fhir::WriteJson(value));
        }
      }
    }
  }
  return out;
}

core::Result<int> ParseCount(std::string_view text, std::string_view name) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    return Error::BadRequest("invalid " + std::string(name) + " '" + std::string(text) + "'",
                             std::string(name));
  }
  return value;
}

}  // namespace

std::string MemberOf(const Json& patient) {
  if (const Json* organization = patient.Find("managingOrganization"); organization != nullptr) {
    std::string_view reference = organization->GetStringMember("reference");
    if (reference.rfind("Organization/", 0) == 0)
      return std::string(reference);
  }
  if (const Json* identifiers = patient.Find("identifier");
      identifiers != nullptr && identifiers->IsArray()) {
    for (const Json& identifier : identifiers->Items()) {
      std::string_view system = identifier.GetStringMember("system");
      if (system.rfind(kMrnSystemPrefix, 0) == 0 && system.size() > kMrnSystemPrefix.size())
        return "Organization/" + std::string(system.substr(kMrnSystemPrefix.size()));
    }
  }
  return {};
}

core::Result<store::OperationResponse> LinkedEverythingOperation::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  if (request.id.empty())
    return Error::BadRequest("$everything works on an instance: GET " + request.type +
                             "/[id]/$everything");
  search::Params params = TextParameters(request.parameters);
  search::Params applied;  // for the self and next links
  search::Params passed;   // to Searcher::Everything
  int count = default_count_;
  size_t start = 0;
  std::string inner_cursor;
  for (const auto& [name, value] : params) {
    if (name == "_mpi") {
      if (value != "linked")
        return Error::BadRequest("_mpi must be 'linked', not '" + value + "'", "_mpi");
      applied.emplace_back(name, value);
    } else if (name == "_count") {
      MA_ASSIGN_OR_RETURN(count, ParseCount(value, name));
    } else if (name == "_cursor") {
      size_t tilde = value.find('~');
      MA_ASSIGN_OR_RETURN(int number, ParseCount(value.substr(0, tilde), "_cursor"));
      start = static_cast<size_t>(number);
      if (tilde != std::string::npos)
        inner_cursor = value.substr(tilde + 1);
    } else if (name == "_type" || name == "_since") {
      applied.emplace_back(name, value);
      passed.emplace_back(name, value);
    }
  }
  count = std::clamp(count, 1, max_count_);

  Json bundle = Json::MakeObject();
  core::Status status = store.Read([&](store::ReadTx& tx) -> core::Status {
    std::vector<std::string> patients;
    if (request.type == "Person") {
      MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> person,
                          tx.ReadCurrent("Person", request.id));
      if (!person.has_value() || person->deleted)
        return Error::NotFound("Person/" + request.id + " is not known");
      MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(person->json));
      if (const Json* links = json.Find("link"); links != nullptr && links->IsArray()) {
        for (const Json& link : links->Items()) {
          if (const Json* target = link.Find("target"); target != nullptr) {
            std::string_view reference = target->GetStringMember("reference");
            if (reference.rfind("Patient/", 0) == 0)
              patients.emplace_back(reference);
          }
        }
      }
      std::sort(patients.begin(), patients.end());
      patients.erase(std::unique(patients.begin(), patients.end()), patients.end());
    } else {
      MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> patient,
                          tx.ReadCurrent("Patient", request.id));
      if (!patient.has_value() || patient->deleted)
        return Error::NotFound("Patient/" + request.id + " is not known");
      MA_ASSIGN_OR_RETURN(patients, LinkedPatients(tx, "Patient/" + request.id));
    }

    Json entries = Json::MakeArray();
    std::optional<std::string> next;
    int remaining = count;
    for (size_t i = start; i < patients.size() && remaining > 0; ++i) {
      const std::string id = patients[i].substr(8);  // after "Patient/"
      MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> patient,
                          tx.ReadCurrent("Patient", id));
      if (!patient.has_value() || patient->deleted) {
        inner_cursor.clear();
        continue;  // a deleted Patient still linked: nothing to show
      }
      MA_ASSIGN_OR_RETURN(Json patient_json, fhir::ParseJson(patient->json));
      const std::string member = MemberOf(patient_json);
      search::EverythingRequest everything;
      everything.patient_id = id;
      everything.params = passed;
      everything.params.emplace_back("_count", std::to_string(remaining));
      if (!inner_cursor.empty())
        everything.params.emplace_back("_cursor", inner_cursor);
      everything.default_count = remaining;
      everything.max_count = max_count_;
      inner_cursor.clear();
      MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher_.Everything(tx, everything));
      for (const store::StoredResource& match : page.matches) {
        --remaining;
        if (match.type == "Person")
          continue;  // the linking Person(s): in every linked Patient's compartment
        Json entry = Json::MakeObject();
        Json extensions = Json::MakeArray();
        if (!member.empty())
          extensions.PushBack(Extension(kAllianceMemberExtension, member));
        extensions.PushBack(Extension(kLinkedPatientExtension, patients[i]));
        entry.Set("extension", std::move(extensions));
        entry.Set("fullUrl", Str(request.base_url + "/" + match.type + "/" + match.id));
        MA_ASSIGN_OR_RETURN(Json resource, fhir::ParseJson(match.json));
        entry.Set("resource", std::move(resource));
        Json search = Json::MakeObject();
        search.Set("mode", Str("match"));
        entry.Set("search", std::move(search));
        entries.PushBack(std::move(entry));
      }
      if (page.has_more && page.next_cursor.has_value()) {
        next = std::to_string(i) + "~" + *page.next_cursor;
        break;
      }
      if (remaining == 0 && i + 1 < patients.size())
        next = std::to_string(i + 1);
    }

    auto link = [&](std::string_view relation, const std::optional<std::string>& cursor) {
      std::string url = request.base_url + "/" + request.type + "/" + request.id + "/$everything";
      char separator = '?';
      search::Params query = applied;
      query.emplace_back("_count", std::to_string(count));
      if (cursor.has_value())
        query.emplace_back("_cursor", *cursor);
      for (const auto& [name, value] : query) {
        url += separator;
        url += PercentEncode(name) + "=" + PercentEncode(value);
        separator = '&';
      }
      Json json = Json::MakeObject();
      json.Set("relation", Str(relation));
      json.Set("url", Str(url));
      return json;
    };
    bundle.Set("resourceType", Str("Bundle"));
    bundle.Set("type", Str("searchset"));
    Json links = Json::MakeArray();
    std::optional<std::string> self;
    for (const auto& [name, value] : params) {
      if (name == "_cursor")
        self = value;
    }
    links.PushBack(link("self", self));
    if (next.has_value())
      links.PushBack(link("next", next));
    bundle.Set("link", std::move(links));
    bundle.Set("entry", std::move(entries));
    return {};
  });
  if (!status)
    return status.error();
  store::OperationResponse out;
  out.body = std::move(bundle);
  return out;
}

}  // namespace medalliance::mpi
