#pragma once
// Helpers shared by the fhir tests.

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "fhir/json/json.h"

namespace medalliance::fhir::test_util {

// The whole file, or "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Parses JSON text the test wrote; a parse failure fails the test and yields null.
inline Json MustParse(std::string_view text) {
  auto parsed = ParseJson(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.has_value() ? std::move(parsed).value() : Json();
}

}  // namespace medalliance::fhir::test_util
