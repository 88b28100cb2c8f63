// RabbitMqService: a private RabbitMQ node (Debian's 3.10 package) in RUNTIME_DIR/rabbitmq/.
//
// Layout (rabbitmq_node.h): home/ (HOME of the node and of rabbitmqctl: the Erlang cookie, written
// by us, 0400), mnesia/ (the node's data, kept across up/down), log/ (the node's own log),
// console.log (stdout/stderr of the VM), epmd.log, rabbitmq.conf, advanced.config, enabled_plugins,
// rabbitmq-env.conf (files of our own, so nothing under /etc is read), nodename (chosen at the
// first start and kept: the data folder is named after it), port / dist_port / epmd_port (the
// ports of the last start, picked again first so a restarted node keeps its URL), state.json
// (both PIDs, the ports, the URL) and lock (serialises up/down on this folder).
//
// Start: epmd first, spawned directly (`epmd -port E -address 127.0.0.1`, in the foreground), so
// its PID is known exactly: epmd outlives the node and would otherwise be a stray daemon that
// nobody stops. Then the node: the package's own sbin/rabbitmq-server script (not the /usr/sbin
// wrapper, which switches to the rabbitmq user) run in the foreground through `/usr/bin/env -i
// VAR=… script` (a clean environment holding exactly the variables SERVERS.md lists). With
// RABBITMQ_ALLOW_INPUT set the script execs the VM instead of forking it, so the spawned PID is
// the beam.smp PID itself; `-noinput` keeps the Erlang shell off, `-start_epmd false` keeps the
// VM from starting an epmd of its own. Ready means: the AMQP port accepts TCP connections (the
// listener opens at the end of boot) and then `rabbitmqctl -n NODE await_startup` succeeds
// (polling the port first spares the 2 shared cores one CLI Erlang VM per retry).
// Root: RabbitMQ runs as root without complaint (measured), so unlike PostgreSQL it needs no
// unprivileged user; the files are the caller's.
// Stop: SIGTERM to the recorded node PID (the node's own signal handler runs the same graceful
// stop as `rabbitmqctl stop`: ~2 s here, against ~3.5 s for rabbitmqctl, which boots a CLI VM
// first), SIGKILL after stop_timeout; then epmd by its PID. A PID is signalled only after
// /proc/PID/cmdline shows it is still this folder's VM (its -home argument) or epmd (its -port).
//
// Threading: see service.h.
#ifndef MQLAB_SERVICES_RABBITMQ_SERVICE_H_
#define MQLAB_SERVICES_RABBITMQ_SERVICE_H_

#include <chrono>
#include <filesystem>
#include <string>

#include "services/service.h"

namespace mqlab::services {

struct RabbitMqPaths;  // rabbitmq_node.h
struct RabbitMqState;

struct RabbitMqServiceOptions {
  // Folder of rabbitmq-server and rabbitmqctl. Default: empty, the newest
  // /usr/lib/rabbitmq/lib/rabbitmq_server-<version>/sbin.
  std::filesystem::path sbin_dir;
  // The Erlang port mapper daemon. Default: /usr/bin/epmd.
  std::filesystem::path epmd = "/usr/bin/epmd";
  // From spawn to ready (~5 s measured on 2 shared cores). Default: 90 s.
  std::chrono::milliseconds start_timeout{90000};
  // Graceful stop before SIGKILL (~2 s measured). Default: 30 s.
  std::chrono::milliseconds stop_timeout{30000};
};

class RabbitMqService final : public Service {
 public:
  explicit RabbitMqService(RabbitMqServiceOptions options = {});

  std::string_view name() const override { return "rabbitmq"; }
  std::string_view env_var() const override { return "MQLAB_AMQP_URL"; }
  Result<std::string> Start(const std::filesystem::path& runtime_dir) override;
  Status Stop(const std::filesystem::path& runtime_dir) override;
  Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) override;

  // amqp://guest:guest@127.0.0.1:PORT/ (guest may log in over loopback only, which is all we
  // listen on).
  static std::string UrlForPort(int port);
  // The epmd PID recorded for the node in runtime_dir (0 if none), for tests and `status`.
  static int EpmdPid(const std::filesystem::path& runtime_dir);

 private:
  Result<std::filesystem::path> SbinDir() const;
  // Ports (remembered ones first) and the node name for a start.
  Result<RabbitMqState> NewState(const RabbitMqPaths& paths, int attempt);
  // Spawns epmd on `port` and waits until it accepts connections; returns its PID.
  Result<int> StartEpmd(const RabbitMqPaths& paths, int port);
  Result<RabbitMqState> Launch(const RabbitMqPaths& paths, const std::filesystem::path& sbin);
  Status WaitReady(const RabbitMqPaths& paths, const std::filesystem::path& sbin,
                   const RabbitMqState& state);
  // Stops the node, then its epmd. `spawned_here`: the PIDs were spawned by this call (alive is
  // enough); otherwise they are checked to be this folder's before any signal.
  Status Kill(const RabbitMqPaths& paths, const RabbitMqState& state, bool spawned_here);

  RabbitMqServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_RABBITMQ_SERVICE_H_
