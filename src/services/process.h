// Child processes for the service launcher: started from argument vectors (fork/exec, never a
// shell), optionally as another user, and stopped by their own PID only.
//
// Threading: the functions are thread-safe; Spawn forks the calling process, so the child runs
// only async-signal-safe calls between fork and exec (everything is prepared before the fork).
#ifndef MQLAB_SERVICES_PROCESS_H_
#define MQLAB_SERVICES_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::services {

// An unprivileged user to run a server as.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// nullopt when not running as root (servers then run as the current user); else the named user,
// or kFailedPrecondition if it does not exist.
Result<std::optional<RunAs>> UnprivilegedUserIfRoot(const std::string& name);

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  // Working directory of the child. Default: empty, the parent's.
  std::filesystem::path cwd;
  // File that receives stdout and stderr (appended, created 0644). Default: empty, /dev/null.
  std::filesystem::path output;
  // User to run as (the parent must be root). Default: none, the parent's user.
  std::optional<RunAs> run_as;
  // setsid(): the child leaves the caller's session and process group, so a Ctrl-C aimed at the
  // caller does not reach it. Default: true (servers outlive `mqlab services up`).
  bool new_session = true;
};

// Starts the process; returns its PID once exec succeeded (an exec failure is reported here,
// with its errno, not as a mysterious exit later).
Result<pid_t> Spawn(const ProcessSpec& spec);

// Runs the process to its end. Returns its exit code (128 + signal if killed). On timeout it is
// killed (SIGKILL, by its PID) and kDeadlineExceeded returned.
Result<int> RunToExit(const ProcessSpec& spec, std::chrono::milliseconds timeout);

// If `pid` is our child and has exited, reaps it and returns its exit code (128 + signal).
std::optional<int> ReapIfExited(pid_t pid);

// True while `pid` exists and is not a zombie.
bool IsAlive(pid_t pid);

// Waits until `pid` is gone (reaping it when it is our child). False on timeout.
bool WaitGone(pid_t pid, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice; it can be taken
// before use, so callers retry on "address in use").
Result<int> FreeLoopbackPort();
// True if 127.0.0.1:port can be bound now.
bool IsLoopbackPortFree(int port);

// The port a service should bind: the one remembered in `port_file` (from an earlier start in the
// same runtime folder) if it is free, so that a restarted server keeps its URL and clients
// reconnect to it; else a fresh free one. `attempt` > 1 (the previous pick was taken) always
// gives a fresh one. RememberPort records the choice once the server is up.
Result<int> PickPort(const std::filesystem::path& port_file, int attempt = 1);
void RememberPort(const std::filesystem::path& port_file, int port);

// The last `max_lines` lines of a text file ("" if unreadable), for error messages.
std::string TailOfFile(const std::filesystem::path& path, int max_lines = 15);

// What WaitReady saw first: the ready line, the process's exit (reaped), or neither in time.
struct ReadyWait {
  enum class Outcome { kReady, kExited, kTimedOut };
  Outcome outcome = Outcome::kTimedOut;
  std::string url;    // kReady: the first http:// URL on the ready line ("" if it has none)
  int exit_code = 0;  // kExited: as ReapIfExited
  std::string log;    // the log as last read
};
// Polls `log_path` every 10 ms, up to `timeout`, for a line containing `marker` (every mqlab
// server prints one with its URL when it is ready: "… listening on http://…"), and reaps `pid`
// if it exits first. For the study's children, the tests' and the benchmarks' servers.
ReadyWait WaitReady(pid_t pid, const std::filesystem::path& log_path, std::string_view marker,
                    std::chrono::milliseconds timeout);

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_PROCESS_H_
