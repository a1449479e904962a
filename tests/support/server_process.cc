#include "support/server_process.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace medalliance::test_support {

namespace {

constexpr std::string_view kListening = "listening on ";

// Port of a "listening on <host>:<port>" line, or 0.
uint16_t ParseListeningLine(std::string_view line) {
  size_t at = line.find(kListening);
  if (at == std::string_view::npos)
    return 0;
  std::string_view address = line.substr(at + kListening.size());
  while (!address.empty() && (address.back() == '\r' || address.back() == ' ')) {
    address.remove_suffix(1);
  }
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return 0;
  std::string_view digits = address.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

ExitStatus Decode(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace

ServerProcess::ServerProcess(std::string program, std::vector<std::string> args)
    : program_(std::move(program)), args_(std::move(args)) {
  // Authentication is on by default; tests of other features run without it unless they
  // ask for it with their own --auth.
  if (!args_.empty() && args_[0] == "serve" &&
      std::find(args_.begin(), args_.end(), "--auth") == args_.end()) {
    args_.emplace_back("--auth");
    args_.emplace_back("none");
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    Kill(SIGTERM);
    if (!Wait(std::chrono::seconds(5)).has_value()) {
      Kill(SIGKILL);
      (void)Wait(std::chrono::seconds(5));
    }
  }
  StopDrain();
  if (stdout_fd_ >= 0)
    close(stdout_fd_);
}

core::Status ServerProcess::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0)
    return core::Error::BadRequest("process already started");
  int out_pipe[2];
  int exec_pipe[2];  // reports an exec failure; closed by a successful exec (CLOEXEC)
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return core::Error::Unavailable(std::string("pipe: ") + std::strerror(errno));
  }
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return core::Error::Unavailable(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  argv.push_back(program_.data());
  for (std::string& arg : args_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    for (int fd : {out_pipe[0], out_pipe[1], exec_pipe[0], exec_pipe[1]}) close(fd);
    return core::Error::Unavailable(std::string("fork: ") + std::strerror(saved));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    dup2(out_pipe[1], STDOUT_FILENO);
    execvp(argv[0], argv.data());
    int error = errno;
    ssize_t ignored = write(exec_pipe[1], &error, sizeof(error));
    (void)ignored;
    _exit(127);
  }
  pid_ = pid;
  close(out_pipe[1]);
  close(exec_pipe[1]);
  stdout_fd_ = out_pipe[0];

  int exec_error = 0;
  ssize_t got = read(exec_pipe[0], &exec_error, sizeof(exec_error));
  close(exec_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(exec_error))) {
    (void)Wait(std::chrono::seconds(5));
    return core::Error::Unavailable("exec " + program_ + ": " + std::strerror(exec_error));
  }

  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string pending;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      Kill(SIGKILL);
      (void)Wait(std::chrono::seconds(5));
      return core::Error::Unavailable("no 'listening on' line from " + program_ + " within " +
                                      std::to_string(timeout.count()) + " ms");
    }
    pollfd poll_fd{stdout_fd_, POLLIN, 0};
    int ready = poll(&poll_fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      continue;
    char chunk[4096];
    ssize_t bytes = read(stdout_fd_, chunk, sizeof(chunk));
    if (bytes < 0 && errno == EINTR)
      continue;
    if (bytes <= 0) {
      core::Result<ExitStatus> status = Wait(std::chrono::seconds(5));
      std::string how = status.has_value()
                            ? (status->exited ? "exit code " + std::to_string(status->code)
                                              : "signal " + std::to_string(status->signal))
                            : "closed stdout";
      return core::Error::Unavailable(program_ + " ended before listening (" + how + ")");
    }
    {
      std::lock_guard lock(output_mutex_);
      output_.append(chunk, static_cast<size_t>(bytes));
    }
    pending.append(chunk, static_cast<size_t>(bytes));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      uint16_t port = ParseListeningLine(std::string_view(pending).substr(0, newline));
      pending.erase(0, newline + 1);
      if (port != 0) {
        port_ = port;
        StartDrain();
        return core::Ok{};
      }
    }
  }
}

void ServerProcess::StartDrain() {
  drain_ = std::thread([this] {
    char chunk[4096];
    for (;;) {
      {
        std::lock_guard lock(output_mutex_);
        if (stop_drain_)
          return;
      }
      pollfd poll_fd{stdout_fd_, POLLIN, 0};
      int ready = poll(&poll_fd, 1, 50);
      if (ready <= 0)
        continue;
      ssize_t bytes = read(stdout_fd_, chunk, sizeof(chunk));
      if (bytes < 0 && errno == EINTR)
        continue;
      if (bytes <= 0)
        return;
      std::lock_guard lock(output_mutex_);
      output_.append(chunk, static_cast<size_t>(bytes));
    }
  });
}

void ServerProcess::StopDrain() {
  if (!drain_.joinable())
    return;
  {
    std::lock_guard lock(output_mutex_);
    stop_drain_ = true;
  }
  drain_.join();
}

std::string ServerProcess::GetOutput() const {
  std::lock_guard lock(output_mutex_);
  return output_;
}

bool ServerProcess::Kill(int signal) {
  if (pid_ <= 0 || reaped_)
    return false;
  return kill(pid_, signal) == 0;
}

core::Result<ExitStatus> ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return core::Error::Unavailable("no process started");
  if (reaped_)
    return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      exit_status_ = Decode(status);
      return exit_status_;
    }
    if (done < 0 && errno != EINTR) {
      return core::Error::Unavailable(std::string("waitpid: ") + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return core::Error::Unavailable("process " + std::to_string(pid_) + " still running");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace medalliance::test_support
