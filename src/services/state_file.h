// What every launcher records about its running server (RUNTIME_DIR/<name>/state.json), and how
// it stops one: by the recorded PID, gracefully first.
//
// Threading: plain functions; callers hold the service's folder lock.
#ifndef MQLAB_SERVICES_STATE_FILE_H_
#define MQLAB_SERVICES_STATE_FILE_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"

namespace mqlab::services {

struct ServerState {
  int pid = 0;
  int port = 0;
  std::string url;
  int controller_port = 0;  // Kafka's KRaft controller listener; 0 for the others
};

// nullopt when the file is missing or is not a state file (no integer "pid").
std::optional<ServerState> ReadServerState(const std::filesystem::path& file);
// Written atomically; "controllerPort" only when set.
Status WriteServerState(const std::filesystem::path& file, const ServerState& state);

// SIGTERM, up to `grace` for the process to exit, then SIGKILL and up to 10 s more. Unavailable,
// naming `what` and its folder, if it still lives.
Status StopByPid(int pid, std::string_view what, const std::filesystem::path& root,
                 std::chrono::milliseconds grace);

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_STATE_FILE_H_
