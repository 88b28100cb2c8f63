// Service: one kind of local server that `mqlab services` (and the tests) can run privately.
//
// Each server (PostgreSQL now; Redis, RabbitMQ, Kafka, Prometheus later) is one small class behind
// this interface, registered by name in registry.cc. A service keeps nothing in memory between
// calls: everything lives in its folder, RUNTIME_DIR/<name>/ (data, logs, a state file with the
// PID and port), so `up`, `status` and `down` may run in different processes. Servers listen on
// 127.0.0.1 only, on a free port chosen at start, and are stopped by their own PID, never by name.
//
// Threading: a Service object is stateless and may be shared; calls on the same runtime folder
// are serialised by a lock file in the service's folder (processes included).
#ifndef MQLAB_SERVICES_SERVICE_H_
#define MQLAB_SERVICES_SERVICE_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::services {

struct ServiceStatus {
  bool running = false;  // the recorded process is alive and accepting connections
  int pid = 0;           // 0 when nothing is recorded
  int port = 0;
  std::string url;     // what clients use; empty when not running
  std::string detail;  // a human note: "not started", "stale state (pid 12 gone)", …
};

class Service {
 public:
  virtual ~Service() = default;

  // The registry name: "postgres".
  virtual std::string_view name() const = 0;
  // The variable that carries its URL, in services.env and the environment: "MQLAB_POSTGRES_URL".
  virtual std::string_view env_var() const = 0;

  // Starts the server in runtime_dir/<name>/ and waits until it accepts connections, or finds
  // the one already running there. Returns its URL. Errors say what failed and where the log is.
  virtual Result<std::string> Start(const std::filesystem::path& runtime_dir) = 0;
  // Stops the server recorded in runtime_dir/<name>/ by its PID, and waits for it to exit.
  // OK when none is running (a stale record is cleaned up). Data is kept for the next Start.
  virtual Status Stop(const std::filesystem::path& runtime_dir) = 0;
  virtual Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) = 0;

  bool IsRunning(const std::filesystem::path& runtime_dir) {
    auto s = GetStatus(runtime_dir);
    return s && s->running;
  }
  // The URL of the running server; kNotFound when it is not running.
  Result<std::string> Url(const std::filesystem::path& runtime_dir);
};

// Known services, in the order `services up` starts them.
std::vector<std::string> ServiceNames();
// A new instance of the named service with default options; kNotFound, listing the known names,
// for an unknown one.
Result<std::unique_ptr<Service>> MakeService(std::string_view name);

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_SERVICE_H_
