#include "core/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace medalliance::core {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<Config> Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return Error::NotFound("config file '" + path + "' cannot be read");
  Config config;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = line;
    if (size_t hash = text.find('#'); hash != std::string_view::npos)
      text = text.substr(0, hash);
    text = Trim(text);
    if (text.empty())
      continue;
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || Trim(text.substr(0, eq)).empty()) {
      return Error::BadRequest(path + ":" + std::to_string(number) + ": expected 'key = value'");
    }
    std::string_view value = Trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    config.values_[std::string(Trim(text.substr(0, eq)))] = std::string(value);
  }
  return config;
}

std::string Config::EnvironmentName(std::string_view key) {
  std::string name = "MEDALLIANCE_";
  for (char c : key) {
    name.push_back(c == '-' || c == '.'
                       ? '_'
                       : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return name;
}

std::optional<std::string> Config::Get(std::string_view key) const {
  if (const char* env = std::getenv(EnvironmentName(key).c_str()); env != nullptr) {
    return std::string(env);
  }
  auto it = values_.find(key);
  if (it == values_.end())
    return std::nullopt;
  return it->second;
}

std::string Config::GetOr(std::string_view key, std::string_view fallback) const {
  std::optional<std::string> value = Get(key);
  return value.has_value() ? *value : std::string(fallback);
}

}  // namespace medalliance::core
