#include "fhir/json/json.h"

#include <algorithm>

namespace medalliance::fhir {

Json Json::MakeBool(bool value) {
  Json json;
  json.data_ = value;
  return json;
}

Json Json::MakeNumber(std::string text) {
  Json json;
  json.data_ = NumberText{std::move(text)};
  return json;
}

Json Json::MakeNumber(int64_t value) {
  return MakeNumber(std::to_string(value));
}

Json Json::MakeString(std::string value) {
  Json json;
  json.data_ = std::move(value);
  return json;
}

Json Json::MakeArray() {
  Json json;
  json.data_ = Array{};
  return json;
}

Json Json::MakeObject() {
  Json json;
  json.data_ = Object{};
  return json;
}

const std::string& Json::GetString() const {
  if (const auto* number = std::get_if<NumberText>(&data_))
    return number->text;
  return std::get<std::string>(data_);
}

bool Json::GetInt64(int64_t* out) const {
  const auto* number = std::get_if<NumberText>(&data_);
  if (number == nullptr)
    return false;
  const std::string& text = number->text;
  if (text.empty() || text.find_first_of(".eE") != std::string::npos)
    return false;
  size_t i = text[0] == '-' ? 1 : 0;
  if (text.size() - i > 18)
    return false;
  int64_t value = 0;
  for (; i < text.size(); ++i) value = value * 10 + (text[i] - '0');
  *out = text[0] == '-' ? -value : value;
  return true;
}

size_t Json::Size() const {
  if (const auto* array = std::get_if<Array>(&data_))
    return array->size();
  if (const auto* object = std::get_if<Object>(&data_))
    return object->size();
  return 0;
}

const Json* Json::Find(std::string_view key) const {
  const auto* object = std::get_if<Object>(&data_);
  if (object == nullptr)
    return nullptr;
  for (const Member& member : *object) {
    if (member.first == key)
      return &member.second;
  }
  return nullptr;
}

Json* Json::Find(std::string_view key) {
  return const_cast<Json*>(static_cast<const Json*>(this)->Find(key));
}

std::string_view Json::GetStringMember(std::string_view key) const {
  const Json* member = Find(key);
  if (member == nullptr || !member->IsString())
    return {};
  return member->GetString();
}

Json& Json::Set(std::string_view key, Json value) {
  if (IsNull())
    data_ = Object{};
  if (Json* existing = Find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  Object& object = Members();
  object.emplace_back(std::string(key), std::move(value));
  return object.back().second;
}

Json& Json::SetAt(size_t position, std::string_view key, Json value) {
  if (IsNull())
    data_ = Object{};
  if (Json* existing = Find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  Object& object = Members();
  position = std::min(position, object.size());
  auto it = object.emplace(object.begin() + static_cast<std::ptrdiff_t>(position), std::string(key),
                           std::move(value));
  return it->second;
}

bool Json::Erase(std::string_view key) {
  auto* object = std::get_if<Object>(&data_);
  if (object == nullptr)
    return false;
  auto it = std::find_if(object->begin(), object->end(),
                         [&](const Member& member) { return member.first == key; });
  if (it == object->end())
    return false;
  object->erase(it);
  return true;
}

Json& Json::PushBack(Json value) {
  if (IsNull())
    data_ = Array{};
  Array& array = Items();
  array.push_back(std::move(value));
  return array.back();
}

bool operator==(const Json& a, const Json& b) {
  return a.data_ == b.data_;
}

bool IsJsonNumber(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  auto digit = [&](size_t at) { return at < n && text[at] >= '0' && text[at] <= '9'; };
  if (i < n && text[i] == '-')
    ++i;
  if (!digit(i))
    return false;
  if (text[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && text[i] == '.') {
    ++i;
    if (!digit(i))
      return false;
    while (digit(i)) ++i;
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-'))
      ++i;
    if (!digit(i))
      return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

}  // namespace medalliance::fhir
