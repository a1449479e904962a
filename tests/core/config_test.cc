#include "core/config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <stdlib.h>

namespace medalliance::core {
namespace {

std::filesystem::path WriteFile(const std::string& name, const std::string& text) {
  std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ReadsKeyValueLinesWithCommentsAndQuotes) {
  auto path =
      WriteFile("ma-config-test.conf",
                "# medalliance\nlisten = 127.0.0.1:9090\n\ndb = \"var/x.db\"  # trailing\n");
  Config config = Config::LoadFile(path.string()).value();
  EXPECT_EQ(config.Get("listen"), "127.0.0.1:9090");
  EXPECT_EQ(config.Get("db"), "var/x.db");
  EXPECT_FALSE(config.Get("threads").has_value());
  EXPECT_EQ(config.GetOr("threads", "4"), "4");
}

TEST(ConfigTest, EnvironmentOverridesTheFile) {
  auto path = WriteFile("ma-config-env.conf", "max-body-bytes = 100\n");
  Config config = Config::LoadFile(path.string()).value();
  ASSERT_EQ(Config::EnvironmentName("max-body-bytes"), "MEDALLIANCE_MAX_BODY_BYTES");
  setenv("MEDALLIANCE_MAX_BODY_BYTES", "200", 1);
  EXPECT_EQ(config.Get("max-body-bytes"), "200");
  unsetenv("MEDALLIANCE_MAX_BODY_BYTES");
  EXPECT_EQ(config.Get("max-body-bytes"), "100");
}

TEST(ConfigTest, MalformedLinesAndMissingFilesAreErrors) {
  auto path = WriteFile("ma-config-bad.conf", "listen 127.0.0.1\n");
  Result<Config> bad = Config::LoadFile(path.string());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().GetMessage().find(":1:"), std::string::npos);
  EXPECT_EQ(Config::LoadFile("/nonexistent/medalliance.conf").error().GetCode(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace medalliance::core
