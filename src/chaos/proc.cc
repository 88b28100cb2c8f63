#include "chaos/proc.h"

#include <fmt/format.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "services/process.h"

namespace mqlab::chaos {

namespace fs = std::filesystem;

Result<std::unique_ptr<Proc>> Proc::Start(const fs::path& binary, const ProcSpec& spec,
                                          const fs::path& logs_dir,
                                          std::chrono::milliseconds timeout) {
  const fs::path log_path = logs_dir / (spec.name + ".log");
  std::vector<std::string> argv = {binary.string()};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  // new_session: a Ctrl-C aimed at `mqlab chaos` reaches the runner, which stops its processes
  // in order, rather than every process at once.
  auto pid = services::Spawn({.argv = argv, .output = log_path, .new_session = true});
  if (!pid) return std::unexpected(pid.error());
  std::unique_ptr<Proc> p(new Proc());
  p->name_ = spec.name;
  p->pid_ = *pid;
  static const std::regex kUrl(R"((http://[^ \)\n]+))");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log_path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string log = ss.str();
    if (size_t at = log.find(spec.ready_marker); at != std::string::npos) {
      const std::string line = log.substr(at, log.find('\n', at) - at);
      std::smatch m;
      if (std::regex_search(line, m, kUrl)) p->url_ = m[1];
      return p;
    }
    if (auto code = services::ReapIfExited(p->pid_)) {
      p->pid_ = -1;
      return Unavailable(fmt::format("{} exited with {} before it was ready; {} ends with: {}",
                                     spec.name, *code, log_path.string(),
                                     services::TailOfFile(log_path, 5)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  p->Terminate(std::chrono::seconds(2));
  return DeadlineExceeded(fmt::format("{} was not ready within {} ms (log: {})", spec.name,
                                      timeout.count(), log_path.string()));
}

Proc::~Proc() { Terminate(std::chrono::seconds(5)); }

void Proc::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  services::WaitGone(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

void Proc::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void Proc::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

int Proc::Terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGCONT);  // a paused process cannot act on SIGTERM
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = services::ReapIfExited(pid_)) {
      pid_ = -1;
      return *code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return 128 + SIGKILL;
}

}  // namespace mqlab::chaos
