#include "load/schedule.h"

#include <algorithm>
#include <cmath>

namespace mqlab::load {
namespace {

double Seconds(Nanos d) { return std::chrono::duration<double>(d).count(); }

// Pieces of a profile before they become segments: rate r0 → r1 over `length` seconds.
struct Piece {
  double r0, r1, length;
};

// Cuts or extends `pieces` to exactly `length` seconds (extending holds the last rate).
void FitTo(std::vector<Piece>& pieces, double length) {
  double at = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece& p = pieces[i];
    if (at + p.length >= length) {
      const double keep = length - at;
      p.r1 = p.r0 + (p.r1 - p.r0) * (keep / p.length);
      p.length = keep;
      pieces.resize(i + 1);
      return;
    }
    at += p.length;
  }
  const double last = pieces.empty() ? 0 : pieces.back().r1;
  if (length > at) pieces.push_back({last, last, length - at});
}

}  // namespace

RateProfile RateProfile::For(const LoadOptions& o) {
  std::vector<Piece> measured;
  double r = o.rate;
  if (o.ramp.empty()) {
    measured.push_back({r, r, Seconds(o.MeasuredDuration())});
  } else {
    for (const RampStage& s : o.ramp) {
      measured.push_back({r, s.target_rate, Seconds(s.duration)});
      r = s.target_rate;
    }
    FitTo(measured, Seconds(o.MeasuredDuration()));
  }
  RateProfile p(0, {});
  if (o.warmup > Nanos::zero()) {
    // Warm-up at the starting rate, or at the first positive one when the ramp starts at 0.
    double w = o.rate;
    for (size_t i = 0; w <= 0 && i < o.ramp.size(); ++i) w = o.ramp[i].target_rate;
    measured.insert(measured.begin(), Piece{w, w, Seconds(o.warmup)});
  }
  for (const Piece& piece : measured) {
    if (piece.length <= 0) continue;
    p.segments_.push_back({p.total_s_, piece.length, piece.r0, piece.r1, p.total_count_});
    p.total_s_ += piece.length;
    p.total_count_ += p.segments_.back().Count();
  }
  return p;
}

RateProfile::RateProfile(double start_rate, const std::vector<RampStage>& stages) {
  double r = start_rate;
  for (const RampStage& s : stages) {
    Segment seg{total_s_, Seconds(s.duration), r, s.target_rate, total_count_};
    if (seg.length <= 0) continue;
    segments_.push_back(seg);
    total_s_ += seg.length;
    total_count_ += seg.Count();
    r = s.target_rate;
  }
}

double RateProfile::RateAt(double t) const {
  for (const Segment& s : segments_) {
    if (t >= s.t0 && t < s.t0 + s.length) return s.r0 + (s.r1 - s.r0) * (t - s.t0) / s.length;
  }
  return 0;
}

double RateProfile::ExpectedArrivals(double t) const {
  double count = 0;
  for (const Segment& s : segments_) {
    if (t <= s.t0) break;
    const double tau = std::min(t - s.t0, s.length);
    count = s.count0 + s.r0 * tau + (s.r1 - s.r0) * tau * tau / (2 * s.length);
  }
  return count;
}

std::optional<double> RateProfile::TimeOfCount(double x) const {
  // The end is exclusive; the tolerance keeps floating-point noise in Λ(end) from adding or
  // removing the arrival that falls exactly on the end (e.g. the 201st of 100/s over 2 s).
  if (x < 0 || x >= total_count_ - 1e-9 * std::max(1.0, total_count_)) return std::nullopt;
  for (const Segment& s : segments_) {
    const double count = s.Count();
    if (count <= 0 || x >= s.count0 + count) continue;
    // Solve Λ_seg(τ) = r0·τ + a·τ² = y with a = (r1 − r0)/(2·length), in the form that stays
    // exact when a → 0 and when r0 = 0: τ = 2y / (r0 + √(r0² + 4·a·y)).
    const double y = x - s.count0;
    const double a = (s.r1 - s.r0) / (2 * s.length);
    const double root = std::sqrt(std::max(0.0, s.r0 * s.r0 + 4 * a * y));
    const double denominator = s.r0 + root;
    const double tau = denominator > 0 ? 2 * y / denominator : 0;
    return s.t0 + std::min(tau, s.length);
  }
  return std::nullopt;
}

ArrivalSchedule::ArrivalSchedule(const RateProfile& profile, Arrivals arrivals, uint64_t seed,
                                 int stride, int offset)
    : profile_(profile), arrivals_(arrivals), stride_(stride), rng_(seed), offset_(offset) {}

double ArrivalSchedule::Exp1() {
  // A uniform in (0, 1) from the top 53 bits, then inversion: −ln U ~ Exp(1).
  const double u = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
  return -std::log(u);
}

std::optional<double> ArrivalSchedule::NextGlobal() {
  if (arrivals_ == Arrivals::kEven) return profile_.TimeOfCount(static_cast<double>(index_++));
  count_ += Exp1();
  ++index_;
  return profile_.TimeOfCount(count_);
}

std::optional<Nanos> ArrivalSchedule::Next() {
  int skip = first_ ? offset_ : stride_ - 1;
  first_ = false;
  for (int i = 0; i < skip; ++i) {
    if (!NextGlobal()) return std::nullopt;
  }
  std::optional<double> t = NextGlobal();
  if (!t) return std::nullopt;
  return Nanos(static_cast<int64_t>(std::llround(*t * 1e9)));
}

}  // namespace mqlab::load
