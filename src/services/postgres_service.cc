#include "services/postgres_service.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "services/file_lock.h"
#include "services/state_file.h"

namespace mqlab::services {

namespace fs = std::filesystem;

struct PostgresService::Paths {
  fs::path root;  // RUNTIME_DIR/postgres, absolute
  fs::path data, log, initdb_log, state, lock;

  explicit Paths(const fs::path& runtime_dir)
      : root(fs::weakly_canonical(fs::absolute(runtime_dir)) / "postgres"),
        data(root / "data"),
        log(root / "server.log"),
        initdb_log(root / "initdb.log"),
        state(root / "state.json"),
        lock(root / "lock") {}
};

namespace {

// Polling interval while the server starts: it is ready in ~0.6 s, so this adds little.
constexpr auto kReadyPoll = std::chrono::milliseconds(50);
// A Unix socket path must fit in sun_path (108 bytes) with "/.s.PGSQL.NNNNN" appended.
constexpr size_t kMaxSocketDirLength = 90;

using State = ServerState;



// True if `pid` is the postmaster of the cluster in `data` (first line of its postmaster.pid).
bool IsPostmasterOf(const fs::path& data, int pid) {
  if (!IsAlive(pid)) return false;
  std::ifstream in(data / "postmaster.pid");
  int recorded = 0;
  return static_cast<bool>(in >> recorded) && recorded == pid;
}

bool Accepting(int port) {
  std::string p = std::to_string(port);
  const char* keys[] = {"host", "port", "dbname", "user", "connect_timeout", nullptr};
  const char* values[] = {"127.0.0.1", p.c_str(), "postgres", "postgres", "2", nullptr};
  return PQpingParams(keys, values, 0) == PQPING_OK;
}

// As root, hands the folder to the server's user and gives its ancestors the search bit (o+x)
// where they lack it, so that user can reach it. Only the x bit: nothing becomes listable.
Status PrepareForUser(const fs::path& root, const RunAs& user) {
  if (chown(root.c_str(), user.uid, user.gid) != 0) {
    return Unavailable(fmt::format("cannot give {} to user {}: {}", root.string(), user.name,
                                   std::strerror(errno)));
  }
  for (fs::path p = root.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH) == 0) {
      if (chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0) {
        return Unavailable(fmt::format("user {} cannot reach {}: chmod o+x {}: {}", user.name,
                                       root.string(), p.string(), std::strerror(errno)));
      }
    }
    if (p == p.root_path()) break;
  }
  return Ok();
}

}  // namespace

PostgresService::PostgresService(PostgresServiceOptions options) : options_(std::move(options)) {}

std::string PostgresService::UrlForPort(int port) {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/postgres", port);
}

Result<fs::path> PostgresService::BinDir() const {
  if (!options_.bin_dir.empty()) return options_.bin_dir;
  const fs::path base = "/usr/lib/postgresql";
  int best = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (fs::exists(entry.path() / "bin" / "postgres")) best = std::max(best, std::stoi(name));
  }
  if (best < 0) {
    return FailedPrecondition(
        "no PostgreSQL server under /usr/lib/postgresql/<version>/bin: install it "
        "(apt-get install postgresql) or set the service's bin_dir");
  }
  return base / std::to_string(best) / "bin";
}

ServiceStatus PostgresService::Inspect(const Paths& paths) {
  auto state = ReadServerState(paths.state);
  if (!state) return {.detail = "not started"};
  if (!IsPostmasterOf(paths.data, state->pid)) {
    return {.detail = fmt::format("stale record: pid {} is not running this cluster", state->pid)};
  }
  ServiceStatus s{.pid = state->pid, .port = state->port};
  s.running = Accepting(state->port);
  s.url = s.running ? state->url : "";
  s.detail = s.running ? fmt::format("running, pid {}", s.pid)
                       : fmt::format("pid {} is not accepting connections", s.pid);
  return s;
}

Result<ServiceStatus> PostgresService::GetStatus(const fs::path& runtime_dir) {
  return Inspect(Paths(runtime_dir));
}

Status PostgresService::InitDb(const Paths& paths, const fs::path& bin,
                               const std::optional<RunAs>& run_as) {
  std::error_code ec;
  if (fs::exists(paths.data / "PG_VERSION")) return Ok();
  fs::remove_all(paths.data, ec);  // left by an interrupted initdb
  ProcessSpec spec{
      .argv = {(bin / "initdb").string(), "-D", paths.data.string(), "-U", "postgres", "-A",
               "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"},
      .cwd = paths.root,
      .output = paths.initdb_log,
      .run_as = run_as,
      .new_session = false};
  auto code = RunToExit(spec, std::chrono::minutes(2));
  if (!code) return std::unexpected(code.error());
  if (*code != 0) {
    return Unavailable(fmt::format("initdb failed (exit {}); {} ends with:\n{}", *code,
                                   paths.initdb_log.string(), TailOfFile(paths.initdb_log)));
  }
  return Ok();
}

Result<std::string> PostgresService::Launch(const Paths& paths, const fs::path& bin,
                                            const std::optional<RunAs>& run_as) {
  const std::string socket_dir =
      paths.root.string().size() <= kMaxSocketDirLength ? paths.root.string() : "";
  // A port picked free can be taken before the server binds it: then try another.
  for (int attempt = 1;; ++attempt) {
    auto port = PickPort(paths.root / "port", attempt);
    if (!port) return std::unexpected(port.error());
    std::vector<std::string> argv = {
        (bin / "postgres").string(), "-D", paths.data.string(), "-p", std::to_string(*port),
        "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + socket_dir,
        "-c", fmt::format("max_connections={}", options_.max_connections),
        "-c", options_.fsync ? "fsync=on" : "fsync=off"};
    for (const auto& [name, value] : options_.settings) {
      argv.push_back("-c");
      argv.push_back(name + "=" + value);
    }
    auto pid = Spawn({.argv = argv, .cwd = paths.root, .output = paths.log, .run_as = run_as});
    if (!pid) return std::unexpected(pid.error());
    State state{*pid, *port, UrlForPort(*port)};
    // Recorded before waiting, so that `down` can stop it even if this process dies now.
    if (auto s = WriteServerState(paths.state, state); !s) {
      kill(*pid, SIGQUIT);
      WaitGone(*pid, options_.stop_timeout);
      return std::unexpected(s.error());
    }
    auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::optional<int> exit_code;
    while (!(exit_code = ReapIfExited(*pid)) && IsAlive(*pid)) {
      if (Accepting(*port)) {
        RememberPort(paths.root / "port", *port);
        return state.url;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(kReadyPoll);
    }
    std::error_code ec;
    if (!exit_code && IsAlive(*pid)) {  // hung in start-up: stop exactly it
      kill(*pid, SIGQUIT);
      WaitGone(*pid, options_.stop_timeout);
      fs::remove(paths.state, ec);
      return DeadlineExceeded(fmt::format(
          "postgres did not accept connections within {} ms; {} ends with:\n{}",
          options_.start_timeout.count(), paths.log.string(), TailOfFile(paths.log)));
    }
    fs::remove(paths.state, ec);
    std::string tail = TailOfFile(paths.log);
    bool port_taken = tail.find("could not bind") != std::string::npos ||
                      tail.find("already in use") != std::string::npos;
    if (!port_taken || attempt == 3) {
      return Unavailable(fmt::format("postgres exited during start-up (code {}); {} ends with:\n{}",
                                     exit_code.value_or(-1), paths.log.string(), tail));
    }
  }
}

Result<std::string> PostgresService::Start(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.root, ec);
  if (ec) return Unavailable(fmt::format("cannot create {}: {}", paths.root.string(), ec.message()));
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());

  ServiceStatus current = Inspect(paths);
  if (current.running) return current.url;
  if (current.pid != 0) {  // ours and alive, but not accepting (yet): wait for it
    auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (IsPostmasterOf(paths.data, current.pid)) {
      if (Accepting(current.port)) return UrlForPort(current.port);
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceeded(fmt::format("postgres pid {} in {} does not accept connections; "
                                            "see {}",
                                            current.pid, paths.root.string(), paths.log.string()));
      }
      std::this_thread::sleep_for(kReadyPoll);
    }
  }
  fs::remove(paths.state, ec);

  auto bin = BinDir();
  if (!bin) return std::unexpected(bin.error());
  auto run_as = UnprivilegedUserIfRoot(options_.user);
  if (!run_as) return std::unexpected(run_as.error());
  if (*run_as) {
    if (auto s = PrepareForUser(paths.root, **run_as); !s) return std::unexpected(s.error());
  }
  if (auto s = InitDb(paths, *bin, *run_as); !s) return std::unexpected(s.error());
  return Launch(paths, *bin, *run_as);
}

Status PostgresService::Stop(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  if (!fs::exists(paths.root)) return Ok();
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto state = ReadServerState(paths.state);
  if (state && IsPostmasterOf(paths.data, state->pid)) {
    kill(state->pid, SIGINT);  // fast shutdown: roll back open transactions, checkpoint, exit
    if (!WaitGone(state->pid, options_.stop_timeout)) {
      kill(state->pid, SIGQUIT);  // immediate shutdown: recovery runs at the next start
      if (!WaitGone(state->pid, std::chrono::seconds(10))) {
        return Unavailable(fmt::format("postgres pid {} ({}) did not stop", state->pid,
                                       paths.root.string()));
      }
    }
  }
  std::error_code ec;
  fs::remove(paths.state, ec);
  return Ok();
}

}  // namespace mqlab::services
