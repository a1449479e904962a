#include "api/http_adapter.h"

#include <cctype>

#include "api/rest/outcome.h"
#include "fhir/json/json.h"

namespace medalliance::api {

using core::Error;
using core::ErrorCode;

namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return Lower(type);
}

bool IsJsonFormat(std::string_view format) {
  std::string type = MediaType(format);
  return type == "json" || type == "application/json" || type == "application/fhir+json" ||
         type == "text/json";
}

bool IsXmlFormat(std::string_view format) {
  std::string type = MediaType(format);
  return type == "xml" || type == "application/xml" || type == "application/fhir+xml" ||
         type == "text/xml";
}

// True when the Accept header admits JSON (or anything).
bool AcceptsJson(std::string_view accept) {
  if (accept.empty())
    return true;
  size_t start = 0;
  while (start <= accept.size()) {
    size_t comma = accept.find(',', start);
    std::string_view item = accept.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::string type = MediaType(item);
    if (type == "*/*" || type == "application/*" || IsJsonFormat(type) || type == "text/html" ||
        type == "text/*") {
      return true;
    }
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return false;
}

http::Response FromFhir(rest::FhirResponse response, bool pretty) {
  http::Response out;
  out.status = response.status;
  for (auto& [name, value] : response.headers.items) out.headers.Set(name, value);
  if (pretty && !response.body.empty()) {
    auto parsed = fhir::ParseJson(response.body);
    if (parsed)
      response.body = fhir::WriteJson(*parsed, {.pretty = true});
  }
  out.body = std::move(response.body);
  if (!out.body.empty() && !out.headers.Has("Content-Type")) {
    out.headers.Set("Content-Type", "application/fhir+json; charset=utf-8");
  }
  return out;
}

http::Response ErrorOf(const Error& error) {
  return FromFhir(rest::ErrorResponse(error), false);
}

}  // namespace

rest::FhirRequest ToFhirRequest(const http::Request& request, const std::string& base_url) {
  rest::FhirRequest out;
  out.method = request.method == "HEAD" ? "GET" : request.method;
  std::string_view target = request.target;
  std::string_view raw_path = target.substr(0, target.find('?'));
  rest::SplitPath(raw_path, out.segments);
  out.params = rest::ParseQueryString(request.query);
  for (const auto& [name, value] : request.headers) out.headers.items.emplace_back(name, value);
  out.body = request.body;
  out.base_url = base_url;
  out.content_type = MediaType(request.headers.Get("Content-Type"));
  return out;
}

http::Response MakeHttpErrorResponse(int status, std::string message) {
  ErrorCode code = ErrorCode::kBadRequest;
  switch (status) {
    case 413:
      code = ErrorCode::kPayloadTooLarge;
      break;
    case 503:
      code = ErrorCode::kUnavailable;
      break;
    case 500:
      code = ErrorCode::kInternal;
      break;
    case 429:
      code = ErrorCode::kTooManyRequests;
      break;
    default:
      code = ErrorCode::kBadRequest;
  }
  http::Response response = ErrorOf(Error(code, std::move(message)));
  response.status = status;
  return response;
}

http::Handler MakeFhirHandler(const rest::RestService& service, AdapterOptions options) {
  return [&service, options = std::move(options)](http::Request& request) -> http::Response {
    if (request.path == "/healthz") {
      http::Response response;
      response.headers.Set("Content-Type", "application/json");
      response.body = R"({"status":"ok"})";
      return response;
    }
    std::string base_url = options.base_url;
    if (base_url.empty())
      base_url = options.scheme + "://" + std::string(request.headers.Get("Host"));
    if (options.security != nullptr) {
      if (auto answered = options.security->HandleEndpoint(request, base_url))
        return std::move(*answered);
    }
    rest::FhirRequest fhir_request = ToFhirRequest(request, base_url);

    bool pretty = false;
    std::optional<std::string> format;
    for (auto it = fhir_request.params.begin(); it != fhir_request.params.end();) {
      if (it->first == "_pretty") {
        pretty = it->second == "true";
        it = fhir_request.params.erase(it);
      } else if (it->first == "_format") {
        format = it->second;
        it = fhir_request.params.erase(it);
      } else {
        ++it;
      }
    }
    if (format.has_value() && !IsJsonFormat(*format)) {
      return ErrorOf(Error(ErrorCode::kNotAcceptable,
                           IsXmlFormat(*format) ? "this server speaks FHIR JSON only; _format=" +
                                                      *format + " is not supported"
                                                : "unknown _format '" + *format + "'",
                           "_format"));
    }
    if (!format.has_value() && !AcceptsJson(request.headers.Get("Accept"))) {
      return ErrorOf(Error(ErrorCode::kNotAcceptable,
                           "this server answers application/fhir+json only; Accept: " +
                               std::string(request.headers.Get("Accept"))));
    }
    const std::string& method = fhir_request.method;
    if ((method == "POST" || method == "PUT" || method == "PATCH") &&
        !fhir_request.content_type.empty()) {
      const std::string& type = fhir_request.content_type;
      bool ok = IsJsonFormat(type) ||
                (method == "PATCH" && type == "application/json-patch+json") ||
                (method == "POST" && type == "application/x-www-form-urlencoded");
      if (!ok) {
        return ErrorOf(Error(ErrorCode::kUnsupportedMediaType,
                             "unsupported Content-Type '" + type + "': send application/fhir+json" +
                                 (method == "PATCH" ? " or application/json-patch+json" : "")));
      }
    }
    if (options.security != nullptr) {
      if (auto refused = options.security->Admit(request, fhir_request))
        return FromFhir(std::move(*refused), pretty);
    }
    return FromFhir(service.Handle(fhir_request), pretty);
  };
}

}  // namespace medalliance::api
