// The files side of a private RabbitMQ node (see rabbitmq_service.h): the folder layout, the
// state record that `up`, `status` and `down` share across processes, the files the node reads,
// and the exact environment its scripts run with.
//
// Threading: stateless functions; callers serialise writes to one folder (its lock file).
#ifndef MQLAB_SERVICES_RABBITMQ_NODE_H_
#define MQLAB_SERVICES_RABBITMQ_NODE_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/files.h"
#include "mqlab/common/status.h"

namespace mqlab::services {

struct RabbitMqPaths {
  std::filesystem::path root;  // RUNTIME_DIR/rabbitmq, absolute
  std::filesystem::path home, mnesia, log_dir, console_log, epmd_log, conf, advanced, plugins,
      env_conf, pid_file, nodename, state, lock;

  explicit RabbitMqPaths(const std::filesystem::path& runtime_dir)
      : root(std::filesystem::weakly_canonical(std::filesystem::absolute(runtime_dir)) /
             "rabbitmq"),
        home(root / "home"),
        mnesia(root / "mnesia"),
        log_dir(root / "log"),
        console_log(root / "console.log"),
        epmd_log(root / "epmd.log"),
        conf(root / "rabbitmq.conf"),
        advanced(root / "advanced.config"),
        plugins(root / "enabled_plugins"),
        env_conf(root / "rabbitmq-env.conf"),
        pid_file(root / "rabbitmq.pid"),
        nodename(root / "nodename"),
        state(root / "state.json"),
        lock(root / "lock") {}
};

struct RabbitMqState {
  int pid = 0;  // the node's VM (beam.smp)
  int epmd_pid = 0;
  int port = 0, dist_port = 0, epmd_port = 0;
  std::string nodename, url;
};

// state.json: what Start recorded (both PIDs, the ports, the node name, the URL).
std::optional<RabbitMqState> ReadRabbitMqState(const std::filesystem::path& file);
Status WriteRabbitMqState(const std::filesystem::path& file, const RabbitMqState& s);

// Creates the folders and, once, the cookie (0400) and the node's own config files (kept across
// restarts, so a user may edit rabbitmq.conf).
Status PrepareRabbitMqFolder(const RabbitMqPaths& paths);

// `env -i VAR=value … program args…`: `program` (a script from the package's sbin) runs with
// exactly the variables a private node needs, whatever the caller's environment holds (a stray
// RABBITMQ_* or ERL_* there would otherwise change the node); env execs it, so the PID is the
// program's. `server`: also RABBITMQ_ALLOW_INPUT, so rabbitmq-server execs the VM instead of
// running it as its child.
std::vector<std::string> RabbitMqCommand(const RabbitMqPaths& paths, const RabbitMqState& s,
                                         bool server, std::vector<std::string> program);

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_RABBITMQ_NODE_H_
