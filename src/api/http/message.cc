#include "api/http/message.h"

#include <algorithm>

namespace medalliance::api::http {

namespace {

char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i]))
      return false;
  }
  return true;
}

std::string_view Headers::Get(std::string_view name) const {
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(field.first, name))
      return field.second;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [name](const Field& field) { return EqualsIgnoreCase(field.first, name); });
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(field.first, name))
      values.emplace_back(field.second);
  }
  return values;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  fields_.emplace_back(std::move(name), std::move(value));
}

size_t Headers::Remove(std::string_view name) {
  auto removed = std::remove_if(fields_.begin(), fields_.end(), [name](const Field& field) {
    return EqualsIgnoreCase(field.first, name);
  });
  size_t count = static_cast<size_t>(fields_.end() - removed);
  fields_.erase(removed, fields_.end());
  return count;
}

}  // namespace medalliance::api::http
