#include "chaos/servers.h"

#include <fmt/format.h>

#include <chrono>

#include "services/redis_service.h"

namespace mqlab::chaos {

namespace fs = std::filesystem;

ChaosServers::ChaosServers(fs::path runtime_dir) : runtime_dir_(std::move(runtime_dir)) {}

ChaosServers::~ChaosServers() { Down(); }

Result<ChaosServers::Entry*> ChaosServers::Find(const std::string& name) {
  if (auto it = entries_.find(name); it != entries_.end()) return &it->second;
  Entry e;
  if (name == "redis-volatile") {
    e.service =
        std::make_unique<services::RedisService>(services::RedisServiceOptions{.durable = false});
    e.dir = runtime_dir_ / "volatile";
  } else {
    auto svc = services::MakeService(name);
    if (!svc) return std::unexpected(svc.error());
    e.service = std::move(*svc);
    e.dir = runtime_dir_;
  }
  return &entries_.emplace(name, std::move(e)).first->second;
}

Result<std::string> ChaosServers::Up(const std::string& name) {
  auto e = Find(name);
  if (!e) return std::unexpected(e.error());
  if (!(*e)->url.empty()) return (*e)->url;
  std::error_code ec;
  fs::create_directories((*e)->dir, ec);
  auto url = (*e)->service->Start((*e)->dir);
  if (!url) return std::unexpected(url.error());
  (*e)->url = *url;
  started_.push_back(name);
  return *url;
}

Result<double> ChaosServers::Restart(const std::string& name,
                                     const std::function<void()>& while_down) {
  auto e = Find(name);
  if (!e) return std::unexpected(e.error());
  const auto t0 = std::chrono::steady_clock::now();
  if (auto s = (*e)->service->Stop((*e)->dir); !s) return std::unexpected(s.error());
  if (while_down) while_down();
  auto url = (*e)->service->Start((*e)->dir);
  if (!url) {
    (*e)->url.clear();
    return std::unexpected(url.error());
  }
  if (*url != (*e)->url) {
    return Internal(fmt::format("{} came back on {} instead of {}: clients cannot follow it", name,
                                *url, (*e)->url));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void ChaosServers::Down() {
  for (auto it = started_.rbegin(); it != started_.rend(); ++it) {
    Entry& e = entries_.at(*it);
    (void)e.service->Stop(e.dir);
    e.url.clear();
  }
  started_.clear();
}

std::string ChaosServers::Url(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? "" : it->second.url;
}

}  // namespace mqlab::chaos
