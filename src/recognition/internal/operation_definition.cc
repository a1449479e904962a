#include "recognition/internal/operation_definition.h"

#include <string>
#include <utility>

namespace medalliance::recognition::internal {

using fhir::Json;

namespace {

Json String(std::string_view text) {
  return Json::MakeString(std::string(text));
}

}  // namespace

Json OperationDefinition(const OperationDescription& operation) {
  Json definition = Json::MakeObject();
  definition.Set("resourceType", String("OperationDefinition"));
  definition.Set("id", String(operation.id));
  definition.Set("url", String(operation.url));
  definition.Set("version", String("0.1.0"));
  definition.Set("name", String(operation.name));
  definition.Set("title", String(operation.title));
  definition.Set("status", String("active"));
  definition.Set("kind", String("operation"));
  definition.Set("publisher", String("广深医疗联盟 / Guangzhou-Shenzhen medical alliance"));
  definition.Set("description", String(operation.description));
  definition.Set("affectsState", Json::MakeBool(false));
  definition.Set("code", String(operation.id));
  definition.Set("system", Json::MakeBool(true));
  definition.Set("type", Json::MakeBool(false));
  definition.Set("instance", Json::MakeBool(false));
  Json parameters = Json::MakeArray();
  for (const OperationParameter& in : operation.parameters) {
    Json parameter = Json::MakeObject();
    parameter.Set("name", String(in.name));
    parameter.Set("use", String(in.use));
    parameter.Set("min", Json::MakeNumber(in.min));
    parameter.Set("max", String(in.max));
    parameter.Set("documentation", String(in.documentation));
    if (!in.type.empty())
      parameter.Set("type", String(in.type));
    parameters.PushBack(std::move(parameter));
  }
  definition.Set("parameter", std::move(parameters));
  return definition;
}

}  // namespace medalliance::recognition::internal
