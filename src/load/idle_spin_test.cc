#include "load/idle_spin.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;

TEST(IdleSpinTest, GrowsAfterShortSleepsAndShrinksAfterLongOnes) {
  IdleSpin spin(50us, 10us);
  EXPECT_EQ(spin.window(), 0ns);
  spin.AfterSleep(30us);  // within max: the first window
  EXPECT_EQ(spin.window(), 10us);
  spin.AfterSleep(12us);
  EXPECT_EQ(spin.window(), 20us);
  spin.AfterSleep(25us);
  EXPECT_EQ(spin.window(), 40us);
  spin.AfterSleep(45us);
  EXPECT_EQ(spin.window(), 50us);  // capped
  spin.AfterSleep(50us);
  EXPECT_EQ(spin.window(), 50us);
  spin.AfterSleep(1ms);  // beyond max: halves
  EXPECT_EQ(spin.window(), 25us);
  spin.AfterSleep(1ms);
  EXPECT_EQ(spin.window(), 12500ns);
  spin.AfterSleep(1ms);  // below grow_start: off
  EXPECT_EQ(spin.window(), 0ns);
  spin.AfterSleep(1ms);
  EXPECT_EQ(spin.window(), 0ns);
}

TEST(IdleSpinTest, ZeroNeverSpins) {
  IdleSpin spin(0ns);
  spin.AfterSleep(1us);
  EXPECT_EQ(spin.window(), 0ns);
  boost::asio::io_context ioc;
  int ran = 0;
  for (int i = 0; i < 3; ++i) boost::asio::post(ioc, [&] { ++ran; });
  spin.Run(ioc);
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(spin.spun(), 0ns);
}

// A chain of timers `gap` apart, counting `left` down to 0.
void Chain(boost::asio::steady_timer& timer, std::chrono::nanoseconds gap, int& left) {
  timer.expires_after(gap);
  timer.async_wait([&timer, gap, &left](boost::system::error_code) {
    if (--left > 0) Chain(timer, gap, left);
  });
}

// Runs a chain of `n` events `gap` apart under `spin` to its end; true if every event ran.
bool RunChain(IdleSpin& spin, std::chrono::nanoseconds gap, int n) {
  boost::asio::io_context ioc;
  boost::asio::steady_timer timer(ioc);
  Chain(timer, gap, n);
  spin.Run(ioc);  // returns when the chain is done: the io_context runs out of work
  return n == 0;
}

TEST(IdleSpinTest, DenseEventsAreCaughtBySpinningInsteadOfSleeping) {
  // Events 100 µs apart, window up to 2 ms: after the first short sleeps the window covers the
  // gap, so later events are caught while spinning (no sleep, no wake-up). Generous bounds: a
  // loaded machine (or a sanitizer) only makes sleeps longer, and 2 ms is far above 100 µs.
  IdleSpin spin(2ms, 1ms);
  EXPECT_TRUE(RunChain(spin, 100us, 200));
  EXPECT_GT(spin.spins_won(), 100);
  EXPECT_GT(spin.spins_won(), spin.spins_lost());
  EXPECT_GT(spin.spun(), 0ns);
}

TEST(IdleSpinTest, SparseEventsNeverStartASpin) {
  // Events 5 ms apart with a 1 ms max: every sleep is longer than max, so the window stays 0
  // and the thread sleeps between events like a plain run.
  IdleSpin spin(1ms);
  EXPECT_TRUE(RunChain(spin, 5ms, 20));
  EXPECT_EQ(spin.spins_won() + spin.spins_lost(), 0);
  EXPECT_EQ(spin.spun(), 0ns);
  EXPECT_EQ(spin.window(), 0ns);
}

}  // namespace
}  // namespace mqlab::load
