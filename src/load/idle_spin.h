// IdleSpin: before a generator thread sleeps in epoll_wait, it polls its event loop for a short,
// adaptive while. The rule is that of Linux's cpuidle-haltpoll governor
// (drivers/cpuidle/governors/haltpoll.c), applied to one thread instead of a CPU.
//
// Why: a response that reaches a sleeping generator thread pays for a wake-up twice. The
// server's send path has to wake the thread: on a virtual machine that is an inter-processor
// interrupt and a VM exit, tens of µs when the guest does not halt-poll (the machines we
// measure on: cpuidle haltpoll with guest_halt_poll_ns = 0). The response's measured latency
// also grows by the time the thread takes to run again. A thread that is still polling when the
// response lands pays neither. Measured: docs/notes-load.md § Idle spin.
//
// The rule: `window` starts at 0. A sleep that ended within `max` of going idle means events
// come densely and the poll was too short: the window grows, to `grow_start`, then doubling, up
// to `max`. A sleep longer than `max` halves it, and below `grow_start` it is 0. So a thread
// spins only while events come within tens of µs of each other (a saturation run); a
// generator at a few thousand requests per second, gaps of hundreds of µs, hardly spins.
//
// Cost: the spin is CPU time a plain run spends asleep; spun() counts it, so the generator's
// busy share can leave it out.
//
// Threading: one per generator thread, used on that thread.
#ifndef MQLAB_LOAD_IDLE_SPIN_H_
#define MQLAB_LOAD_IDLE_SPIN_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>

#include "load/options.h"  // Nanos

namespace mqlab::load {

class IdleSpin {
 public:
  // `max` 0: never spin (Run is io_context::run). REQUIRES: 0 <= grow_start <= max.
  IdleSpin(Nanos max, Nanos grow_start) : max_(max), grow_start_(grow_start) {}
  // grow_start = max / 5 (10 µs for the default 50 µs; haltpoll's ratio is 1/4 of 200 µs).
  explicit IdleSpin(Nanos max) : IdleSpin(max, max / 5) {}

  // How long the next idle moment spins before sleeping.
  Nanos window() const { return window_; }
  // Adapts the window after an idle moment that ended in a sleep; `idle` runs from going idle
  // (the spin included) to the sleep's end.
  void AfterSleep(Nanos idle);

  // Runs `ioc` until it stops (as io_context::run), spinning before each sleep.
  void Run(boost::asio::io_context& ioc);

  Nanos spun() const { return spun_; }          // time spent spinning
  int64_t spins_won() const { return won_; }    // idle moments a spin ended (no sleep)
  int64_t spins_lost() const { return lost_; }  // spins that ran out and slept

 private:
  const Nanos max_, grow_start_;
  Nanos window_{0};
  Nanos spun_{0};
  int64_t won_ = 0, lost_ = 0;
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_IDLE_SPIN_H_
