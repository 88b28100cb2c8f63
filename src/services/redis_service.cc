#include "services/redis_service.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "services/file_lock.h"
#include "services/process.h"
#include "services/state_file.h"

namespace mqlab::services {

namespace fs = std::filesystem;

struct RedisService::Paths {
  fs::path root;  // RUNTIME_DIR/redis, absolute
  fs::path data, log, state, port, lock;

  explicit Paths(const fs::path& runtime_dir)
      : root(fs::weakly_canonical(fs::absolute(runtime_dir)) / "redis"),
        data(root / "data"),
        log(root / "server.log"),
        state(root / "state.json"),
        port(root / "port"),
        lock(root / "lock") {}
};

namespace {

// Polling interval while the server starts: it answers PING ~15 ms after exec.
constexpr auto kReadyPoll = std::chrono::milliseconds(10);

using State = ServerState;



// True if `pid` is a live redis-server working in this folder: its current directory is our
// data/ (the server chdirs to --dir at start; before that, it is the root we spawned it in). So a
// stranger reusing a dead server's PID, another folder's redis included, is never taken for ours.
bool IsOurServer(const RedisService::Paths& paths, int pid) {
  if (!IsAlive(pid)) return false;
  std::ifstream comm(fmt::format("/proc/{}/comm", pid));
  std::string name;
  if (!std::getline(comm, name) || name != "redis-server") return false;
  std::error_code ec;
  const fs::path cwd = fs::read_symlink(fmt::format("/proc/{}/cwd", pid), ec);
  return !ec && (cwd == paths.data || cwd == paths.root);
}

// PING answered with PONG (not -LOADING while the AOF is replayed, not refused).
bool Answers(int port) {
  timeval tv{0, 500000};
  std::unique_ptr<redisContext, decltype(&redisFree)> c(
      redisConnectWithTimeout("127.0.0.1", port, tv), redisFree);
  if (!c || c->err != 0 || redisSetTimeout(c.get(), tv) != REDIS_OK) return false;
  std::unique_ptr<redisReply, decltype(&freeReplyObject)> r(
      static_cast<redisReply*>(redisCommand(c.get(), "PING")), freeReplyObject);
  return r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "PONG";
}


}  // namespace

RedisService::RedisService(RedisServiceOptions options) : options_(std::move(options)) {}

std::string RedisService::UrlForPort(int port) {
  return fmt::format("redis://127.0.0.1:{}/0", port);
}

ServiceStatus RedisService::Inspect(const Paths& paths) {
  auto state = ReadServerState(paths.state);
  if (!state) return {.detail = "not started"};
  if (!IsOurServer(paths, state->pid)) {
    return {.detail = fmt::format("stale record: pid {} is not this folder's redis", state->pid)};
  }
  ServiceStatus s{.pid = state->pid, .port = state->port};
  s.running = Answers(state->port);
  s.url = s.running ? state->url : "";
  s.detail = s.running ? fmt::format("running, pid {}", s.pid)
                       : fmt::format("pid {} does not answer PING", s.pid);
  return s;
}

Result<ServiceStatus> RedisService::GetStatus(const fs::path& runtime_dir) {
  return Inspect(Paths(runtime_dir));
}

std::vector<std::string> RedisService::Argv(const Paths& paths, int port) const {
  // --logfile "": log to stdout, i.e. server.log. --save "": no RDB snapshots.
  std::vector<std::string> argv = {options_.binary.string(), "--port", std::to_string(port)};
  argv.insert(argv.end(),
              {"--bind", "127.0.0.1", "--daemonize", "no", "--dir", paths.data.string()});
  argv.insert(argv.end(), {"--logfile", "", "--save", "", "--always-show-logo", "no"});
  if (options_.durable) {
    argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", options_.appendfsync});
  } else {
    argv.insert(argv.end(), {"--appendonly", "no"});
  }
  for (const auto& [name, value] : options_.settings) {
    argv.push_back("--" + name);
    argv.push_back(value);
  }
  return argv;
}

Result<std::string> RedisService::Launch(const Paths& paths) {
  // A port picked free can be taken before the server binds it: then try another.
  for (int attempt = 1;; ++attempt) {
    auto port = PickPort(paths.port, attempt);
    if (!port) return std::unexpected(port.error());
    auto pid = Spawn({.argv = Argv(paths, *port), .cwd = paths.root, .output = paths.log});
    if (!pid) return std::unexpected(pid.error());
    State state{*pid, *port, UrlForPort(*port)};
    // Recorded before waiting, so that `down` can stop it even if this process dies now.
    if (auto s = WriteServerState(paths.state, state); !s) {
      (void)StopByPid(*pid, "redis", paths.root, options_.stop_timeout);
      return std::unexpected(s.error());
    }
    auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::optional<int> exit_code;
    while (!(exit_code = ReapIfExited(*pid)) && IsAlive(*pid)) {
      if (Answers(*port)) {
        RememberPort(paths.port, *port);
        return state.url;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(kReadyPoll);
    }
    std::error_code ec;
    if (!exit_code && IsAlive(*pid)) {  // hung in start-up: stop exactly it
      (void)StopByPid(*pid, "redis", paths.root, options_.stop_timeout);
      fs::remove(paths.state, ec);
      return DeadlineExceeded(
          fmt::format("redis did not answer PING within {} ms; {} ends with:\n{}",
                      options_.start_timeout.count(), paths.log.string(), TailOfFile(paths.log)));
    }
    fs::remove(paths.state, ec);
    std::string tail = TailOfFile(paths.log);
    bool port_taken = tail.find("Address already in use") != std::string::npos;
    if (!port_taken || attempt == 3) {
      return Unavailable(fmt::format("redis exited during start-up (code {}); {} ends with:\n{}",
                                     exit_code.value_or(-1), paths.log.string(), tail));
    }
  }
}

Result<std::string> RedisService::Start(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.data, ec);
  if (ec)
    return Unavailable(fmt::format("cannot create {}: {}", paths.data.string(), ec.message()));
  if (!fs::exists(options_.binary)) {
    return FailedPrecondition(fmt::format(
        "no Redis server at {}: install it (apt-get install redis-server) or set the binary",
        options_.binary.string()));
  }
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());

  ServiceStatus current = Inspect(paths);
  if (current.running) return current.url;
  if (current.pid != 0) {  // ours and alive, but not answering (yet: replaying its AOF): wait
    auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (IsOurServer(paths, current.pid)) {
      if (Answers(current.port)) return UrlForPort(current.port);
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceeded(fmt::format("redis pid {} in {} does not answer PING; see {}",
                                            current.pid, paths.root.string(), paths.log.string()));
      }
      std::this_thread::sleep_for(kReadyPoll);
    }
  }
  fs::remove(paths.state, ec);
  return Launch(paths);
}

Status RedisService::Stop(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  if (!fs::exists(paths.root)) return Ok();
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto state = ReadServerState(paths.state);
  if (state && IsOurServer(paths, state->pid)) {
    if (auto s = StopByPid(state->pid, "redis", paths.root, options_.stop_timeout); !s) return s;
  }
  std::error_code ec;
  fs::remove(paths.state, ec);
  return Ok();
}

}  // namespace mqlab::services
