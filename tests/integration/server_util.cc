#include "integration/server_util.h"

#include <array>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace medalliance::integration {

TempDir::TempDir() {
  std::random_device device;
  path_ = std::filesystem::temp_directory_path() /
          ("medalliance-test-" + std::to_string(device()) + std::to_string(device()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

TestServer::TestServer(const std::filesystem::path& db, std::vector<std::string> extra) {
  std::vector<std::string> args = {"serve", "--listen",  "127.0.0.1:0",
                                   "--db",  db.string(), "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<test_support::ServerProcess>(MA_BINARY, args);
  auto started = process_->Start(std::chrono::seconds(30));
  if (!started)
    ADD_FAILURE() << "server did not start: " << started.error().GetMessage();
}

Json ParseBody(const Response& response) {
  Json json = Json::parse(response.body, nullptr, false);
  return json;
}

int RunProgram(const std::vector<std::string>& args, std::string* output) {
  std::string command = std::string(MA_BINARY);
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return -1;
  std::array<char, 4096> buffer{};
  output->clear();
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace medalliance::integration
