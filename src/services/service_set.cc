#include "services/service_set.h"

#include <fmt/format.h>

#include <fstream>

#include "services/file_lock.h"

namespace mqlab::services {

namespace fs = std::filesystem;

namespace {

Result<std::vector<std::unique_ptr<Service>>> Resolve(const std::vector<std::string>& names) {
  std::vector<std::unique_ptr<Service>> services;
  for (const auto& name : names.empty() ? ServiceNames() : names) {
    auto service = MakeService(name);
    if (!service) return std::unexpected(service.error());
    services.push_back(std::move(*service));
  }
  return services;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Applies `edit` to the env file under the runtime folder's lock.
template <typename Edit>
Status EditEnvFile(const fs::path& runtime_dir, Edit edit) {
  std::error_code ec;
  fs::create_directories(runtime_dir, ec);
  auto lock = FileLock::Acquire(runtime_dir / "services.lock");
  if (!lock) return std::unexpected(lock.error());
  const fs::path file = ServicesEnvPath(runtime_dir);
  std::map<std::string, std::string> vars;
  if (auto read = ReadEnvFile(file)) {
    vars = std::move(*read);
  } else if (read.error().code != ErrorCode::kNotFound) {
    return std::unexpected(read.error());
  }
  edit(vars);
  return WriteEnvFile(file, vars);
}

}  // namespace

fs::path ServicesEnvPath(const fs::path& runtime_dir) { return runtime_dir / "services.env"; }

Result<std::map<std::string, std::string>> ReadEnvFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return NotFound(fmt::format("no env file {}", file.string()));
  std::map<std::string, std::string> vars;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(
          fmt::format("{}:{}: expected NAME=value, got '{}'", file.string(), number, t));
    }
    vars[Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  return vars;
}

Status WriteEnvFile(const fs::path& file, const std::map<std::string, std::string>& vars) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# Written by `mqlab services up`; read by every mqlab subcommand.\n";
    for (const auto& [name, value] : vars) out << name << "=" << value << "\n";
    if (!out) return Unavailable(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return Unavailable(fmt::format("cannot write {}: {}", file.string(), ec.message()));
  return Ok();
}

Result<std::vector<ServiceUrl>> UpServices(const fs::path& runtime_dir,
                                           const std::vector<std::string>& names) {
  auto services = Resolve(names);
  if (!services) return std::unexpected(services.error());
  std::vector<ServiceUrl> up;
  std::vector<Service*> started_here;
  for (auto& service : *services) {
    bool was_running = service->IsRunning(runtime_dir);
    auto url = service->Start(runtime_dir);
    if (!url) {
      for (auto it = started_here.rbegin(); it != started_here.rend(); ++it) {
        (void)(*it)->Stop(runtime_dir);
      }
      return std::unexpected(Error{url.error().code, fmt::format("starting {}: {}",
                                                                 service->name(),
                                                                 url.error().message)});
    }
    if (!was_running) started_here.push_back(service.get());
    up.push_back({std::string(service->name()), std::string(service->env_var()), *url});
  }
  auto written = EditEnvFile(runtime_dir, [&](auto& vars) {
    for (const auto& s : up) vars[s.env_var] = s.url;
  });
  if (!written) return std::unexpected(written.error());
  return up;
}

Status DownServices(const fs::path& runtime_dir, const std::vector<std::string>& names) {
  auto services = Resolve(names);
  if (!services) return std::unexpected(services.error());
  Status first = Ok();
  for (auto it = services->rbegin(); it != services->rend(); ++it) {
    auto stopped = (*it)->Stop(runtime_dir);
    if (!stopped && first) first = stopped;
  }
  if (!fs::exists(runtime_dir)) return first;
  auto written = EditEnvFile(runtime_dir, [&](auto& vars) {
    for (const auto& s : *services) vars.erase(std::string(s->env_var()));
  });
  return first ? written : first;
}

Result<std::vector<std::pair<std::string, ServiceStatus>>> ServicesStatus(
    const fs::path& runtime_dir, const std::vector<std::string>& names) {
  auto services = Resolve(names);
  if (!services) return std::unexpected(services.error());
  std::vector<std::pair<std::string, ServiceStatus>> out;
  for (auto& service : *services) {
    auto status = service->GetStatus(runtime_dir);
    if (!status) return std::unexpected(status.error());
    out.emplace_back(std::string(service->name()), std::move(*status));
  }
  return out;
}

}  // namespace mqlab::services
