#include "services/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace mqlab::services {
namespace {

// Polling interval while waiting for a process: short enough to add no visible latency to
// `services down`, long enough to cost nothing.
constexpr auto kPoll = std::chrono::milliseconds(20);

int ExitCode(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

[[noreturn]] void ChildFail(int pipe_fd) {
  int err = errno;
  ssize_t ignored = write(pipe_fd, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

}  // namespace

Result<std::optional<RunAs>> UnprivilegedUserIfRoot(const std::string& name) {
  if (geteuid() != 0) return std::optional<RunAs>();
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    return FailedPrecondition(fmt::format(
        "running as root, and the server refuses root; there is no '{}' user to run it as: "
        "install the server's Debian package (it creates the user) or run as a normal user",
        name));
  }
  return std::optional<RunAs>(RunAs{name, pw.pw_uid, pw.pw_gid});
}

Result<pid_t> Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("spawn: empty argument vector");
  // Everything the child needs is prepared here: after fork it may only make system calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string cwd = spec.cwd.string();
  const std::string out_path = spec.output.empty() ? "/dev/null" : spec.output.string();
  Fd in(open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd out(open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (in.get() < 0 || out.get() < 0) {
    return Unavailable(fmt::format("spawn {}: cannot open {}: {}", spec.argv[0], out_path,
                                   std::strerror(errno)));
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Internal(fmt::format("spawn: pipe: {}", std::strerror(errno)));
  }
  Fd pipe_read(pipe_fds[0]);
  Fd pipe_write(pipe_fds[1]);

  pid_t pid = fork();
  if (pid < 0) return Unavailable(fmt::format("spawn: fork: {}", std::strerror(errno)));
  if (pid == 0) {
    // The child: async-signal-safe calls only. Descriptors the parent left inheritable are
    // marked close-on-exec, so the server keeps none of our sockets.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    // Ignored signals and the signal mask survive exec: give the server the defaults (a caller
    // that blocks SIGINT for its own sigwait must not make the server deaf to it).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (spec.new_session && setsid() < 0) ChildFail(pipe_fds[1]);
    if (dup2(in.get(), 0) < 0 || dup2(out.get(), 1) < 0 || dup2(out.get(), 2) < 0) {
      ChildFail(pipe_fds[1]);
    }
    if (spec.run_as) {
      gid_t gid = spec.run_as->gid;
      if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(spec.run_as->uid) != 0) {
        ChildFail(pipe_fds[1]);
      }
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) ChildFail(pipe_fds[1]);
    execv(argv[0], argv.data());
    ChildFail(pipe_fds[1]);
  }
  // The parent: the pipe closes on a successful exec (EOF), or carries the child's errno.
  pipe_write.Close();
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(pipe_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int wstatus;
    waitpid(pid, &wstatus, 0);
    return Unavailable(fmt::format("cannot start {}{}: {}", spec.argv[0],
                                   spec.run_as ? " as user " + spec.run_as->name : "",
                                   std::strerror(child_errno)));
  }
  return pid;
}

Result<int> RunToExit(const ProcessSpec& spec, std::chrono::milliseconds timeout) {
  auto pid = Spawn(spec);
  if (!pid) return std::unexpected(pid.error());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto code = ReapIfExited(*pid)) return *code;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(*pid, SIGKILL);
      WaitGone(*pid, std::chrono::seconds(5));
      return DeadlineExceeded(fmt::format("{} did not finish within {} ms, killed", spec.argv[0],
                                          timeout.count()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

std::optional<int> ReapIfExited(pid_t pid) {
  int wstatus = 0;
  pid_t r;
  do {
    r = waitpid(pid, &wstatus, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) return ExitCode(wstatus);
  return std::nullopt;
}

bool IsAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ReapIfExited(pid) || !IsAlive(pid)) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

namespace {

// The lowest of the kernel's source ports for outgoing connections (and for bind to port 0).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 32768;
  return in >> lo && lo > 0 ? lo : 32768;
}

}  // namespace

Result<int> FreeLoopbackPort() {
  // Below the ephemeral range when there is room: a server's port there can be taken by any
  // outgoing connection's source port the moment the server stops, and a restarted server would
  // lose its URL (seen in CI: a Redis killed and restarted 0.1 s later, while parallel tests made
  // connections). Random candidates, so that parallel launchers rarely try the same one.
  const int first = 10000, last = std::min(EphemeralLow() - 1, 32767);
  if (last - first >= 1000) {
    static thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(first, last);
    for (int i = 0; i < 50; ++i) {
      const int port = pick(rng);
      if (IsLoopbackPortFree(port)) return port;
    }
  }
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return Unavailable(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Unavailable(fmt::format("no free port on 127.0.0.1: {}", std::strerror(errno)));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

bool IsLoopbackPortFree(int port) {
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return false;
  int one = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // ignore TIME_WAIT leftovers
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

std::string TailOfFile(const std::filesystem::path& path, int max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

ReadyWait WaitReady(pid_t pid, const std::filesystem::path& log_path, std::string_view marker,
                    std::chrono::milliseconds timeout) {
  static const std::regex kUrl(R"((http://[^ \)\n]+))");
  ReadyWait r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log_path);
    std::stringstream ss;
    ss << in.rdbuf();
    r.log = ss.str();
    const size_t at = r.log.find(marker);
    if (at != std::string::npos) {
      const std::string line = r.log.substr(at, r.log.find('\n', at) - at);
      std::smatch m;
      if (std::regex_search(line, m, kUrl)) r.url = m[1];
      r.outcome = ReadyWait::Outcome::kReady;
      return r;
    }
    if (auto code = ReapIfExited(pid)) {
      r.outcome = ReadyWait::Outcome::kExited;
      r.exit_code = *code;
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return r;
}

Result<int> PickPort(const std::filesystem::path& port_file, int attempt) {
  if (attempt == 1) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0 && port < 65536) {
      // The last run's port, so that a restarted server keeps its URL. Just after a server was
      // killed the port can stay busy for a moment (a child it forked, e.g. Redis' AOF rewrite,
      // still holds the socket): wait for it a little before giving it up.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      for (;;) {
        if (IsLoopbackPortFree(port)) return port;
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  return FreeLoopbackPort();
}

void RememberPort(const std::filesystem::path& port_file, int port) {
  std::ofstream(port_file, std::ios::trunc) << port << "\n";
}

}  // namespace mqlab::services
