#include "auth/scopes.h"

#include <algorithm>

namespace medalliance::auth {

namespace {

constexpr std::string_view kLetters = "cruds";
constexpr uint8_t kAll = 31;
constexpr uint8_t kV1Read =
    static_cast<uint8_t>(Interaction::kRead) | static_cast<uint8_t>(Interaction::kSearch);
constexpr uint8_t kV1Write = static_cast<uint8_t>(Interaction::kCreate) |
                             static_cast<uint8_t>(Interaction::kUpdate) |
                             static_cast<uint8_t>(Interaction::kDelete);

bool IsTypeName(std::string_view type) {
  if (type == "*")
    return true;
  if (type.empty() || type.front() < 'A' || type.front() > 'Z')
    return false;
  return std::all_of(type.begin(), type.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

// v2 permissions: a non-empty subset of c, r, u, d, s in that order.
std::optional<uint8_t> ParseV2(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  uint8_t bits = 0;
  size_t next = 0;
  for (char c : text) {
    size_t at = kLetters.find(c, next);
    if (at == std::string_view::npos)
      return std::nullopt;
    bits = static_cast<uint8_t>(bits | (1u << at));
    next = at + 1;
  }
  return bits;
}

}  // namespace

std::string_view InteractionName(Interaction interaction) {
  switch (interaction) {
    case Interaction::kCreate:
      return "create";
    case Interaction::kRead:
      return "read";
    case Interaction::kUpdate:
      return "update";
    case Interaction::kDelete:
      return "delete";
    case Interaction::kSearch:
      return "search";
  }
  return "?";
}

bool Scope::Allows(std::string_view resource_type, Interaction interaction) const {
  if ((permissions & static_cast<uint8_t>(interaction)) == 0)
    return false;
  return type == "*" || type == resource_type;
}

std::string Scope::ToString() const {
  std::string letters;
  for (size_t i = 0; i < kLetters.size(); ++i) {
    if ((permissions & (1u << i)) != 0)
      letters += kLetters[i];
  }
  return context + "/" + type + "." + letters;
}

std::optional<Scope> ParseScope(std::string_view text) {
  size_t slash = text.find('/');
  size_t dot = text.rfind('.');
  if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash)
    return std::nullopt;
  Scope scope;
  scope.context = std::string(text.substr(0, slash));
  if (scope.context != "system" && scope.context != "user")
    return std::nullopt;
  std::string_view type = text.substr(slash + 1, dot - slash - 1);
  if (!IsTypeName(type))
    return std::nullopt;
  scope.type = std::string(type);
  std::string_view permissions = text.substr(dot + 1);
  if (permissions == "read") {
    scope.permissions = kV1Read;
  } else if (permissions == "write") {
    scope.permissions = kV1Write;
  } else if (permissions == "*") {
    scope.permissions = kAll;
  } else {
    std::optional<uint8_t> bits = ParseV2(permissions);  // a '?' query fails here
    if (!bits)
      return std::nullopt;
    scope.permissions = *bits;
  }
  return scope;
}

std::vector<std::string> SplitScopes(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(" \t", start);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > start) {
      std::string scope(text.substr(start, end - start));
      if (std::find(out.begin(), out.end(), scope) == out.end())
        out.push_back(std::move(scope));
    }
    start = end + 1;
  }
  return out;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& scope : scopes) {
    if (!out.empty())
      out += ' ';
    out += scope;
  }
  return out;
}

ScopeSet::ScopeSet(const std::vector<std::string>& scopes) {
  for (const std::string& text : scopes) {
    if (std::optional<Scope> scope = ParseScope(text))
      scopes_.push_back(std::move(*scope));
  }
}

bool ScopeSet::Allows(std::string_view resource_type, Interaction interaction) const {
  return std::any_of(scopes_.begin(), scopes_.end(),
                     [&](const Scope& scope) { return scope.Allows(resource_type, interaction); });
}

std::vector<std::string> GrantScopes(const std::vector<std::string>& requested,
                                     const std::vector<std::string>& registered) {
  std::vector<Scope> allowed;
  for (const std::string& text : registered) {
    if (std::optional<Scope> scope = ParseScope(text))
      allowed.push_back(std::move(*scope));
  }
  std::vector<std::string> granted;
  auto add = [&granted](std::string text) {
    if (std::find(granted.begin(), granted.end(), text) == granted.end())
      granted.push_back(std::move(text));
  };
  for (const std::string& text : requested) {
    std::optional<Scope> wanted = ParseScope(text);
    if (!wanted)
      continue;
    for (const Scope& limit : allowed) {
      if (limit.context != wanted->context)
        continue;
      if (limit.type != "*" && wanted->type != "*" && limit.type != wanted->type)
        continue;
      Scope result;
      result.context = wanted->context;
      result.type = wanted->type == "*" ? limit.type : wanted->type;
      result.permissions = static_cast<uint8_t>(wanted->permissions & limit.permissions);
      if (result.permissions == 0)
        continue;
      if (result.type == wanted->type && result.permissions == wanted->permissions) {
        add(text);
        break;  // the whole requested scope is granted
      }
      add(result.ToString());
    }
  }
  return granted;
}

std::string DescribeNeededScope(std::string_view context, std::string_view resource_type,
                                Interaction interaction) {
  Scope scope;
  scope.context = std::string(context);
  scope.type = std::string(resource_type);
  scope.permissions = static_cast<uint8_t>(interaction);
  bool reading = interaction == Interaction::kRead || interaction == Interaction::kSearch;
  return scope.ToString() + " (v1: " + scope.context + "/" + scope.type +
         (reading ? ".read" : ".write") + ")";
}

}  // namespace medalliance::auth
