#include "services/rabbitmq_node.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace mqlab::services {

namespace fs = std::filesystem;

namespace {

std::string RandomCookie() {
  std::random_device rd;
  std::uniform_int_distribution<int> letter(0, 25);
  std::string cookie;
  for (int i = 0; i < 32; ++i) cookie += static_cast<char>('A' + letter(rd));
  return cookie;
}

}  // namespace

std::optional<RabbitMqState> ReadRabbitMqState(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) return std::nullopt;
  return RabbitMqState{j.value("pid", 0),
                       j.value("epmdPid", 0),
                       j.value("port", 0),
                       j.value("distPort", 0),
                       j.value("epmdPort", 0),
                       j.value("nodename", std::string()),
                       j.value("url", std::string())};
}

Status WriteRabbitMqState(const fs::path& file, const RabbitMqState& s) {
  nlohmann::json j{{"pid", s.pid},
                   {"epmdPid", s.epmd_pid},
                   {"port", s.port},
                   {"distPort", s.dist_port},
                   {"epmdPort", s.epmd_port},
                   {"nodename", s.nodename},
                   {"url", s.url}};
  return WriteFileAtomically(file, fmt::format("{}\n", j.dump(2)));
}

Status PrepareRabbitMqFolder(const RabbitMqPaths& paths) {
  std::error_code ec;
  for (const fs::path& dir : {paths.home, paths.mnesia, paths.log_dir}) {
    fs::create_directories(dir, ec);
    if (ec) return Unavailable(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  }
  const fs::path cookie = paths.home / ".erlang.cookie";
  if (!fs::exists(cookie)) {
    if (auto s = WriteFileAtomically(cookie, RandomCookie()); !s) return s;
    chmod(cookie.c_str(), 0400);  // Erlang refuses a cookie others can read
  }
  const std::pair<fs::path, std::string> files[] = {
      {paths.conf,
       "# Written by mqlab on first start; kept across restarts.\n"
       "loopback_users.guest = true\n"
       "log.console = false\n"
       "log.file.level = info\n"
       "# A delivery unacknowledged this long closes its channel and is redelivered (3.10's\n"
       "# default: 30 min). A worker holds a job for as long as predict runs, and a dead worker\n"
       "# is noticed at once by its closed connection, so allow a day: a long job is never\n"
       "# handed to a second worker while the first is alive.\n"
       "consumer_timeout = 86400000\n"},
      {paths.advanced, "[].\n"},
      {paths.plugins, "[].\n"},
      {paths.env_conf, ""},
  };
  for (const auto& [file, text] : files) {
    if (fs::exists(file)) continue;
    if (auto s = WriteFileAtomically(file, text); !s) return s;
  }
  return Ok();
}

std::vector<std::string> RabbitMqCommand(const RabbitMqPaths& paths, const RabbitMqState& s,
                                         bool server, std::vector<std::string> program) {
  std::vector<std::string> argv = {
      "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "LANG=C.UTF-8", "LC_ALL=C.UTF-8", fmt::format("HOME={}", paths.home.string()),
      fmt::format("RABBITMQ_NODENAME={}", s.nodename), "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
      fmt::format("RABBITMQ_NODE_PORT={}", s.port),
      // Required: the default (NODE_PORT + 20000) can exceed 65535, and boot then fails.
      fmt::format("RABBITMQ_DIST_PORT={}", s.dist_port),
      fmt::format("ERL_EPMD_PORT={}", s.epmd_port), "ERL_EPMD_ADDRESS=127.0.0.1",
      fmt::format("RABBITMQ_MNESIA_BASE={}", paths.mnesia.string()),
      fmt::format("RABBITMQ_LOG_BASE={}", paths.log_dir.string()),
      fmt::format("RABBITMQ_PID_FILE={}", paths.pid_file.string()),
      fmt::format("RABBITMQ_CONFIG_FILE={}", paths.conf.string()),
      fmt::format("RABBITMQ_ADVANCED_CONFIG_FILE={}", paths.advanced.string()),
      fmt::format("RABBITMQ_ENABLED_PLUGINS_FILE={}", paths.plugins.string()),
      fmt::format("RABBITMQ_CONF_ENV_FILE={}", paths.env_conf.string()),
      "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1} "
      "-noinput -start_epmd false"};
  // The script then execs the VM instead of running it as its child (see the header).
  if (server) argv.push_back("RABBITMQ_ALLOW_INPUT=true");
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

}  // namespace mqlab::services
