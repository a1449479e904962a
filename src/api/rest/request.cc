#include "api/rest/request.h"

#include <strings.h>

namespace medalliance::api::rest {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const store::Caller& FhirRequest::GetCaller() const {
  static const store::Caller kNobody;
  return caller != nullptr ? *caller : kNobody;
}

store::Caller& FhirRequest::MutableCaller() {
  auto own = std::make_shared<store::Caller>(GetCaller());
  store::Caller& mutable_caller = *own;
  caller = std::move(own);
  return mutable_caller;
}

std::string_view HeaderList::Get(std::string_view name) const {
  for (const auto& [key, value] : items) {
    if (EqualsIgnoreCase(key, name))
      return value;
  }
  return {};
}

bool HeaderList::Has(std::string_view name) const {
  for (const auto& item : items) {
    if (EqualsIgnoreCase(item.first, name))
      return true;
  }
  return false;
}

void HeaderList::Set(std::string name, std::string value) {
  for (auto& item : items) {
    if (EqualsIgnoreCase(item.first, name)) {
      item.second = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> FhirRequest::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name)
      return std::string_view(value);
  }
  return std::nullopt;
}

bool PreferStrict(const HeaderList& headers) {
  return headers.Get("Prefer").find("handling=strict") != std::string_view::npos;
}

}  // namespace medalliance::api::rest
