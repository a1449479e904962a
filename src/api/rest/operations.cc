// RestService::InvokeOperation: FHIR operations ($name) registered by domain modules, at
// system ([base]/$op), type ([base]/Type/$op) and instance ([base]/Type/id/$op) level.

#include <algorithm>

#include "api/rest/outcome.h"
#include "api/rest/rest_service.h"

namespace medalliance::api::rest {

using core::Error;
using fhir::Json;

namespace {

// GET [base]/$op?a=1&b=2 -> Parameters with valueString parameters.
Json ParametersFromQuery(const QueryParams& params) {
  Json parameters = Json::MakeObject();
  parameters.Set("resourceType", Json::MakeString("Parameters"));
  Json list = Json::MakeArray();
  for (const auto& [name, value] : params) {
    Json parameter = Json::MakeObject();
    parameter.Set("name", Json::MakeString(name));
    parameter.Set("valueString", Json::MakeString(value));
    list.PushBack(std::move(parameter));
  }
  if (list.Size() > 0)
    parameters.Set("parameter", std::move(list));
  return parameters;
}

}  // namespace

FhirResponse RestService::InvokeOperation(const FhirRequest& request, const std::string& type,
                                          const std::string& id, const std::string& name) const {
  store::Operation* operation = nullptr;
  for (store::Operation* candidate : config_.operations) {
    if (candidate->Name() != name)
      continue;
    std::vector<std::string> types = candidate->Types();
    bool type_matches = std::find(types.begin(), types.end(), type) != types.end();
    bool level_ok = type.empty() ? candidate->System()
                                 : (type_matches && (id.empty() || candidate->Instance()));
    if (level_ok) {
      operation = candidate;
      break;
    }
  }
  std::string where = type.empty() ? "the system" : id.empty() ? type : type + "/" + id;
  if (operation == nullptr) {
    return ErrorResponse(Error(core::ErrorCode::kNotFound,
                               "operation $" + name + " is not supported on " + where, "",
                               "not-supported"));
  }
  std::unique_ptr<access::Session> session = MakeSession(request);
  if (session != nullptr && !id.empty()) {
    // An instance the caller may not see does not exist for it.
    bool visible = false;
    core::Status checked = store_.Read([&](store::ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(type, id));
      visible = false;
      if (current.has_value() && !current->deleted) {
        MA_ASSIGN_OR_RETURN(visible, session->Visible(tx, *current));
      }
      return {};
    });
    if (!checked)
      return ErrorResponse(checked.error());
    if (!visible)
      return ErrorResponse(Error::NotFound(type + "/" + id + " is not known"));
  }
  store::OperationRequest call;
  call.type = type;
  call.id = id;
  call.caller = &request.GetCaller();
  call.writer = &writer_;
  if (session != nullptr)
    call.visible = Predicate(session.get());
  call.base_url = request.base_url;
  call.is_get = request.method == "GET";
  if (call.is_get) {
    if (operation->AffectsState()) {
      FhirResponse response = ErrorResponse(
          Error(core::ErrorCode::kMethodNotAllowed, "$" + name + " changes data: use POST"));
      response.headers.Set("Allow", "POST");
      return response;
    }
    call.parameters = ParametersFromQuery(request.params);
  } else if (request.method == "POST") {
    if (request.body.empty()) {
      call.parameters = ParametersFromQuery(request.params);
    } else {
      core::Result<Json> body = fhir::ParseJson(request.body);
      if (!body)
        return ErrorResponse(body.error());
      if (!body->IsObject())
        return ErrorResponse(Error::BadRequest("the body is not a resource"));
      if (body->GetStringMember("resourceType") == "Parameters") {
        call.parameters = std::move(*body);
      } else {
        // A single resource body stands for a parameter named "resource".
        call.parameters = Json::MakeObject();
        call.parameters.Set("resourceType", Json::MakeString("Parameters"));
        Json parameter = Json::MakeObject();
        parameter.Set("name", Json::MakeString("resource"));
        parameter.Set("resource", std::move(*body));
        call.parameters.Set("parameter", Json::MakeArray()).PushBack(std::move(parameter));
      }
      if (auto status = Validate(call.parameters); !status)
        return ErrorResponse(status.error());
    }
  } else {
    FhirResponse response = ErrorResponse(
        Error(core::ErrorCode::kMethodNotAllowed, request.method + " is not allowed on $" + name));
    response.headers.Set("Allow", operation->AffectsState() ? "POST" : "GET, POST");
    return response;
  }
  core::Result<store::OperationResponse> result = operation->Invoke(store_, call);
  if (!result)
    return ErrorResponse(result.error());
  if (operation->AffectsState() && config_.audit != nullptr) {
    // The invocation itself is audited (its writes, made through call.writer, are audited
    // one by one by the write hooks).
    audit::AuditRecord record;
    record.category = audit::AuditRecord::Category::kRest;
    record.subtype = "operation";
    record.action = "E";
    record.recorded = config_.clock->Now();
    record.caller = request.GetCaller();
    if (!id.empty())
      record.entities = {type + "/" + id};
    record.query = "$" + name;
    config_.audit->Record(std::move(record));
  }
  bool has_body = !result->body.IsNull() || !result->body_text.empty();
  if (session != nullptr && has_body) {
    // body_text embeds no resource (store::OperationResponse): nothing to filter.
    if (!result->body.IsNull()) {
      if (core::Status filtered = FilterOperationResult(*session, result->body); !filtered)
        return ErrorResponse(filtered.error());
    }
    if (core::Status audited = AuditReads(request, session.get(), "operation", "$" + name);
        !audited) {
      return ErrorResponse(audited.error());
    }
  }
  FhirResponse response;
  response.status = result->status;
  if (!result->body.IsNull())
    response.body = fhir::WriteJson(result->body);
  else
    response.body = std::move(result->body_text);
  return response;
}

}  // namespace medalliance::api::rest
