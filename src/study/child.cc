#include "study/child.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "services/process.h"

namespace mqlab::study {

namespace fs = std::filesystem;

fs::path SelfBinary() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path("mqlab") : p;
}

Result<std::unique_ptr<Child>> Child::Start(const fs::path& binary, const ChildSpec& spec,
                                            const fs::path& log_path,
                                            std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {binary.string()};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  auto pid = services::Spawn({.argv = argv, .output = log_path});
  if (!pid) return std::unexpected(pid.error());
  std::unique_ptr<Child> c(new Child());
  c->name_ = spec.name;
  c->pid_ = *pid;
  const services::ReadyWait ready = services::WaitReady(*pid, log_path, spec.ready_marker, timeout);
  switch (ready.outcome) {
    case services::ReadyWait::Outcome::kReady:
      c->url_ = ready.url;
      return c;
    case services::ReadyWait::Outcome::kExited:
      c->pid_ = -1;
      return Unavailable(fmt::format("{} exited with {} before it was ready; {} ends with: {}",
                                     spec.name, ready.exit_code, log_path.string(),
                                     services::TailOfFile(log_path, 5)));
    case services::ReadyWait::Outcome::kTimedOut:
      break;
  }
  return DeadlineExceeded(fmt::format("{} was not ready within {} ms (log: {})", spec.name,
                                      timeout.count(), log_path.string()));
}

Child::~Child() { Stop(std::chrono::seconds(5)); }

ProcSample Child::Sample() const {
  ProcSample s;
  const pid_t pid = pid_;
  if (pid <= 0) return s;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) return s;
  // Fields after the command name (which may contain spaces) start after the last ')'.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  if (f.size() < 22) return s;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.alive = f[0] != "Z" && f[0] != "X";
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;  // utime, stime
  s.rss_mb = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGE_SIZE)) / (1024.0 * 1024.0);
  return s;
}

int Child::Stop(std::chrono::milliseconds grace) {
  const pid_t pid = pid_;
  if (pid <= 0) return 0;
  kill(pid, SIGCONT);
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = services::ReapIfExited(pid)) {
      pid_ = -1;
      return *code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return 128 + SIGKILL;
}

void Child::Kill9() {
  const pid_t pid = pid_;
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  services::WaitGone(pid, std::chrono::seconds(10));
  pid_ = -1;
}

void Child::Pause() {
  if (const pid_t pid = pid_; pid > 0) kill(pid, SIGSTOP);
}

void Child::Resume() {
  if (const pid_t pid = pid_; pid > 0) kill(pid, SIGCONT);
}

}  // namespace mqlab::study
