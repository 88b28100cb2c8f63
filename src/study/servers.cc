#include "study/servers.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include "common/logging.h"
#include "services/process.h"
#include "services/service.h"
#include "services/service_set.h"

namespace mqlab::study {

namespace fs = std::filesystem;

namespace {

// The installed version of a Debian package ("" if unknown).
std::string PackageVersion(const std::string& package) {
  char tmpl[] = "/tmp/mqlab-dpkg-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "";
  close(fd);
  auto code = services::RunToExit(
      {.argv = {"/usr/bin/dpkg-query", "-W", "-f=${Version}", package}, .output = tmpl},
      std::chrono::seconds(10));
  std::ifstream in(tmpl);
  std::string v;
  std::getline(in, v);
  fs::remove(tmpl);
  return code && *code == 0 ? v : "";
}

std::string ServerVersion(const std::string& name) {
  if (name == "postgres") return PackageVersion("postgresql-15");
  if (name == "redis") return PackageVersion("redis-server");
  if (name == "rabbitmq") return PackageVersion("rabbitmq-server");
  if (name == "prometheus") return PackageVersion("prometheus");
  if (name == "kafka") {
    // The broker's jars, fetched by scripts/setup-kafka: kafka_2.13-<version>.jar.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(".cache/kafka/libs", ec)) {
      const std::string f = e.path().filename().string();
      if (f.starts_with("kafka_2.13-") && f.ends_with(".jar")) {
        return f.substr(11, f.size() - 15);
      }
    }
  }
  return "";
}

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

}  // namespace

Result<ServerSession> ServerSession::Start(const std::vector<std::string>& names,
                                           const fs::path& runtime_dir, spdlog::logger& log) {
  ServerSession s;
  s.runtime_dir_ = runtime_dir;
  for (const std::string& name : names) {
    if (auto st = s.Add(name, log); !st) {
      s.Stop(log);
      return std::unexpected(st.error());
    }
  }
  return s;
}

Status ServerSession::Add(const std::string& name, spdlog::logger& log) {
  auto svc = services::MakeService(name);
  if (!svc) return std::unexpected(svc.error());
  auto recorded = services::ReadEnvFile(services::ServicesEnvPath(runtime_dir_));
  const std::string var((*svc)->env_var());
  const std::string from_env = Env(var);
  const bool written_by_us = recorded && recorded->contains(var) && recorded->at(var) == from_env;
  // Prometheus reads its targets from our runtime folder: a user's own cannot be used.
  const bool external_ok = name != "prometheus";
  std::string source;
  if (external_ok && !from_env.empty() && !written_by_us) {
    urls_.by_service[name] = from_env;  // the user's own server
    source = "external";
  } else if (auto url = (*svc)->Url(runtime_dir_); url) {
    // Start on a running Prometheus updates its config (one an older mqlab wrote may not read
    // the targets.d/ files the study writes); it starts nothing.
    if (name == "prometheus") {
      if (auto again = (*svc)->Start(runtime_dir_); !again) return std::unexpected(again.error());
    }
    urls_.by_service[name] = *url;
    source = "running";
  } else {
    log.info("starting {} (mqlab services up {})", name, name);
    auto up = services::UpServices(runtime_dir_, {name});
    if (!up) return std::unexpected(up.error());
    urls_.by_service[name] = up->front().url;
    started_.push_back(name);
    source = "started";
  }
  info_[name] = {{"version", ServerVersion(name)},
                 {"source", source},
                 {"url", RedactUrl(urls_.by_service[name])}};
  return Ok();
}

void ServerSession::Stop(spdlog::logger& log) {
  if (started_.empty()) return;
  log.info("stopping the servers this study started: {}", fmt::join(started_, ", "));
  if (auto st = services::DownServices(runtime_dir_, started_); !st) {
    log.warn("stopping servers: {}", st.error().ToString());
  }
  started_.clear();
}

}  // namespace mqlab::study
