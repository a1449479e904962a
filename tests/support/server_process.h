#pragma once
// Runs a server program as a child process for integration tests: fork/exec, wait for the
// line "listening on <host>:<port>" on its stdout, expose the port, signal it and reap it.
// The child's stdout keeps being drained (and kept, see GetOutput) so it never blocks on a
// full pipe; its stderr is inherited. The child gets SIGKILL if the test process dies.
//
// The program must flush stdout after printing the line (stdout to a pipe is fully buffered).
//
// Thread-safety: use from one thread; GetOutput() may be called from any thread.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "core/result.h"

namespace medalliance::test_support {

struct ExitStatus {
  bool exited = false;  // exited normally with `code`
  int code = -1;
  int signal = 0;  // terminating signal when !exited
};

class ServerProcess {
 public:
  // `program` is a path or a name looked up in PATH; `args` excludes argv[0]. For a
  // `serve` command without its own --auth, "--auth none" is appended.
  ServerProcess(std::string program, std::vector<std::string> args);
  // SIGTERM, up to 5 s for the exit, then SIGKILL; always reaps the child.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the child and waits up to `timeout` for the listening line.
  // Errors: kUnavailable when fork/exec fails, the child exits first, or time runs out
  // (the child is then killed); kBadRequest when already started.
  core::Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  uint16_t GetPort() const { return port_; }
  pid_t GetPid() const { return pid_; }
  // Everything the child wrote to stdout so far.
  std::string GetOutput() const;

  // Sends `signal`; false when there is no running child.
  bool Kill(int signal = SIGTERM);
  // Waits up to `timeout` for the child to exit and reaps it.
  // Errors: kUnavailable on timeout or when no child was started.
  core::Result<ExitStatus> Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void StartDrain();
  void StopDrain();

  std::string program_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  ExitStatus exit_status_;
  int stdout_fd_ = -1;
  uint16_t port_ = 0;
  mutable std::mutex output_mutex_;
  std::string output_;
  std::thread drain_;
  bool stop_drain_ = false;  // guarded by output_mutex_
};

}  // namespace medalliance::test_support
