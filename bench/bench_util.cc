#include "bench/bench_util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "mqlab/common/clock.h"
#include "load/machine.h"
#include "services/process.h"

namespace mqlab::bench {

TempFolder::TempFolder(const std::string& prefix) {
  std::string pattern = "/tmp/mqlab-" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    fmt::print(stderr, "cannot create {}\n", pattern);
    std::exit(1);
  }
  path_ = buf.data();
}

TempFolder::~TempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildServer ChildServer::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  ChildServer c;
  auto pid = services::Spawn({.argv = argv, .output = log_path});
  if (!pid) {
    fmt::print(stderr, "cannot start {}: {}\n", argv[0], pid.error().ToString());
    std::exit(1);
  }
  c.pid_ = *pid;
  static const std::regex kUrl(R"(listening on (http://[^ \)\n]+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log_path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::smatch m;
    std::string log = ss.str();
    if (std::regex_search(log, m, kUrl)) {
      c.url_ = m[1];
      return c;
    }
    if (services::ReapIfExited(c.pid_)) {
      fmt::print(stderr, "{} exited before it was ready:\n{}\n", argv[0], log);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fmt::print(stderr, "{} not ready in 30 s (log: {})\n", argv[0], log_path);
  std::exit(1);
}

ChildServer::ChildServer(ChildServer&& o) noexcept : pid_(o.pid_), url_(std::move(o.url_)) {
  o.pid_ = -1;
}

ChildServer::~ChildServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!services::WaitGone(pid_, std::chrono::seconds(30))) {
    kill(pid_, SIGKILL);
    services::WaitGone(pid_, std::chrono::seconds(5));
  }
}

double ScrapeValue(std::string_view text, std::string_view series) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
    pos = end + 1;
  }
  return 0;
}

nlohmann::json MachineInfo() { return load::MachineInfo(); }

}  // namespace mqlab::bench
