// Search routes beyond type-level search: compartment search and Patient/$everything.

#include "api/rest/bundle_builder.h"
#include "api/rest/outcome.h"
#include "api/rest/rest_service.h"
#include "core/ids.h"

namespace medalliance::api::rest {

using core::Error;

FhirResponse RestService::CompartmentSearch(const FhirRequest& request,
                                            const std::string& compartment, const std::string& id,
                                            const std::string& type) const {
  if (request.method != "GET" && request.method != "HEAD") {
    FhirResponse response = ErrorResponse(
        Error(core::ErrorCode::kMethodNotAllowed,
              request.method + " is not allowed on " + compartment + "/" + id + "/" + type));
    response.headers.Set("Allow", "GET");
    return response;
  }
  if (compartment != "Patient" && compartment != "Encounter" && compartment != "Practitioner" &&
      compartment != "RelatedPerson" && compartment != "Device") {
    return ErrorResponse(Error::NotFound(compartment + " is not a compartment"));
  }
  search::SearchRequest search_request = MakeSearchRequest(request, type, request.params);
  search_request.compartment = search::Compartment{compartment, id};
  return RunSearch(request, search_request);
}

FhirResponse RestService::PatientEverything(const FhirRequest& request,
                                            const std::string& id) const {
  if (request.method != "GET" && request.method != "HEAD" && request.method != "POST") {
    FhirResponse response = ErrorResponse(Error(core::ErrorCode::kMethodNotAllowed,
                                                request.method + " is not allowed on $everything"));
    response.headers.Set("Allow", "GET, POST");
    return response;
  }
  if (!core::IsValidId(id)) {
    return ErrorResponse(Error::BadRequest("'" + id + "' is not a valid resource id"));
  }
  search::EverythingRequest everything;
  everything.patient_id = id;
  everything.params = request.params;
  everything.strict = PreferStrict(request.headers);
  everything.default_count = config_.default_page_size;
  everything.max_count = config_.max_page_size;
  std::unique_ptr<access::Session> session = MakeSession(request);
  everything.visible = Predicate(session.get());
  search::SearchPage page;
  core::Status status = store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(page, searcher_.Everything(tx, everything));
    return {};
  });
  if (!status)
    return ErrorResponse(status.error());
  if (core::Status audited =
          AuditReads(request, session.get(), "operation", "Patient/" + id + "/$everything");
      !audited) {
    return ErrorResponse(audited.error());
  }
  FhirResponse response;
  response.body = BuildSearchBundle(request.base_url, "Patient", page, config_.clock->Now());
  return response;
}

}  // namespace medalliance::api::rest
