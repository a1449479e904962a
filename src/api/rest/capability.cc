// RestService::Capabilities: GET /metadata. Lists what the server really supports.

#include <algorithm>

#include "api/rest/rest_service.h"
#include "core/time.h"
#include "fhir/r4/definitions.h"

namespace medalliance::api::rest {

using fhir::Json;

namespace {

Json Code(std::string_view code) {
  return Json::MakeString(std::string(code));
}

Json Interaction(std::string_view code) {
  Json json = Json::MakeObject();
  json.Set("code", Code(code));
  return json;
}

Json SearchParam(std::string_view name, std::string_view definition, std::string_view type) {
  Json json = Json::MakeObject();
  json.Set("name", Code(name));
  if (!definition.empty())
    json.Set("definition", Code(definition));
  json.Set("type", Code(type));
  return json;
}

Json OperationEntry(const store::Operation& operation) {
  Json json = Json::MakeObject();
  json.Set("name", Code(operation.Name()));
  json.Set("definition", Code(operation.Definition()));
  return json;
}

// rest.security for SMART Backend Services: the service code and the token endpoint in the
// oauth-uris extension (https://hl7.org/fhir/smart-app-launch/conformance.html).
Json SmartSecurity(const std::string& base_url) {
  Json token = Json::MakeObject();
  token.Set("url", Code("token"));
  token.Set("valueUri", Code(base_url + "/auth/token"));
  Json oauth = Json::MakeObject();
  oauth.Set("url", Code("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"));
  oauth.Set("extension", Json::MakeArray()).PushBack(std::move(token));
  Json coding = Json::MakeObject();
  coding.Set("system", Code("http://terminology.hl7.org/CodeSystem/restful-security-service"));
  coding.Set("code", Code("SMART-on-FHIR"));
  Json service = Json::MakeObject();
  service.Set("coding", Json::MakeArray()).PushBack(std::move(coding));
  Json security = Json::MakeObject();
  security.Set("extension", Json::MakeArray()).PushBack(std::move(oauth));
  security.Set("service", Json::MakeArray()).PushBack(std::move(service));
  security.Set("description",
               Code("SMART Backend Services: client_credentials with a private_key_jwt assertion "
                    "(RS384 or ES384); see /.well-known/smart-configuration"));
  return security;
}

}  // namespace

FhirResponse RestService::Capabilities(const FhirRequest& request) const {
  Json cs = Json::MakeObject();
  cs.Set("resourceType", Code("CapabilityStatement"));
  cs.Set("status", Code("active"));
  cs.Set("date", Code(core::FormatInstant(config_.clock->Now()).substr(0, 10)));
  cs.Set("publisher", Code("medalliance — Guangzhou–Shenzhen medical alliance"));
  cs.Set("kind", Code("instance"));
  Json software = Json::MakeObject();
  software.Set("name", Code("medalliance"));
  software.Set("version", Code(config_.software_version));
  cs.Set("software", std::move(software));
  Json implementation = Json::MakeObject();
  implementation.Set("description", Code("medalliance FHIR R4 exchange server"));
  implementation.Set("url", Code(request.base_url));
  cs.Set("implementation", std::move(implementation));
  cs.Set("fhirVersion", Code("4.0.1"));
  Json formats = Json::MakeArray();
  formats.PushBack(Code("application/fhir+json"));
  formats.PushBack(Code("json"));
  cs.Set("format", std::move(formats));
  Json patch_formats = Json::MakeArray();
  patch_formats.PushBack(Code("application/json-patch+json"));
  patch_formats.PushBack(Code("application/fhir+json"));
  cs.Set("patchFormat", std::move(patch_formats));

  Json rest = Json::MakeObject();
  rest.Set("mode", Code("server"));
  if (config_.smart_on_fhir)
    rest.Set("security", SmartSecurity(request.base_url));
  Json resources = Json::MakeArray();
  for (const std::string& type : config_.resource_types) {
    Json resource = Json::MakeObject();
    resource.Set("type", Code(type));
    Json interactions = Json::MakeArray();
    for (std::string_view code : {"read", "vread", "update", "patch", "delete", "history-instance",
                                  "history-type", "create", "search-type"}) {
      interactions.PushBack(Interaction(code));
    }
    resource.Set("interaction", std::move(interactions));
    resource.Set("versioning", Code("versioned-update"));
    resource.Set("readHistory", Json::MakeBool(true));
    resource.Set("updateCreate", Json::MakeBool(true));
    resource.Set("conditionalCreate", Json::MakeBool(true));
    resource.Set("conditionalRead", Code("modified-since"));
    resource.Set("conditionalUpdate", Json::MakeBool(true));
    resource.Set("conditionalDelete", Code("single"));
    Json params = Json::MakeArray();
    bool linked_param = false;
    for (const fhir::r4::SearchParamDefinition* param : fhir::r4::SearchParams(type)) {
      // Parameters without an expression (_text, _content, _query, _filter) are not supported.
      if (param->expression.empty() && param->code != "_id" && param->code != "_lastUpdated") {
        continue;
      }
      params.PushBack(SearchParam(param->code, param->url, param->type_name));
      // The master patient index's opt-in on patient criteria (linked_search.cc).
      if (config_.linked_patients && (param->code == "patient" || param->code == "subject")) {
        linked_param = true;
      }
    }
    if (linked_param) {
      params.PushBack(SearchParam(
          "_mpi-linked", "https://fhir.medalliance.cn/SearchParameter/mpi-linked", "token"));
    }
    resource.Set("searchParam", std::move(params));
    Json operations = Json::MakeArray();
    for (const store::Operation* operation : config_.operations) {
      std::vector<std::string> types = operation->Types();
      if (std::find(types.begin(), types.end(), type) == types.end())
        continue;
      operations.PushBack(OperationEntry(*operation));
    }
    if (operations.Size() > 0)
      resource.Set("operation", std::move(operations));
    if (type == "Subscription" && !config_.subscription_channels.empty()) {
      std::string channels;
      for (const std::string& channel : config_.subscription_channels)
        channels += (channels.empty() ? "" : ", ") + channel;
      resource.Set("documentation",
                   Code("Criteria-based subscriptions (R4). Channel types: " + channels +
                        ". Criteria: Type?params over token, reference, string, date, number, "
                        "quantity, uri and _id (no chains); at-least-once delivery."));
    }
    resources.PushBack(std::move(resource));
  }
  rest.Set("resource", std::move(resources));
  if (std::find(config_.subscription_channels.begin(), config_.subscription_channels.end(),
                "websocket") != config_.subscription_channels.end()) {
    std::string websocket = request.base_url;
    if (websocket.starts_with("https://")) {
      websocket = "wss://" + websocket.substr(8);
    } else if (websocket.starts_with("http://")) {
      websocket = "ws://" + websocket.substr(7);
    }
    Json extension = Json::MakeObject();
    extension.Set("url",
                  Code("http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket"));
    extension.Set("valueUri", Code(websocket + "/websocket"));
    rest.SetAt(0, "extension", Json::MakeArray()).PushBack(std::move(extension));
  }
  Json system_interactions = Json::MakeArray();
  for (std::string_view code : {"transaction", "batch", "history-system"}) {
    system_interactions.PushBack(Interaction(code));
  }
  rest.Set("interaction", std::move(system_interactions));
  Json system_operations = Json::MakeArray();
  for (const store::Operation* operation : config_.operations) {
    if (operation->System())
      system_operations.PushBack(OperationEntry(*operation));
  }
  if (system_operations.Size() > 0)
    rest.Set("operation", std::move(system_operations));
  cs.Set("rest", Json::MakeArray()).PushBack(std::move(rest));

  FhirResponse response;
  response.body = fhir::WriteJson(cs);
  return response;
}

}  // namespace medalliance::api::rest
