#pragma once
// SMART on FHIR scopes, v1 and v2 syntax
// (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
//   v1: <context>/<type>.read | .write | .*      v2: <context>/<type>.<cruds subset in order>
// where context is system, user or patient and type a resource type or "*". v1 read means
// read + search, write means create + update + delete. Scopes with a query ("?category=...")
// and patient-context scopes are not supported: they are never granted (so they fail closed).
//
// Thread-safety: values.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medalliance::auth {

enum class Interaction : uint8_t {
  kCreate = 1,
  kRead = 2,  // read, vread, instance history
  kUpdate = 4,
  kDelete = 8,
  kSearch = 16,  // search, type and system history
};

std::string_view InteractionName(Interaction interaction);  // "create", "read", ...

struct Scope {
  std::string context;      // "system" or "user"
  std::string type;         // resource type or "*"
  uint8_t permissions = 0;  // Interaction bits

  bool Allows(std::string_view resource_type, Interaction interaction) const;
  // v2 text: "system/Observation.rs".
  std::string ToString() const;
};

// nullopt for anything that is not a supported resource scope.
std::optional<Scope> ParseScope(std::string_view text);

// Splits a space-separated scope string.
std::vector<std::string> SplitScopes(std::string_view text);
std::string JoinScopes(const std::vector<std::string>& scopes);

class ScopeSet {
 public:
  ScopeSet() = default;
  explicit ScopeSet(const std::vector<std::string>& scopes);

  // True when some scope allows `interaction` on `resource_type` ("*" asks for every type).
  bool Allows(std::string_view resource_type, Interaction interaction) const;
  bool empty() const { return scopes_.empty(); }

 private:
  std::vector<Scope> scopes_;
};

// What a client receives: each requested scope narrowed to what the registered scopes allow
// (same context; type and permissions intersected). A requested scope kept whole keeps its
// text; a narrowed one is written in v2 syntax. Unsupported or empty results are dropped.
std::vector<std::string> GrantScopes(const std::vector<std::string>& requested,
                                     const std::vector<std::string>& registered);

// The scope a refusal names, e.g. "system/Observation.s (v1: system/Observation.read)".
std::string DescribeNeededScope(std::string_view context, std::string_view resource_type,
                                Interaction interaction);

}  // namespace medalliance::auth
