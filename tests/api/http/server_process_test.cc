#include "support/server_process.h"

#include <csignal>

#include <gtest/gtest.h>

namespace medalliance::test_support {
namespace {

TEST(ServerProcessTest, ReadsThePortFromTheListeningLine) {
  ServerProcess process("/bin/sh", {"-c",
                                    "echo starting; echo 'listening on 127.0.0.1:43210';"
                                    " echo after; exec sleep 30"});
  core::Status started = process.Start(std::chrono::seconds(5));
  ASSERT_TRUE(started.has_value()) << started.error().GetMessage();
  EXPECT_EQ(process.GetPort(), 43210);
  EXPECT_GT(process.GetPid(), 0);
  EXPECT_TRUE(process.Kill(SIGTERM));
  auto status = process.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_NE(process.GetOutput().find("starting"), std::string::npos);
  EXPECT_FALSE(process.Kill(SIGTERM));  // already reaped
}

TEST(ServerProcessTest, ReportsTheExitCode) {
  ServerProcess process("sh", {"-c", "echo 'listening on 127.0.0.1:1'; exit 3"});
  ASSERT_TRUE(process.Start().has_value());
  auto status = process.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
}

TEST(ServerProcessTest, FailsWhenTheChildExitsBeforeListening) {
  ServerProcess process("/bin/sh", {"-c", "echo 'cannot open database'; exit 2"});
  core::Status started = process.Start(std::chrono::seconds(5));
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().GetMessage().find("exit code 2"), std::string::npos)
      << started.error().GetMessage();
}

TEST(ServerProcessTest, TimesOutAndKillsASilentChild) {
  ServerProcess process("/bin/sh", {"-c", "exec sleep 30"});
  auto start = std::chrono::steady_clock::now();
  core::Status started = process.Start(std::chrono::milliseconds(200));
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().GetCode(), core::ErrorCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  auto status = process.Wait(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->signal, SIGKILL);
}

TEST(ServerProcessTest, FailsForAMissingProgram) {
  ServerProcess process("/nonexistent/medalliance", {});
  core::Status started = process.Start(std::chrono::seconds(2));
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().GetMessage().find("exec"), std::string::npos);
}

TEST(ServerProcessTest, DestructorTerminatesTheChild) {
  pid_t pid = 0;
  {
    ServerProcess process("/bin/sh", {"-c", "echo 'listening on 127.0.0.1:5'; exec sleep 30"});
    ASSERT_TRUE(process.Start().has_value());
    pid = process.GetPid();
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: no such process
}

}  // namespace
}  // namespace medalliance::test_support
