#pragma once
// A running `medalliance serve` on a temporary database, plus JSON helpers for its answers.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.h"
#include "support/server_process.h"

namespace medalliance::integration {

using Json = nlohmann::ordered_json;
using test_support::Headers;
using test_support::HttpClient;
using test_support::Response;

// A fresh temporary folder, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class TestServer {
 public:
  // Starts `medalliance serve --listen 127.0.0.1:0 --db <db> --quiet <extra...>`.
  explicit TestServer(const std::filesystem::path& db, std::vector<std::string> extra = {});
  uint16_t Port() const { return process_->GetPort(); }
  test_support::ServerProcess& Process() { return *process_; }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(Port()); }

 private:
  std::unique_ptr<test_support::ServerProcess> process_;
};

Json ParseBody(const Response& response);
// Runs the medalliance program with args; returns the exit code, stdout+stderr in *output.
int RunProgram(const std::vector<std::string>& args, std::string* output);

inline Headers FhirJson() {
  return {{"Content-Type", "application/fhir+json"}};
}

}  // namespace medalliance::integration
