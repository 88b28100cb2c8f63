// PostgresService: a private PostgreSQL server in RUNTIME_DIR/postgres/.
//
// Layout: data/ (the cluster, initdb'd once and kept across up/down), server.log, initdb.log,
// state.json (pid, port, url), lock (serialises up/down on this folder) and the Unix socket.
//
// Start: initdb (UTF8, C.UTF-8, trust auth for the `postgres` superuser; --no-sync, since a
// cluster that dies mid-initdb is simply recreated), then the `postgres` server itself is
// exec'd from an argument vector on a free loopback port, so its PID is known exactly. initdb
// and the server refuse root: as root both run as the unprivileged `postgres` user (the child
// drops privileges between fork and exec), the folder is handed to that user, and its ancestors
// get the search bit (o+x) where they lack it so that user can reach it. Ready means PQping says
// the server accepts connections.
// Stop: SIGINT to the recorded PID (PostgreSQL's "fast" shutdown, what `pg_ctl -m fast` sends),
// SIGQUIT if it has not exited in stop_timeout; only after checking that the PID is still this
// cluster's postmaster (its postmaster.pid names it), so a reused PID is never signalled.
//
// Threading: see service.h.
#ifndef MQLAB_SERVICES_POSTGRES_SERVICE_H_
#define MQLAB_SERVICES_POSTGRES_SERVICE_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/process.h"
#include "services/service.h"

namespace mqlab::services {

struct PostgresServiceOptions {
  // Folder of initdb and postgres. Default: empty, the newest /usr/lib/postgresql/<N>/bin.
  std::filesystem::path bin_dir;
  // Default: 200 (the study's 4 workers × pools plus the API and the tests, with room).
  int max_connections = 200;
  // Default: true. Off only for throwaway data: a crash of the machine then corrupts it.
  bool fsync = true;
  // Further `-c name=value` settings, e.g. {"synchronous_commit", "off"}. Default: none.
  std::vector<std::pair<std::string, std::string>> settings;
  // From spawn to accepting connections (~0.6 s measured; crash recovery can take longer).
  // Default: 60 s.
  std::chrono::milliseconds start_timeout{60000};
  // Fast shutdown before falling back to an immediate one. Default: 30 s.
  std::chrono::milliseconds stop_timeout{30000};
  // The unprivileged user to run as when we are root. Default: "postgres".
  std::string user = "postgres";
};

class PostgresService final : public Service {
 public:
  explicit PostgresService(PostgresServiceOptions options = {});

  std::string_view name() const override { return "postgres"; }
  std::string_view env_var() const override { return "MQLAB_POSTGRES_URL"; }
  Result<std::string> Start(const std::filesystem::path& runtime_dir) override;
  Status Stop(const std::filesystem::path& runtime_dir) override;
  Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) override;

  // postgresql://postgres@127.0.0.1:PORT/postgres
  static std::string UrlForPort(int port);

 private:
  struct Paths;
  Result<std::filesystem::path> BinDir() const;
  Status InitDb(const Paths& paths, const std::filesystem::path& bin,
                const std::optional<RunAs>& run_as);
  Result<std::string> Launch(const Paths& paths, const std::filesystem::path& bin,
                             const std::optional<RunAs>& run_as);
  ServiceStatus Inspect(const Paths& paths);

  PostgresServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_POSTGRES_SERVICE_H_
