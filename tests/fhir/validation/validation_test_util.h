#pragma once
// Helpers shared by the validation tests: reading test data and summarising issues.

#include <string>
#include <vector>

#include "core/error.h"

namespace medalliance::fhir::validation::testing {

// Whole file; empty string when it cannot be read. `.zst` files are decompressed with zstd.
std::string ReadDataFile(const std::string& path);
// Regular files in `dir` whose name ends with `suffix`, sorted.
std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix);
// Parses and validates `text`; a parse error is returned as one issue with code "structure".
std::vector<core::Issue> ValidateText(const std::string& text);
// "code@expression: diagnostics" per issue, one per line.
std::string Describe(const std::vector<core::Issue>& issues);

}  // namespace medalliance::fhir::validation::testing
