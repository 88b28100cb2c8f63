// Child: one process the study starts (mqlab api, worker, serve, ocr-server), by its own PID.
//
// Start() spawns `binary args…` with stdout+stderr to a log file and waits (polling the log with
// a deadline) for the ready line — every mqlab server prints one line containing its URL when it
// is ready ("… listening on http://…", "… metrics on http://…") — and takes the first http:// URL
// on it. Sample() reads the process's CPU time and resident memory from /proc. Stop() is SIGTERM,
// then SIGKILL after the grace period; the destructor stops a child still running.
//
// Threading: one controlling thread per Child; Sample() may run on a sampler thread.
#ifndef MQLAB_STUDY_CHILD_H_
#define MQLAB_STUDY_CHILD_H_

#include <sys/types.h>

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
  pid_t pid() const { return pid_; }
  ProcSample Sample() const;
  // SIGTERM, then SIGKILL after `grace`. Returns the exit code (128 + signal if killed).
  int Stop(std::chrono::milliseconds grace);

 private:
  Child() = default;
  std::string name_;
  std::string url_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

// The running binary (/proc/self/exe), to start more of ourselves.
std::filesystem::path SelfBinary();

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_CHILD_H_
