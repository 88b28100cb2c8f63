// Proc: one mqlab process a chaos run starts (api, worker, serve) and may kill -9.
//
// Unlike study::Child, a Proc can be killed with SIGKILL and reaped at once, after which it holds
// no PID any more, so nothing is ever signalled twice (a reaped PID can be reused by the kernel).
// Start() spawns `binary args…` with stdout+stderr to a log file and waits, polling the log with a
// deadline, for the ready line (every mqlab server prints one with its URL) and takes its first
// http:// URL.
//
// Threading: one thread controls a Proc at a time (the chaos runner's fleet lock).
#ifndef MQLAB_CHAOS_PROC_H_
#define MQLAB_CHAOS_PROC_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::chaos {

struct ProcSpec {
  std::string name;  // "api", "worker-3", "serve-2": also the log file's name
  std::vector<std::string> args;
  std::string ready_marker = "listening on";
};

class Proc {
 public:
  static Result<std::unique_ptr<Proc>> Start(const std::filesystem::path& binary,
                                             const ProcSpec& spec,
                                             const std::filesystem::path& logs_dir,
                                             std::chrono::milliseconds timeout);
  ~Proc();  // Terminate(5 s) if still running

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // SIGKILL and reap. No-op when not running.
  void Kill9();
  // SIGTERM, SIGKILL after `grace`; reaped. Returns the exit code (128 + signal), 0 if not running.
  int Terminate(std::chrono::milliseconds grace);
  // SIGSTOP / SIGCONT (a frozen worker reads nothing, so a backlog builds). No-op when not running.
  void Pause();
  void Resume();

 private:
  Proc() = default;
  std::string name_, url_;
  pid_t pid_ = -1;
};

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_PROC_H_
