#include "fhir/validation/validation_test_util.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fhir/json/json.h"
#include "fhir/validation/validator.h"

namespace medalliance::fhir::validation::testing {

std::string ReadDataFile(const std::string& path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".zst") {
    std::string command = "zstd -dc '" + path + "'";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr)
      return {};
    std::string out;
    char buffer[65536];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<core::Issue> ValidateText(const std::string& text) {
  core::Result<Json> parsed = ParseJson(text);
  if (!parsed.has_value()) {
    core::Issue issue;
    issue.code = "structure";
    issue.diagnostics = "JSON parse error: " + parsed.error().GetMessage();
    return {issue};
  }
  return CollectIssues(parsed.value());
}

std::string Describe(const std::vector<core::Issue>& issues) {
  std::string out;
  for (const core::Issue& issue : issues) {
    out += issue.code + "@" + issue.expression + ": " + issue.diagnostics + "\n";
  }
  return out;
}

}  // namespace medalliance::fhir::validation::testing
