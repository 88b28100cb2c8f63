// Queueing-theory predictions printed beside every measured curve: what an ideal system with c
// servers of mean service time S would do at arrival rate λ (Poisson arrivals, as the study's load
// generator sends them).
//
//   capacity  c / S                          the throughput ceiling
//   ρ         λ S / c                        utilisation; the predictions hold for ρ < 1
//   M/M/c     exponential service: Erlang C  Wq = C(c, a) / (c μ − λ), a = λ / μ
//   M/D/c     fixed service: no closed form; the Cosmetatos approximation
//             Wq(M/D/c) ≈ ½ · Wq(M/M/c) · [1 + (1 − ρ)(c − 1)(√(4 + 5c) − 2) / (16 ρ c)]
//             (exact for c = 1: Wq = ρ S / (2 (1 − ρ)), the Pollaczek–Khinchine value)
//
// Pure functions: thread-safe.
#ifndef MQLAB_STUDY_QUEUEING_H_
#define MQLAB_STUDY_QUEUEING_H_

#include <optional>

namespace mqlab::study {

// Erlang C: the probability that an arrival waits, for c servers and offered load a = λ/μ
// (requires a < c). Computed with the stable recurrence on Erlang B.
double ErlangC(int c, double a);

struct Prediction {
  double rho = 0;       // utilisation
  double wq_mmc_s = 0;  // mean wait in queue, M/M/c
  double wq_mdc_s = 0;  // mean wait in queue, M/D/c (Cosmetatos)
  double w_mmc_s = 0;   // mean time in system = Wq + S
  double w_mdc_s = 0;
};

// nullopt when ρ ≥ 1 (no steady state: the queue grows without bound) or inputs are not positive.
std::optional<Prediction> Predict(double arrival_rate, double service_s, int servers);

inline double Capacity(int servers, double service_s) { return servers / service_s; }

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_QUEUEING_H_
