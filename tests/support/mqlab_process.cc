#include "tests/support/mqlab_process.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "services/process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::testing {

namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::unique_ptr<MqlabProcess>> MqlabProcess::Start(std::vector<std::string> args,
                                                          std::filesystem::path log_path,
                                                          std::string ready_marker,
                                                          std::chrono::milliseconds timeout) {
  std::unique_ptr<MqlabProcess> p(new MqlabProcess());
  p->log_ = std::move(log_path);
  args.insert(args.begin(), MQLAB_BINARY);
  auto pid = services::Spawn({.argv = args, .output = p->log_, .new_session = true});
  if (!pid) return std::unexpected(pid.error());
  p->pid_ = *pid;
  const services::ReadyWait ready = services::WaitReady(p->pid_, p->log_, ready_marker, timeout);
  switch (ready.outcome) {
    case services::ReadyWait::Outcome::kReady:
      p->url_ = ready.url;
      return p;
    case services::ReadyWait::Outcome::kExited:
      p->exit_code_ = ready.exit_code;
      return Internal(fmt::format("mqlab {} exited with {} before it was ready:\n{}", args[1],
                                  ready.exit_code, ready.log));
    case services::ReadyWait::Outcome::kTimedOut:
      break;
  }
  return DeadlineExceeded(fmt::format("mqlab {} not ready within {} ms:\n{}", args[1],
                                      timeout.count(), ready.log));
}

MqlabProcess::~MqlabProcess() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    services::WaitGone(pid_, std::chrono::seconds(10));
  }
}

void MqlabProcess::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) kill(pid_, sig);
}

std::optional<int> MqlabProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = services::ReapIfExited(pid_)) {
      exit_code_ = *code;
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::string MqlabProcess::Log() const { return ReadFile(log_); }

RunResult RunMqlab(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  TempDir dir("run");
  std::vector<std::string> argv = args;
  argv.insert(argv.begin(), MQLAB_BINARY);
  auto out = dir.path() / "out.log";
  auto code = services::RunToExit({.argv = argv, .output = out, .new_session = true}, timeout);
  return RunResult{code ? *code : -1, ReadFile(out)};
}

}  // namespace mqlab::testing
