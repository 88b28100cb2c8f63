#include "services/state_file.h"

#include <signal.h>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "services/process.h"

namespace mqlab::services {

std::optional<ServerState> ReadServerState(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) return std::nullopt;
  return ServerState{.pid = j["pid"].get<int>(),
                     .port = j.value("port", 0),
                     .url = j.value("url", std::string()),
                     .controller_port = j.value("controllerPort", 0)};
}

Status WriteServerState(const std::filesystem::path& file, const ServerState& s) {
  nlohmann::json j{{"pid", s.pid}, {"port", s.port}, {"url", s.url}};
  if (s.controller_port != 0) j["controllerPort"] = s.controller_port;
  return WriteFileAtomically(file, j.dump(2) + "\n");
}

Status StopByPid(int pid, std::string_view what, const std::filesystem::path& root,
                 std::chrono::milliseconds grace) {
  kill(pid, SIGTERM);
  if (WaitGone(pid, grace)) return Ok();
  kill(pid, SIGKILL);
  if (WaitGone(pid, std::chrono::seconds(10))) return Ok();
  return Unavailable(fmt::format("{} pid {} ({}) did not stop", what, pid, root.string()));
}

}  // namespace mqlab::services
