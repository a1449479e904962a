#pragma once
// The FHIR view of an HTTP exchange: what the REST layer reads and answers, with no HTTP
// library types. api/http_adapter.cc converts to and from the wire.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/hooks.h"

namespace medalliance::api::rest {

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in order

struct HeaderList {
  std::vector<std::pair<std::string, std::string>> items;
  // Case-insensitive; the first match or empty.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  void Set(std::string name, std::string value);
};

struct FhirRequest {
  std::string method;                 // GET, POST, PUT, PATCH, DELETE, HEAD
  std::vector<std::string> segments;  // decoded path segments after the base, e.g. {"Patient","1"}
  QueryParams params;
  HeaderList headers;
  std::string body;
  std::string base_url;      // e.g. "http://127.0.0.1:8080", no trailing slash
  std::string content_type;  // media type only, lower case, no parameters
  // Who is calling, filled by the security layer: shared with the token cache's entry, so a
  // request does not copy the caller (its strings and vectors); unset means no authenticated
  // caller (GetCaller answers an empty one).
  std::shared_ptr<const store::Caller> caller;

  const store::Caller& GetCaller() const;
  // This request's own copy to change (the break-glass reason; tests), made on first use.
  store::Caller& MutableCaller();
  void SetCaller(store::Caller value) {
    caller = std::make_shared<const store::Caller>(std::move(value));
  }

  std::optional<std::string_view> Param(std::string_view name) const;
};

struct FhirResponse {
  int status = 200;
  HeaderList headers;
  std::string body;  // JSON text (compact); empty for no body
};

// True when the request asks for strict handling (Prefer: handling=strict).
bool PreferStrict(const HeaderList& headers);

// Splits a raw URL path ("/Patient/a%2Fb/_history") into percent-decoded segments.
void SplitPath(std::string_view raw_path, std::vector<std::string>& segments);

}  // namespace medalliance::api::rest
