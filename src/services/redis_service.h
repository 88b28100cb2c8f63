// RedisService: a private Redis server (Debian's redis-server 7.0) in RUNTIME_DIR/redis/.
//
// Layout: data/ (the append-only file, appendonlydir/, kept across up/down), server.log (the
// server's stdout and stderr), state.json (pid, port, url), port (the port to keep across
// restarts), lock (serialises up/down on this folder).
//
// Start: redis-server is exec'd from an argument vector with --daemonize no, so the PID Spawn
// returns is the server's own (no pidfile to wait for or trust, nothing to find by name).
// Loopback only, on a free port kept across restarts (PickPort), so a restarted server has the
// same URL and clients reconnect to it. Durable by default: AOF on with appendfsync everysec (at
// most ~1 s of acknowledged writes lost if the machine dies; none on a clean stop, which fsyncs the
// AOF), RDB snapshots off (--save ""): the AOF alone is the data. Non-durable (options.durable =
// false): no AOF, no RDB: a restart empties the server (what issue 6 measures). Ready means PING
// answers PONG (not -LOADING while the AOF is replayed). Redis does not refuse root, so it runs as
// the calling user (unlike PostgreSQL). Stop: SIGTERM to the recorded PID (Redis then fsyncs the
// AOF and exits), SIGKILL if it has not exited within stop_timeout; only after checking that the
// PID is still this folder's server (a redis-server whose working directory is this data/), so a
// reused PID is never signalled.
//
// Threading: see service.h.
#ifndef MQLAB_SERVICES_REDIS_SERVICE_H_
#define MQLAB_SERVICES_REDIS_SERVICE_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "services/service.h"

namespace mqlab::services {

struct RedisServiceOptions {
  // The server binary. Default: /usr/bin/redis-server (Debian's redis-server package).
  std::filesystem::path binary = "/usr/bin/redis-server";
  // AOF with appendfsync `appendfsync`; false: no persistence at all. Default: true.
  bool durable = true;
  // always | everysec | no. Default: "everysec" (what BullMQ deployments and Redis' docs advise).
  std::string appendfsync = "everysec";
  // Further `--name value` settings, e.g. {"maxmemory", "1gb"}. Default: none.
  std::vector<std::pair<std::string, std::string>> settings;
  // From spawn to PONG (~15 ms measured; replaying a large AOF takes longer). Default: 60 s.
  std::chrono::milliseconds start_timeout{60000};
  // SIGTERM before SIGKILL. Default: 30 s.
  std::chrono::milliseconds stop_timeout{30000};
};

class RedisService final : public Service {
 public:
  explicit RedisService(RedisServiceOptions options = {});

  std::string_view name() const override { return "redis"; }
  std::string_view env_var() const override { return "MQLAB_REDIS_URL"; }
  Result<std::string> Start(const std::filesystem::path& runtime_dir) override;
  Status Stop(const std::filesystem::path& runtime_dir) override;
  Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) override;

  // redis://127.0.0.1:PORT/0
  static std::string UrlForPort(int port);

  struct Paths;  // the folder's files (public for the helpers in the .cc)

 private:
  Result<std::string> Launch(const Paths& paths);
  std::vector<std::string> Argv(const Paths& paths, int port) const;
  ServiceStatus Inspect(const Paths& paths);

  RedisServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_REDIS_SERVICE_H_
