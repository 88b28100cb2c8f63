// When the open model's requests should be sent: the intended send times.
//
// RateProfile is the arrival rate over time, piecewise linear: a constant rate, or k6's
// ramping-arrival-rate stages (each moves linearly from the previous rate to its target), with
// the warm-up prepended as a constant segment. Λ(t) = ∫₀ᵗ rate is the expected number of
// arrivals by t; both schedules are Λ⁻¹ of something:
//   even     arrival i at Λ⁻¹(i), i = 0, 1, 2, … (k6's arrival-rate executors, wrk2's -R): at a
//            constant rate R, every 1/R exactly, the first at t = 0;
//   poisson  arrival i at Λ⁻¹(E₁ + … + Eᵢ₊₁), Eₖ ~ Exp(1) i.i.d.: a (non-homogeneous) Poisson
//            process by time change; at a constant rate, exponential gaps of mean 1/R (CV 1).
// The exponential draws come from a seeded mt19937_64 through an explicit formula (no
// library distribution whose algorithm may change), so a seed gives the same times anywhere.
//
// Threads share one global sequence: thread k of T takes arrivals k, k+T, k+2T, … (each thread
// runs its own copy of the generator and skips the others'), so the set of intended send times
// depends on the seed only, never on the thread count, and no thread waits for another.
//
// Threading: an ArrivalSchedule belongs to one thread; RateProfile is immutable once built.
#ifndef MQLAB_LOAD_SCHEDULE_H_
#define MQLAB_LOAD_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "load/options.h"

namespace mqlab::load {

class RateProfile {
 public:
  // The open model's profile for `o` (REQUIRES: o.model() == kOpen, o valid): warm-up at the
  // starting rate (the first positive rate), then the constant rate or the ramp, over
  // o.warmup + o.MeasuredDuration().
  static RateProfile For(const LoadOptions& o);
  // From explicit pieces: `start_rate`, then linear stages.
  RateProfile(double start_rate, const std::vector<RampStage>& stages);

  double duration_seconds() const { return total_s_; }
  double RateAt(double t) const;
  // Λ(t): expected arrivals in [0, t].
  double ExpectedArrivals(double t) const;
  // Λ⁻¹(x): the earliest time at which Λ reaches x; nullopt when x is beyond the profile's end
  // (x == Λ(end) is too: the end is exclusive).
  std::optional<double> TimeOfCount(double x) const;

 private:
  struct Segment {
    double t0, length, r0, r1, count0;  // start, length (s), rates at both ends, Λ(t0)
    double Count() const { return (r0 + r1) / 2 * length; }
  };
  std::vector<Segment> segments_;
  double total_s_ = 0;
  double total_count_ = 0;
};

class ArrivalSchedule {
 public:
  // This thread's share (`offset` of `stride`) of the arrivals of `profile`. `profile` must
  // outlive the schedule.
  ArrivalSchedule(const RateProfile& profile, Arrivals arrivals, uint64_t seed, int stride = 1,
                  int offset = 0);
  // The next intended send time of this share, as an offset from the profile's start; nullopt
  // after the last one.
  std::optional<Nanos> Next();

 private:
  // The next arrival of the global sequence (seconds), or nullopt at the end.
  std::optional<double> NextGlobal();
  double Exp1();

  const RateProfile& profile_;
  const Arrivals arrivals_;
  const int stride_;
  std::mt19937_64 rng_;
  uint64_t index_ = 0;  // global index of the next arrival
  double count_ = 0;    // Poisson: running sum of Exp(1) draws
  bool first_ = true;
  int offset_;
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_SCHEDULE_H_
