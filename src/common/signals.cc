#include "common/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace mqlab {
namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket must be an error code, not a signal that kills the process.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForStopSignal() {
  sigset_t set = StopSet();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

std::optional<int> WaitForStopSignal(std::chrono::milliseconds timeout) {
  sigset_t set = StopSet();
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1000000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig < 0) return std::nullopt;
  return sig;
}

void ArmForcedExit() {
  std::thread([] {
    WaitForStopSignal();
    static const char kMsg[] = "mqlab: second stop signal, exiting now\n";
    (void)!write(2, kMsg, sizeof kMsg - 1);
    _exit(130);
  }).detach();
}

std::jthread WatchStopSignals(std::stop_source stop, std::string message) {
  return std::jthread(
      [stop = std::move(stop), message = std::move(message)](std::stop_token done) mutable {
        while (!done.stop_requested()) {
          if (WaitForStopSignal(std::chrono::milliseconds(200))) {
            fmt::print(stderr, "\n{}\n", message);
            stop.request_stop();
            ArmForcedExit();
            return;
          }
        }
      });
}

}  // namespace mqlab
