#pragma once
// Settings from a config file and the environment. The file holds `key = value` lines
// ('#' starts a comment); the environment variable MEDALLIANCE_<KEY> (upper case, '-' and '.'
// as '_') overrides the file; command-line flags override both (the cli applies them).

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace medalliance::core {

class Config {
 public:
  // Errors: kBadRequest naming the file and line of a malformed line; kNotFound when the
  // file does not exist.
  static Result<Config> LoadFile(const std::string& path);

  // The value of `key`: environment first, then the file.
  std::optional<std::string> Get(std::string_view key) const;
  std::string GetOr(std::string_view key, std::string_view fallback) const;
  void Set(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }

  // "MEDALLIANCE_MAX_BODY_BYTES" for "max-body-bytes".
  static std::string EnvironmentName(std::string_view key);

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace medalliance::core
