#include "load/idle_spin.h"

#include <algorithm>

#include "mqlab/common/clock.h"

namespace mqlab::load {
namespace {

SteadyTime Now() { return std::chrono::steady_clock::now(); }

}  // namespace

void IdleSpin::AfterSleep(Nanos idle) {
  if (max_ <= Nanos::zero()) return;
  if (idle <= max_) {
    // An event soon after the spin gave up: a longer window would have caught it.
    if (idle > window_) window_ = std::min(max_, std::max(grow_start_, 2 * window_));
  } else {
    window_ /= 2;
    if (window_ < grow_start_) window_ = Nanos::zero();
  }
}

void IdleSpin::Run(boost::asio::io_context& ioc) {
  if (max_ <= Nanos::zero()) {
    ioc.run();
    return;
  }
  while (!ioc.stopped()) {
    // Every ready handler, then a non-blocking look at the sockets and timers.
    if (ioc.poll() != 0) continue;
    if (ioc.stopped()) break;  // out of work
    const SteadyTime idle_start = Now();
    if (window_ > Nanos::zero()) {
      const SteadyTime until = idle_start + window_;
      bool won = false;
      SteadyTime t;
      do {
        won = ioc.poll_one() != 0;
        t = Now();
      } while (!won && t < until && !ioc.stopped());
      spun_ += t - idle_start;
      if (won) {
        ++won_;
        continue;
      }
      ++lost_;
      if (ioc.stopped()) break;
    }
    ioc.run_one();
    AfterSleep(Now() - idle_start);
  }
}

}  // namespace mqlab::load
