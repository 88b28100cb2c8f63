// `mqlab services up|down|status [names…]`: private local servers on loopback.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "services/service.h"
#include "services/service_set.h"

namespace mqlab::cli {

namespace {

struct ServicesFlags {
  std::string runtime_dir = ".mqlab";
  std::vector<std::string> names;
};

Status CheckNames(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (auto s = services::MakeService(n); !s) return std::unexpected(s.error());
  }
  return Ok();
}

int Up(const ServicesFlags& f) {
  if (auto s = CheckNames(f.names); !s) return UsageError(s.error().message);
  auto urls = services::UpServices(f.runtime_dir, f.names);
  if (!urls) return RunError("services up", urls.error().message);
  for (const auto& u : *urls) fmt::print("{}={}\n", u.env_var, u.url);
  fmt::print(stderr, "mqlab services: URLs written to {}; `mqlab services down` stops them\n",
             services::ServicesEnvPath(f.runtime_dir).string());
  return 0;
}

int Down(const ServicesFlags& f) {
  if (auto s = CheckNames(f.names); !s) return UsageError(s.error().message);
  if (auto s = services::DownServices(f.runtime_dir, f.names); !s) {
    return RunError("services down", s.error().message);
  }
  return 0;
}

int StatusOf(const ServicesFlags& f) {
  if (auto s = CheckNames(f.names); !s) return UsageError(s.error().message);
  auto st = services::ServicesStatus(f.runtime_dir, f.names);
  if (!st) return RunError("services status", st.error().message);
  int not_running = 0;
  for (const auto& [name, s] : *st) {
    if (s.running) {
      fmt::print("{:<10} running  pid {:<7} {}\n", name, s.pid, s.url);
    } else {
      ++not_running;
      fmt::print("{:<10} stopped  {}\n", name, s.detail);
    }
  }
  return not_running == 0 ? 0 : 3;  // as `systemctl status`: 3 = not running
}

}  // namespace

Runner AddServicesCommand(CLI::App& root) {
  auto f = std::make_shared<ServicesFlags>();
  CLI::App* cmd = root.add_subcommand(
      "services", "Start, stop or show private local servers (PostgreSQL, Redis, RabbitMQ, "
                  "Kafka, Prometheus) on loopback");
  cmd->require_subcommand(1);
  Flag(cmd, "--runtime-dir", f->runtime_dir, "Folder holding the servers' data, logs and services.env")
      ->envname("MQLAB_RUNTIME_DIR");
  auto names_help = fmt::format("Servers (default: all of {})", fmt::join(services::ServiceNames(), ", "));
  auto* up = cmd->add_subcommand("up", "Start them (or find them running); print their URLs");
  auto* down = cmd->add_subcommand("down", "Stop exactly what `up` started");
  auto* status = cmd->add_subcommand("status", "Show which are running (exit 3 if any is not)");
  for (auto* sub : {up, down, status}) {
    sub->add_option("names", f->names, names_help);
    sub->fallthrough();  // `services up --runtime-dir DIR` as well as `services --runtime-dir DIR up`
  }
  return [f, up, down, status]() -> int {
    if (up->parsed()) return Up(*f);
    if (down->parsed()) return Down(*f);
    if (status->parsed()) return StatusOf(*f);
    return UsageError("services needs up, down or status");
  };
}

}  // namespace mqlab::cli
