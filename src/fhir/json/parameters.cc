#include "fhir/json/parameters.h"

namespace medalliance::fhir {

const Json* FindParameter(const Json& parameters, std::string_view name) {
  const Json* list = parameters.Find("parameter");
  if (list == nullptr || !list->IsArray())
    return nullptr;
  for (const Json& parameter : list->Items()) {
    if (parameter.IsObject() && parameter.GetStringMember("name") == name)
      return &parameter;
  }
  return nullptr;
}

std::vector<const Json*> FindParameters(const Json& parameters, std::string_view name) {
  std::vector<const Json*> out;
  const Json* list = parameters.Find("parameter");
  if (list == nullptr || !list->IsArray())
    return out;
  for (const Json& parameter : list->Items()) {
    if (parameter.IsObject() && parameter.GetStringMember("name") == name)
      out.push_back(&parameter);
  }
  return out;
}

std::string ParameterText(const Json& parameters, std::string_view name) {
  const Json* parameter = FindParameter(parameters, name);
  if (parameter == nullptr)
    return {};
  for (std::string_view key :
       {"valueString", "valueCode", "valueDate", "valueDateTime", "valueUri", "valueId"}) {
    if (std::string_view text = parameter->GetStringMember(key); !text.empty())
      return std::string(text);
  }
  for (std::string_view key : {"valueReference", "valueCoding"}) {
    const Json* value = parameter->Find(key);
    if (value != nullptr && value->IsObject()) {
      return std::string(value->GetStringMember(key == "valueReference" ? "reference" : "code"));
    }
  }
  return {};
}

}  // namespace medalliance::fhir
