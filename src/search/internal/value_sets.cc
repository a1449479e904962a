#include "search/internal/value_sets.h"

#include <algorithm>

#include "search/internal/sql_builder.h"
#include "store/sql/schema.h"

namespace medalliance::search::internal {

using core::Error;
using core::Result;
using fhir::Json;

namespace {

constexpr int kMaxImportDepth = 4;

const Json::Array* ArrayMember(const Json& object, std::string_view key) {
  const Json* member = object.IsObject() ? object.Find(key) : nullptr;
  return member != nullptr && member->IsArray() ? &member->Items() : nullptr;
}

void AddContains(const Json::Array& contains, ValueSetCodes& out) {
  for (const Json& item : contains) {
    if (!item.IsObject())
      continue;
    std::string_view code = item.GetStringMember("code");
    bool abstract = false;
    if (const Json* flag = item.Find("abstract"); flag != nullptr && flag->IsBool())
      abstract = flag->GetBool();
    if (!code.empty() && !abstract)
      out.codes.emplace_back(std::string(item.GetStringMember("system")), std::string(code));
    if (const Json::Array* nested = ArrayMember(item, "contains"))
      AddContains(*nested, out);
  }
}

// One compose.include or compose.exclude element into (codes, systems).
core::Status AddComponent(const Json& component, std::string_view param, const ValueSetLoader& load,
                          int depth, std::vector<std::pair<std::string, std::string>>& codes,
                          std::vector<std::string>& systems) {
  if (!component.IsObject())
    return {};
  if (ArrayMember(component, "filter") != nullptr) {
    return Error::BadRequest(std::string(param) +
                                 ": value sets defined by compose filters cannot be expanded by "
                                 "this server; store the ValueSet with an expansion",
                             std::string(param));
  }
  std::string system(component.GetStringMember("system"));
  const Json::Array* concepts = ArrayMember(component, "concept");
  const Json::Array* imports = ArrayMember(component, "valueSet");
  if (imports != nullptr) {
    // The intersection of the imported sets (and of the system part, if any). Only the common
    // case of one import without a system is taken whole; otherwise intersect code lists.
    std::optional<ValueSetCodes> joined;
    for (const Json& import : *imports) {
      if (!import.IsString())
        continue;
      if (depth >= kMaxImportDepth) {
        return Error::BadRequest(std::string(param) + ": value set imports nest too deeply",
                                 std::string(param));
      }
      MA_ASSIGN_OR_RETURN(std::optional<Json> imported, load(import.GetString()));
      if (!imported.has_value()) {
        return Error::BadRequest(std::string(param) + ": imported value set '" +
                                     import.GetString() + "' is not stored on this server",
                                 std::string(param));
      }
      MA_ASSIGN_OR_RETURN(ValueSetCodes part, ExpandValueSet(*imported, param, load, depth + 1));
      if (!joined.has_value()) {
        joined = std::move(part);
        continue;
      }
      // Intersection of two expansions: codes listed in both, or listed in one and covered
      // by a whole system of the other.
      ValueSetCodes both;
      auto covered = [](const ValueSetCodes& set, const std::pair<std::string, std::string>& c) {
        return std::find(set.codes.begin(), set.codes.end(), c) != set.codes.end() ||
               std::find(set.systems.begin(), set.systems.end(), c.first) != set.systems.end();
      };
      for (const auto& c : joined->codes) {
        if (covered(part, c))
          both.codes.push_back(c);
      }
      for (const auto& c : part.codes) {
        if (covered(*joined, c) && !covered(both, c))
          both.codes.push_back(c);
      }
      for (const std::string& s : joined->systems) {
        if (std::find(part.systems.begin(), part.systems.end(), s) != part.systems.end())
          both.systems.push_back(s);
      }
      both.excluded_codes = joined->excluded_codes;
      both.excluded_codes.insert(both.excluded_codes.end(), part.excluded_codes.begin(),
                                 part.excluded_codes.end());
      both.excluded_systems = joined->excluded_systems;
      both.excluded_systems.insert(both.excluded_systems.end(), part.excluded_systems.begin(),
                                   part.excluded_systems.end());
      joined = std::move(both);
    }
    if (joined.has_value()) {
      if (!joined->excluded_codes.empty() || !joined->excluded_systems.empty()) {
        // Apply the imported set's own exclusions now: they must not leak into the outer set.
        std::erase_if(joined->codes, [&](const auto& c) {
          return std::find(joined->excluded_codes.begin(), joined->excluded_codes.end(), c) !=
                     joined->excluded_codes.end() ||
                 std::find(joined->excluded_systems.begin(), joined->excluded_systems.end(),
                           c.first) != joined->excluded_systems.end();
        });
        if (!joined->systems.empty() &&
            (!joined->excluded_codes.empty() || !joined->excluded_systems.empty())) {
          return Error::BadRequest(std::string(param) +
                                       ": an imported value set excludes codes from a whole code "
                                       "system; store the ValueSet with an expansion",
                                   std::string(param));
        }
      }
      if (concepts != nullptr) {  // listed concepts that are also in the imported sets
        for (const Json& concept_item : *concepts) {
          std::pair<std::string, std::string> c{system,
                                                std::string(concept_item.GetStringMember("code"))};
          bool in =
              std::find(joined->codes.begin(), joined->codes.end(), c) != joined->codes.end() ||
              std::find(joined->systems.begin(), joined->systems.end(), system) !=
                  joined->systems.end();
          if (!c.second.empty() && in)
            codes.push_back(std::move(c));
        }
        return {};
      }
      for (auto& c : joined->codes) {
        if (system.empty() || c.first == system)
          codes.push_back(std::move(c));
      }
      for (std::string& s : joined->systems) {
        if (system.empty() || s == system)
          systems.push_back(std::move(s));
      }
      return {};
    }
  }
  if (concepts != nullptr) {
    for (const Json& concept_item : *concepts) {
      if (!concept_item.IsObject())
        continue;
      std::string_view code = concept_item.GetStringMember("code");
      if (!code.empty())
        codes.emplace_back(system, std::string(code));
    }
  } else if (!system.empty()) {
    systems.push_back(std::move(system));
  }
  return {};
}

}  // namespace

Result<ValueSetCodes> ExpandValueSet(const Json& value_set, std::string_view param,
                                     const ValueSetLoader& load, int depth) {
  ValueSetCodes out;
  const Json* expansion = value_set.IsObject() ? value_set.Find("expansion") : nullptr;
  if (expansion != nullptr && expansion->IsObject()) {
    if (const Json::Array* contains = ArrayMember(*expansion, "contains")) {
      AddContains(*contains, out);
      return out;
    }
  }
  const Json* compose = value_set.IsObject() ? value_set.Find("compose") : nullptr;
  if (compose == nullptr || !compose->IsObject())
    return out;  // no content: matches nothing
  if (const Json::Array* includes = ArrayMember(*compose, "include")) {
    for (const Json& include : *includes) {
      MA_RETURN_IF_ERROR(AddComponent(include, param, load, depth, out.codes, out.systems));
    }
  }
  if (const Json::Array* excludes = ArrayMember(*compose, "exclude")) {
    for (const Json& exclude : *excludes) {
      MA_RETURN_IF_ERROR(
          AddComponent(exclude, param, load, depth, out.excluded_codes, out.excluded_systems));
    }
  }
  return out;
}

Result<std::optional<Json>> LoadValueSet(store::ReadTx& tx, std::string_view reference,
                                         const std::string& base_url) {
  std::string_view text = reference;
  if (!base_url.empty() && text.starts_with(base_url) && text.size() > base_url.size() &&
      text[base_url.size()] == '/') {
    text.remove_prefix(base_url.size() + 1);
  }
  Fragment f;
  f.Text("SELECT ").Text(store::sql::kResourceColumns);
  f.Text(" FROM current_resources c JOIN resources r ON r.sequence = c.sequence");
  f.Text(" WHERE c.type = 'ValueSet' AND c.deleted = 0 AND ");
  std::string_view version;
  if (text.starts_with("ValueSet/") && text.find('/', 9) == std::string_view::npos) {
    f.Text("c.id = ").Bind(std::string(text.substr(9)));
  } else {
    std::string_view url = reference;
    if (size_t bar = url.find('|'); bar != std::string_view::npos) {
      version = url.substr(bar + 1);
      url = url.substr(0, bar);
    }
    f.Text("c.id IN (SELECT x.id FROM index_uri x WHERE x.type = 'ValueSet' AND ");
    f.Text("x.param = 'url' AND x.value = ").Bind(std::string(url)).Text(")");
  }
  f.Text(" ORDER BY r.last_updated DESC, c.id LIMIT 50");
  MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> rows,
                      tx.QueryResources(Number(f, tx.GetDialect())));
  for (const store::StoredResource& row : rows) {
    Result<Json> json = fhir::ParseJson(row.json);
    if (!json)
      continue;
    if (!version.empty() && json->GetStringMember("version") != version)
      continue;
    return std::optional<Json>(std::move(*json));
  }
  return std::optional<Json>();
}

}  // namespace medalliance::search::internal
