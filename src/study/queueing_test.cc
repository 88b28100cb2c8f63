#include "study/queueing.h"

#include <gtest/gtest.h>

namespace mqlab::study {
namespace {

TEST(QueueingTest, MM1MatchesTheClosedForm) {
  // M/M/1: Wq = ρ / (μ − λ).
  auto p = Predict(8.0, 0.1, 1);  // λ = 8/s, μ = 10/s, ρ = 0.8
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->rho, 0.8, 1e-12);
  EXPECT_NEAR(p->wq_mmc_s, 0.8 / (10 - 8), 1e-12);
  EXPECT_NEAR(p->w_mmc_s, 0.4 + 0.1, 1e-12);
}

TEST(QueueingTest, MD1IsHalfOfMM1) {
  // Pollaczek–Khinchine for deterministic service: Wq = ρ S / (2 (1 − ρ)).
  auto p = Predict(8.0, 0.1, 1);
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->wq_mdc_s, 0.8 * 0.1 / (2 * 0.2), 1e-12);
}

TEST(QueueingTest, ErlangCKnownValues) {
  // Textbook values: c = 2, a = 1 → C = 1/3; c = 5, a = 4 → C ≈ 0.5541.
  EXPECT_NEAR(ErlangC(2, 1.0), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(ErlangC(5, 4.0), 0.5541, 1e-4);
  EXPECT_NEAR(ErlangC(1, 0.5), 0.5, 1e-12);  // c = 1: P(wait) = ρ
}

TEST(QueueingTest, MDcSitsBelowMMcAndAboveHalfOfIt) {
  for (int c : {2, 4, 8}) {
    auto p = Predict(0.8 * c / 0.02, 0.02, c);
    ASSERT_TRUE(p);
    EXPECT_LT(p->wq_mdc_s, p->wq_mmc_s);
    EXPECT_GT(p->wq_mdc_s, 0.5 * p->wq_mmc_s);
  }
}

TEST(QueueingTest, NoSteadyStateAtOrBeyondCapacity) {
  EXPECT_FALSE(Predict(10.0, 0.1, 1));
  EXPECT_FALSE(Predict(25.0, 0.1, 2));
  EXPECT_FALSE(Predict(0.0, 0.1, 1));
  EXPECT_DOUBLE_EQ(Capacity(4, 0.02), 200.0);
}

}  // namespace
}  // namespace mqlab::study
