#include "study/queueing.h"

#include <cmath>

namespace mqlab::study {

double ErlangC(int c, double a) {
  // Erlang B by recurrence: B(0) = 1, B(k) = a B(k−1) / (k + a B(k−1)); then
  // C = c B / (c − a (1 − B)).
  double b = 1.0;
  for (int k = 1; k <= c; ++k) b = a * b / (k + a * b);
  return c * b / (c - a * (1 - b));
}

std::optional<Prediction> Predict(double lambda, double service_s, int c) {
  if (!(lambda > 0) || !(service_s > 0) || c < 1) return std::nullopt;
  const double mu = 1.0 / service_s;
  const double a = lambda / mu;
  const double rho = a / c;
  if (rho >= 1.0) return std::nullopt;
  Prediction p;
  p.rho = rho;
  p.wq_mmc_s = ErlangC(c, a) / (c * mu - lambda);
  const double correction =
      c == 1 ? 1.0 : 1.0 + (1 - rho) * (c - 1) * (std::sqrt(4.0 + 5.0 * c) - 2) / (16 * rho * c);
  p.wq_mdc_s = 0.5 * p.wq_mmc_s * correction;
  p.w_mmc_s = p.wq_mmc_s + service_s;
  p.w_mdc_s = p.wq_mdc_s + service_s;
  return p;
}

}  // namespace mqlab::study
