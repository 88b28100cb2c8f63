// A `mqlab` subcommand run as a child process, for tests that go through real sockets and
// signals. The child's stdout+stderr go to a log file; Start waits (polling with a deadline)
// until a line containing the ready marker appears, and takes the first http://… URL on it.
// The destructor kills a child that is still alive (SIGKILL, by its PID).
#ifndef MQLAB_TESTS_SUPPORT_MQLAB_PROCESS_H_
#define MQLAB_TESTS_SUPPORT_MQLAB_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::testing {

class MqlabProcess {
 public:
  // Runs MQLAB_BINARY with `args`; the log goes to `log_path`.
  static Result<std::unique_ptr<MqlabProcess>> Start(
      std::vector<std::string> args, std::filesystem::path log_path,
      std::string ready_marker = "listening on",
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~MqlabProcess();

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for the exit; its code (128 + signal if killed), or nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  MqlabProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_;
  std::string url_;
};

// Runs `mqlab args…` to completion; its exit code and combined output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult RunMqlab(const std::vector<std::string>& args,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace mqlab::testing

#endif  // MQLAB_TESTS_SUPPORT_MQLAB_PROCESS_H_
