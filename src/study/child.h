// Child: one process the study or a chaos run starts (mqlab api, worker, serve, ocr-server), by
// its own PID.
//
// Start() spawns `binary args…` in a session of its own (a Ctrl-C aimed at mqlab reaches mqlab,
// which stops its children in order) with stdout+stderr to a log file and waits (polling the log
// with a deadline) for the ready line — every mqlab server prints one line containing its URL when
// it is ready ("… listening on http://…", "… metrics on http://…") — and takes the first http://
// URL on it. Sample() reads the process's CPU time and resident memory from /proc. Stop() is
// SIGTERM, then SIGKILL after the grace period; Kill9() is SIGKILL at once (chaos). Both reap the
// process, after which the Child holds no PID any more, so nothing is ever signalled twice (a
// reaped PID can be reused by the kernel). The destructor stops a child still running.
//
// Threading: one controlling thread per Child; Sample() may run on a sampler thread.
#ifndef MQLAB_STUDY_CHILD_H_
#define MQLAB_STUDY_CHILD_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::study {

struct ChildSpec {
  std::string name;               // "api", "worker-0", "ocr-1", …
  std::vector<std::string> args;  // after the binary: {"api", "--listen", …}
  std::string ready_marker = "listening on";
};

struct ProcSample {
  double cpu_seconds = 0;  // user + system
  double rss_mb = 0;
  bool alive = false;
};

class Child {
 public:
  static Result<std::unique_ptr<Child>> Start(const std::filesystem::path& binary,
                                              const ChildSpec& spec,
                                              const std::filesystem::path& log_path,
                                              std::chrono::milliseconds timeout);
  ~Child();

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }  // -1 once reaped
  bool running() const { return pid_ > 0; }
  ProcSample Sample() const;  // all zero once reaped
  // SIGTERM (after SIGCONT, a paused process cannot act on it), then SIGKILL after `grace`;
  // reaped. Returns the exit code (128 + signal if killed), 0 when not running.
  int Stop(std::chrono::milliseconds grace);
  // SIGKILL and reap. No-op when not running.
  void Kill9();
  // SIGSTOP / SIGCONT (a frozen worker reads nothing, so a backlog builds). No-op when not running.
  void Pause();
  void Resume();

 private:
  Child() = default;
  std::string name_;
  std::string url_;
  std::atomic<pid_t> pid_ = -1;
};

// The running binary (/proc/self/exe), to start more of ourselves.
std::filesystem::path SelfBinary();

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_CHILD_H_
