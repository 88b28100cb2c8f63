// WatchStopSignals, the stop-signal watcher of `mqlab study`, `chaos` and `overload`: the first
// SIGINT/SIGTERM prints its line and requests the stop, a second one exits 130, and without a
// signal it ends when asked. The signal cases run in a death-test child (signals go to the whole
// process, whose mask BlockStopSignals() sets).
#include "common/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace mqlab {
namespace {

// In a fresh process: watch, send ourselves `signals` SIGTERMs (the second after the stop was
// requested), then exit 0 if the stop was requested within 5 s, 1 if not.
[[noreturn]] void WatchAndSignal(int signals) {
  BlockStopSignals();
  std::stop_source stop;
  std::jthread watcher = WatchStopSignals(stop, "watcher test: stopping");
  kill(getpid(), SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Joined before _exit in every case: a thread still running at exit is a leak to TSan, which
  // then changes the exit code.
  if (stop.stop_requested()) {
    watcher.join();  // it returns once it requested the stop; the forced exit is armed by then
    if (signals > 1) {
      kill(getpid(), SIGTERM);
      std::this_thread::sleep_for(std::chrono::seconds(5));
    }
  } else {
    watcher.request_stop();
    watcher.join();
  }
  _exit(stop.stop_requested() ? 0 : 1);
}

TEST(SignalsDeathTest, FirstSignalPrintsTheMessageAndRequestsTheStop) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(WatchAndSignal(1), testing::ExitedWithCode(0), "\nwatcher test: stopping\n");
}

TEST(SignalsDeathTest, SecondSignalExitsAt130) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(WatchAndSignal(2), testing::ExitedWithCode(130),
              "watcher test: stopping\n.*second stop signal, exiting now");
}

TEST(SignalsTest, WatcherEndsWhenAskedWithoutASignal) {
  std::stop_source stop;
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::jthread watcher = WatchStopSignals(stop, "unused");
    watcher.request_stop();
  }  // joined here
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_FALSE(stop.stop_requested());
}

}  // namespace
}  // namespace mqlab
