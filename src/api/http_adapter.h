#pragma once
// Connects the HTTP server to the FHIR REST service: content negotiation (_format, Accept,
// Content-Type), _pretty, the base URL, /healthz, and OperationOutcome bodies for errors the
// HTTP layer itself detects.

#include <string>

#include "api/auth/gate.h"
#include "api/http/server.h"
#include "api/rest/rest_service.h"

namespace medalliance::api {

struct AdapterOptions {
  // The public base URL (e.g. "https://fhir.medalliance.cn/r4"); empty: "http://<Host>".
  std::string base_url;
  // The security gate (SMART endpoints, tokens, scopes, rate); nullptr: none. Not owned.
  const SecurityGate* security = nullptr;
  // The scheme of a base URL taken from the Host header: "https" when serving TLS.
  std::string scheme = "http";
};

// The handler to give http::Server. `service` must outlive it.
http::Handler MakeFhirHandler(const rest::RestService& service, AdapterOptions options);

// Builds an OperationOutcome response for HTTP-level errors (413, 400, 503, 500).
http::Response MakeHttpErrorResponse(int status, std::string message);

// Converts an HTTP request into a FHIR request (exposed for tests).
rest::FhirRequest ToFhirRequest(const http::Request& request, const std::string& base_url);

}  // namespace medalliance::api
