// The whole REST service (RestService::Handle) over an in-memory SQLite store, wired as the
// server wires it (cli::BuildApp: R4 validator, JSON Patch, every resource type).
//
// Input: up to kMaxRequests requests separated by "\n###\n", each written like HTTP/1.1:
//
//   PUT /Patient/p1?_format=json
//   Content-Type: application/fhir+json
//   If-Match: W/"1"
//
//   {"resourceType":"Patient","id":"p1"}
//
// The first line is "<method> <target>"; header lines follow until an empty line; the rest is
// the body. The target is split and decoded with SplitPath / ParseQueryString as the HTTP
// adapter does. Checks after every request: no crash, no exception escaping Handle, a status
// in 200..599, and a body that is empty or a JSON object.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "api/rest/request.h"
#include "api/rest/rest_service.h"
#include "cli/wiring.h"
#include "fhir/json/json.h"
#include "fuzz_util.h"

namespace {

namespace rest = medalliance::api::rest;

constexpr std::string_view kRequestSeparator = "\n###\n";
constexpr size_t kMaxRequests = 12;

std::string_view NextLine(std::string_view& text) {
  size_t newline = text.find('\n');
  std::string_view line = text.substr(0, newline);
  text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// As api/http_adapter.cc MediaType(): media type only, lower case.
std::string MediaType(std::string_view content_type) {
  std::string type(Trim(content_type.substr(0, content_type.find(';'))));
  for (char& c : type) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return type;
}

rest::FhirRequest ParseRequest(std::string_view text) {
  rest::FhirRequest request;
  request.base_url = "http://fuzz.example";
  std::string_view first = NextLine(text);
  size_t space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  if (request.method == "HEAD")
    request.method = "GET";
  std::string_view target =
      space == std::string_view::npos ? std::string_view() : Trim(first.substr(space + 1));
  size_t question = target.find('?');
  rest::SplitPath(target.substr(0, question), request.segments);
  if (question != std::string_view::npos) {
    request.params = rest::ParseQueryString(target.substr(question + 1));
  }
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (line.empty())
      break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    request.headers.items.emplace_back(std::string(Trim(line.substr(0, colon))),
                                       std::string(Trim(line.substr(colon + 1))));
  }
  request.body = std::string(text);
  request.content_type = MediaType(request.headers.Get("Content-Type"));
  return request;
}

// MA_FUZZ_VERBOSE=1 prints every request's status (for writing seeds and reproducers).
bool Verbose() {
  static const bool verbose = std::getenv("MA_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void CheckResponse(const rest::FhirRequest& request, const rest::FhirResponse& response) {
  std::string where = request.method + " request, status " + std::to_string(response.status);
  MA_FUZZ_EXPECT(response.status >= 200 && response.status <= 599, where);
  if (response.body.empty())
    return;
  // Responses echo client bytes (paths, parameter names, headers); WriteJson must still
  // produce UTF-8 (finding F5 in doc/fuzzing.md, fixed).
  MA_FUZZ_EXPECT(medalliance::fuzz::IsValidUtf8(response.body),
                 where + ": body is not UTF-8: " + response.body);
  auto body = medalliance::fhir::ParseJson(response.body);
  MA_FUZZ_EXPECT(body.has_value(), where + ": body is not JSON: " + response.body);
  MA_FUZZ_EXPECT(body->IsObject(), where + ": body is not a JSON object: " + response.body);
  MA_FUZZ_EXPECT(!body->GetStringMember("resourceType").empty(),
                 where + ": body has no resourceType: " + response.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  medalliance::cli::StoreSettings settings;
  settings.db_path = ":memory:";
  auto app = medalliance::cli::BuildApp(settings);
  MA_FUZZ_EXPECT(app.has_value(), app ? "" : app.error().GetMessage());

  for (size_t n = 0; n < kMaxRequests && !input.empty(); ++n) {
    size_t end = input.find(kRequestSeparator);
    std::string_view text = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view()
                                          : input.substr(end + kRequestSeparator.size());
    rest::FhirRequest request = ParseRequest(text);
    rest::FhirResponse response;
    try {
      response = app->service->Handle(request);
    } catch (const std::exception& error) {
      medalliance::fuzz::Fail("exception escaped RestService::Handle", error.what());
    }
    if (Verbose()) {
      std::fprintf(stderr, "%s /%zu segments -> %d %.200s\n", request.method.c_str(),
                   request.segments.size(), response.status, response.body.c_str());
    }
    CheckResponse(request, response);
  }
  return 0;
}
