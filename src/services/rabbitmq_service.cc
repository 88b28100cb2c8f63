#include "services/rabbitmq_service.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "services/file_lock.h"
#include "services/process.h"
#include "services/rabbitmq_node.h"

namespace mqlab::services {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Polling interval while the node boots (~5 s): adds nothing visible.
constexpr milliseconds kReadyPoll{100};
// One `rabbitmqctl await_startup` once the port is open; it returns as soon as the boot is over.
constexpr milliseconds kAwaitTimeout{60000};
constexpr milliseconds kEpmdReadyTimeout{10000};

using State = RabbitMqState;
using Paths = RabbitMqPaths;

// The NUL-separated entries of /proc/PID/<file> (cmdline or environ), empty if unreadable.
std::vector<std::string> ProcEntries(int pid, const char* file) {
  std::ifstream in(fmt::format("/proc/{}/{}", pid, file), std::ios::binary);
  std::vector<std::string> entries;
  for (std::string e; std::getline(in, e, '\0');) entries.push_back(e);
  return entries;
}

bool HasArgPair(const std::vector<std::string>& args, std::string_view flag,
                std::string_view value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag && args[i + 1] == value) return true;
  }
  return false;
}

// True if `pid` is this folder's node: its environment has our HOME (true at every step of the
// exec chain env → sh → erl → erlexec → beam.smp), or it is the VM with our `-home` argument.
bool IsNodeOf(const Paths& paths, int pid) {
  if (!IsAlive(pid)) return false;
  const std::string home = fmt::format("HOME={}", paths.home.string());
  auto env = ProcEntries(pid, "environ");
  if (std::find(env.begin(), env.end(), home) != env.end()) return true;
  return HasArgPair(ProcEntries(pid, "cmdline"), "-home", paths.home.string());
}

bool IsEpmdOn(int pid, int port) {
  if (!IsAlive(pid)) return false;
  auto args = ProcEntries(pid, "cmdline");
  return !args.empty() && args[0].find("epmd") != std::string::npos &&
         HasArgPair(args, "-port", std::to_string(port));
}

// True if 127.0.0.1:port accepts a TCP connection within `timeout`.
bool Accepting(int port, milliseconds timeout = milliseconds(500)) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    ok = poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  close(fd);
  return ok;
}

std::string NodeLog(const Paths& paths, const State& s) {
  const fs::path log = paths.log_dir / fmt::format("{}.log", s.nodename);
  return fmt::format("{} ends with:\n{}{} ends with:\n{}", log.string(), TailOfFile(log),
                     paths.console_log.string(), TailOfFile(paths.console_log));
}

// Signals `pid` with `sig` and waits; SIGKILL if it outlives `timeout`. False if it survives.
bool Terminate(int pid, int sig, milliseconds timeout) {
  kill(pid, sig);
  if (WaitGone(pid, timeout)) return true;
  kill(pid, SIGKILL);
  return WaitGone(pid, milliseconds(10000));
}

// Three distinct ports (AMQP, distribution, epmd), each the remembered one when it is free.
Result<std::array<int, 3>> PickPorts(const Paths& paths, int attempt) {
  std::array<int, 3> ports{};
  const char* files[] = {"port", "dist_port", "epmd_port"};
  for (int i = 0; i < 3; ++i) {
    for (int tries = attempt;; ++tries) {
      auto p = PickPort(paths.root / files[i], tries);
      if (!p) return std::unexpected(p.error());
      if (std::find(ports.begin(), ports.begin() + i, *p) == ports.begin() + i) {
        ports[i] = *p;
        break;
      }
      if (tries > attempt + 10) return Unavailable("cannot find three distinct free ports");
    }
  }
  return ports;
}

}  // namespace

RabbitMqService::RabbitMqService(RabbitMqServiceOptions options) : options_(std::move(options)) {}

std::string RabbitMqService::UrlForPort(int port) {
  return fmt::format("amqp://guest:guest@127.0.0.1:{}/", port);
}

int RabbitMqService::EpmdPid(const fs::path& runtime_dir) {
  auto s = ReadRabbitMqState(Paths(runtime_dir).state);
  return s ? s->epmd_pid : 0;
}

Result<fs::path> RabbitMqService::SbinDir() const {
  if (!options_.sbin_dir.empty()) return options_.sbin_dir;
  const fs::path base = "/usr/lib/rabbitmq/lib";
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    if (entry.path().filename().string().starts_with("rabbitmq_server-") &&
        fs::exists(entry.path() / "sbin" / "rabbitmq-server")) {
      found.push_back(entry.path() / "sbin");
    }
  }
  if (found.empty()) {
    return FailedPrecondition(
        "no RabbitMQ under /usr/lib/rabbitmq/lib/rabbitmq_server-<version>/sbin: install it "
        "(apt-get install rabbitmq-server) or set the service's sbin_dir");
  }
  // Newest version last in version order ("3.10.8" > "3.9.2": compare numerically).
  auto version = [](const fs::path& sbin) {
    std::string v = sbin.parent_path().filename().string().substr(16);
    std::vector<int> parts;
    std::stringstream ss(v);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(std::atoi(p.c_str()));
    return parts;
  };
  return *std::max_element(found.begin(), found.end(), [&](const fs::path& a, const fs::path& b) {
    return version(a) < version(b);
  });
}

Result<ServiceStatus> RabbitMqService::GetStatus(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  auto state = ReadRabbitMqState(paths.state);
  if (!state) return ServiceStatus{.detail = "not started"};
  if (!IsNodeOf(paths, state->pid)) {
    return ServiceStatus{
        .detail = fmt::format("stale record: pid {} is not running this node", state->pid)};
  }
  ServiceStatus s{.pid = state->pid, .port = state->port};
  s.running = Accepting(state->port);
  s.url = s.running ? state->url : "";
  s.detail = s.running ? fmt::format("running, pid {} (epmd pid {}), node {}", s.pid,
                                     state->epmd_pid, state->nodename)
                       : fmt::format("pid {} is not accepting connections", s.pid);
  return s;
}

Status RabbitMqService::WaitReady(const Paths& paths, const fs::path& sbin, const State& s) {
  const auto deadline = SteadyClock::now() + options_.start_timeout;
  while (SteadyClock::now() < deadline) {
    // Alive is enough: the PID is ours (spawned by this call, or found by IsNodeOf in Start).
    // Its identity cannot be checked yet: it may still be `env`, before the exec chain.
    if (ReapIfExited(s.pid) || !IsAlive(s.pid)) {
      return Unavailable(
          fmt::format("the RabbitMQ node exited during start-up; {}", NodeLog(paths, s)));
    }
    if (Accepting(s.port)) {
      // The listener is up; the CLI confirms that the whole boot is over.
      auto code =
          RunToExit({.argv = RabbitMqCommand(
                         paths, s, false,
                         {(sbin / "rabbitmqctl").string(), "-n", s.nodename, "await_startup",
                          "--timeout", std::to_string(kAwaitTimeout.count() / 1000)}),
                     .output = paths.root / "rabbitmqctl.log",
                     .new_session = false},
                    kAwaitTimeout + milliseconds(10000));
      if (code && *code == 0) return Ok();
    }
    std::this_thread::sleep_for(kReadyPoll);
  }
  return DeadlineExceeded(fmt::format("the RabbitMQ node was not ready within {} ms; {}",
                                      options_.start_timeout.count(), NodeLog(paths, s)));
}

Result<State> RabbitMqService::NewState(const Paths& paths, int attempt) {
  auto ports = PickPorts(paths, attempt);
  if (!ports) return std::unexpected(ports.error());
  State s;
  s.port = (*ports)[0];
  s.dist_port = (*ports)[1];
  s.epmd_port = (*ports)[2];
  s.url = UrlForPort(s.port);
  std::ifstream in(paths.nodename);
  std::getline(in, s.nodename);
  if (s.nodename.empty()) {  // first start: named after its first port, kept forever after
    s.nodename = fmt::format("mqlab-{}@localhost", s.port);
    if (auto w = WriteFileAtomically(paths.nodename, fmt::format("{}\n", s.nodename)); !w) {
      return std::unexpected(w.error());
    }
  }
  return s;
}

Result<int> RabbitMqService::StartEpmd(const Paths& paths, int port) {
  auto pid = Spawn(
      {.argv = {options_.epmd.string(), "-port", std::to_string(port), "-address", "127.0.0.1"},
       .cwd = paths.root,
       .output = paths.epmd_log});
  if (!pid) return std::unexpected(pid.error());
  const auto deadline = SteadyClock::now() + kEpmdReadyTimeout;
  while (IsAlive(*pid) && !ReapIfExited(*pid) && !Accepting(port) &&
         SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (IsEpmdOn(*pid, port) && Accepting(port)) return *pid;
  Terminate(*pid, SIGTERM, milliseconds(2000));
  return Unavailable(fmt::format("epmd did not start on port {}; {} ends with:\n{}", port,
                                 paths.epmd_log.string(), TailOfFile(paths.epmd_log)));
}

Result<State> RabbitMqService::Launch(const Paths& paths, const fs::path& sbin) {
  // A port picked free can be taken before the server binds it: then try fresh ones.
  for (int attempt = 1;; ++attempt) {
    auto s = NewState(paths, attempt);
    if (!s) return s;
    auto epmd = StartEpmd(paths, s->epmd_port);
    if (!epmd) {
      if (attempt < 3) continue;  // most likely its port was taken meanwhile
      return std::unexpected(epmd.error());
    }
    s->epmd_pid = *epmd;
    auto node =
        Spawn({.argv = RabbitMqCommand(paths, *s, true, {(sbin / "rabbitmq-server").string()}),
               .cwd = paths.root,
               .output = paths.console_log});
    if (!node) {
      Terminate(s->epmd_pid, SIGTERM, milliseconds(2000));
      return std::unexpected(node.error());
    }
    s->pid = *node;
    // Recorded before waiting, so that `down` can stop both even if this process dies now.
    Status ready = WriteRabbitMqState(paths.state, *s);
    if (ready) ready = WaitReady(paths, sbin, *s);
    if (ready) {
      RememberPort(paths.root / "port", s->port);
      RememberPort(paths.root / "dist_port", s->dist_port);
      RememberPort(paths.root / "epmd_port", s->epmd_port);
      return s;
    }
    (void)Kill(paths, *s, /*spawned_here=*/true);
    std::error_code ec;
    fs::remove(paths.state, ec);
    const std::string& log = ready.error().message;
    const bool port_taken = log.find("eaddrinuse") != std::string::npos ||
                            log.find("address already in use") != std::string::npos;
    if (!port_taken || attempt == 3) return std::unexpected(ready.error());
  }
}

Status RabbitMqService::Kill(const Paths& paths, const State& s, bool spawned_here) {
  Status result = Ok();
  const bool ours = spawned_here ? IsAlive(s.pid) : IsNodeOf(paths, s.pid);
  if (ours && !Terminate(s.pid, SIGTERM, options_.stop_timeout)) {
    result =
        Unavailable(fmt::format("RabbitMQ pid {} ({}) did not stop", s.pid, paths.root.string()));
  }
  ReapIfExited(s.pid);
  const bool epmd = spawned_here ? IsAlive(s.epmd_pid) : IsEpmdOn(s.epmd_pid, s.epmd_port);
  if (epmd && !Terminate(s.epmd_pid, SIGTERM, milliseconds(5000))) {
    if (result) result = Unavailable(fmt::format("epmd pid {} did not stop", s.epmd_pid));
  }
  ReapIfExited(s.epmd_pid);
  return result;
}

Result<std::string> RabbitMqService::Start(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.root, ec);
  if (ec)
    return Unavailable(fmt::format("cannot create {}: {}", paths.root.string(), ec.message()));
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto sbin = SbinDir();
  if (!sbin) return std::unexpected(sbin.error());

  if (auto state = ReadRabbitMqState(paths.state)) {
    if (IsNodeOf(paths, state->pid)) {
      // Ours and alive: running, or still booting (another `up` started it): wait for it.
      if (auto ready = WaitReady(paths, *sbin, *state); !ready)
        return std::unexpected(ready.error());
      return state->url;
    }
    (void)Kill(paths, *state, false);  // a stale record: the node died; its epmd may live on
    fs::remove(paths.state, ec);
  }
  if (auto s = PrepareRabbitMqFolder(paths); !s) return std::unexpected(s.error());
  auto state = Launch(paths, *sbin);
  if (!state) return std::unexpected(state.error());
  return state->url;
}

Status RabbitMqService::Stop(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  if (!fs::exists(paths.root)) return Ok();
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto state = ReadRabbitMqState(paths.state);
  if (state) {
    if (auto s = Kill(paths, *state, false); !s) return s;
  }
  std::error_code ec;
  fs::remove(paths.state, ec);
  return Ok();
}

}  // namespace mqlab::services
