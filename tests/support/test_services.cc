#include "tests/support/test_services.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "services/service_set.h"

namespace mqlab::testing {
namespace {

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? v : "";
}

std::string HowTo(std::string_view name, std::string_view var) {
  return fmt::format(
      "Integration tests need a {0} server. Either set {1} to a server's URL, or run `mqlab "
      "services up {0}` and set MQLAB_SERVICES_ENV=.mqlab/services.env, or run scripts/setup "
      "(it installs the servers) so that the tests can start a private one.",
      name, var);
}

}  // namespace

Result<std::unique_ptr<PrivateService>> PrivateService::Start(std::string_view name) {
  std::unique_ptr<PrivateService> p(new PrivateService());
  auto svc = services::MakeService(name);
  if (!svc) return std::unexpected(svc.error());
  p->service_ = std::move(*svc);
  auto url = p->service_->Start(p->dir_.path());
  if (!url) return std::unexpected(url.error());
  p->url_ = *url;
  p->running_ = true;
  return p;
}

PrivateService::~PrivateService() {
  if (running_) (void)service_->Stop(dir_.path());
}

Status PrivateService::Stop() {
  running_ = false;
  return service_->Stop(dir_.path());
}

Status PrivateService::Restart() {
  if (running_) {
    if (auto s = Stop(); !s) return s;
  }
  auto url = service_->Start(dir_.path());
  if (!url) return std::unexpected(url.error());
  running_ = true;
  if (*url != url_) return Internal(fmt::format("restarted on {} instead of {}", *url, url_));
  return Ok();
}

std::string TestServiceUrl(std::string_view name) {
  auto probe = services::MakeService(name);
  if (!probe) {
    ADD_FAILURE() << probe.error().ToString();
    return "";
  }
  const std::string var((*probe)->env_var());
  if (std::string url = Env(var); !url.empty()) return url;
  if (std::string file = Env("MQLAB_SERVICES_ENV"); !file.empty()) {
    auto vars = services::ReadEnvFile(file);
    if (!vars) {
      ADD_FAILURE() << "MQLAB_SERVICES_ENV=" << file << ": " << vars.error().ToString() << "\n"
                    << HowTo(name, var);
      return "";
    }
    auto it = vars->find(var);
    if (it == vars->end() || it->second.empty()) {
      ADD_FAILURE() << file << " has no " << var << " (is " << name << " up?)\n" << HowTo(name, var);
      return "";
    }
    return it->second;
  }
  // One private server per kind for the whole process; destroyed (stopped) at exit.
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<PrivateService>, std::less<>> servers;
  std::lock_guard lock(mu);
  auto it = servers.find(name);
  if (it == servers.end()) {
    auto s = PrivateService::Start(name);
    if (!s) {
      ADD_FAILURE() << "cannot start a private " << name << " server: " << s.error().ToString()
                    << "\n" << HowTo(name, var);
      return "";
    }
    it = servers.emplace(std::string(name), std::move(*s)).first;
  }
  return it->second->url();
}

TestPrometheusServer TestPrometheus() {
  if (std::string dir = Env("MQLAB_RUNTIME_DIR"); !dir.empty()) {
    auto url = (*services::MakeService("prometheus"))->Url(dir);  // a known name
    if (!url) {
      ADD_FAILURE() << "MQLAB_RUNTIME_DIR=" << dir << " has no running Prometheus: "
                    << url.error().ToString()
                    << "\nRun `mqlab services up prometheus --runtime-dir DIR` first, or unset "
                       "MQLAB_RUNTIME_DIR so that the tests start a private Prometheus.";
      return {};
    }
    return {*url, dir};
  }
  static std::mutex mu;
  static std::unique_ptr<PrivateService> server;
  std::lock_guard lock(mu);
  if (!server) {
    auto s = PrivateService::Start("prometheus");
    if (!s) {
      ADD_FAILURE() << "cannot start a private prometheus server: " << s.error().ToString()
                    << "\nInstall it (apt-get install prometheus; scripts/setup does).";
      return {};
    }
    server = std::move(*s);
  }
  return {server->url(), server->runtime_dir()};
}

std::string UniqueSchemaName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::string test;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = info->name();
  }
  std::string tail = "_" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1));
  std::string name = std::string(prefix) + "_" + test;
  for (char& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_';
  }
  name = name.substr(0, 63 - tail.size());
  return name + tail;
}

}  // namespace mqlab::testing
