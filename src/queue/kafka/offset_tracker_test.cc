#include "queue/kafka/offset_tracker.h"

#include <gtest/gtest.h>

namespace mqlab::queue::kafka {
namespace {

constexpr PartitionKey kP0{0, 0};
constexpr PartitionKey kP1{0, 1};

TEST(OffsetTrackerTest, NothingFetchedCommitsNothing) {
  OffsetTracker t;
  t.Assign(kP0);
  EXPECT_EQ(t.CommitPosition(kP0), std::nullopt);
  EXPECT_TRUE(t.PendingCommits().empty());
  EXPECT_EQ(t.NextFetch(kP0), -1);
}

TEST(OffsetTrackerTest, OutOfOrderSettlementCommitsOnlyTheContiguousPrefix) {
  OffsetTracker t;
  const uint64_t g = t.Assign(kP0);
  for (int64_t o = 10; o < 20; ++o) {
    ASSERT_TRUE(t.Fetched(kP0, g, o));
    ASSERT_TRUE(t.HandOut(kP0, g));
  }
  EXPECT_EQ(t.CommitPosition(kP0), 10);
  for (int64_t o : {11, 12, 14, 15, 17}) ASSERT_TRUE(t.Settle(kP0, g, o));
  EXPECT_EQ(t.CommitPosition(kP0), 10) << "10 is still running";
  ASSERT_TRUE(t.Settle(kP0, g, 10));
  EXPECT_EQ(t.CommitPosition(kP0), 13) << "jumps over the settled 11 and 12, stops at 13";
  ASSERT_TRUE(t.Settle(kP0, g, 13));
  EXPECT_EQ(t.CommitPosition(kP0), 16);
  for (int64_t o : {16, 18, 19}) ASSERT_TRUE(t.Settle(kP0, g, o));
  EXPECT_EQ(t.CommitPosition(kP0), 20) << "all settled: one past the last fetched";
  EXPECT_EQ(t.HandedOut(kP0), 0);
  EXPECT_EQ(t.Outstanding(kP0), 0u);
}

TEST(OffsetTrackerTest, PendingCommitsFollowConfirmedCommits) {
  OffsetTracker t;
  const uint64_t g0 = t.Assign(kP0);
  const uint64_t g1 = t.Assign(kP1);
  ASSERT_TRUE(t.Fetched(kP0, g0, 0));
  ASSERT_TRUE(t.Fetched(kP1, g1, 5));
  ASSERT_TRUE(t.HandOut(kP0, g0));
  ASSERT_TRUE(t.Settle(kP0, g0, 0));
  auto pending = t.PendingCommits();
  ASSERT_EQ(pending.size(), 1u) << "p1's only offset is not settled";
  EXPECT_EQ(pending[0].first, kP0);
  EXPECT_EQ(pending[0].second, 1);
  t.MarkCommitted(kP0, 1);
  EXPECT_TRUE(t.PendingCommits().empty());
}

TEST(OffsetTrackerTest, SettlementAfterRevocationDoesNotCount) {
  OffsetTracker t;
  const uint64_t g = t.Assign(kP0);
  ASSERT_TRUE(t.Fetched(kP0, g, 0));
  ASSERT_TRUE(t.Fetched(kP0, g, 1));
  ASSERT_TRUE(t.HandOut(kP0, g));
  ASSERT_TRUE(t.HandOut(kP0, g));
  ASSERT_TRUE(t.Settle(kP0, g, 0));
  t.BeginRevoke(kP0);
  EXPECT_EQ(t.Active(kP0), std::nullopt) << "a revoking partition hands out nothing";
  EXPECT_FALSE(t.HandOut(kP0, g));
  EXPECT_EQ(t.Revoke(kP0), 1) << "commit what is settled at revocation";
  EXPECT_FALSE(t.Settle(kP0, g, 1)) << "settled after revocation: must not commit";
  // Assigned back (an eager rebalance gives the same partition again): a new generation.
  const uint64_t g2 = t.Assign(kP0);
  EXPECT_NE(g2, g);
  EXPECT_FALSE(t.Settle(kP0, g, 1)) << "an old generation never settles the new one";
  EXPECT_FALSE(t.Release(kP0, g));
  EXPECT_EQ(t.CommitPosition(kP0), std::nullopt);
}

TEST(OffsetTrackerTest, SettlementDuringRevocationIsCommitted) {
  OffsetTracker t;
  const uint64_t g = t.Assign(kP0);
  ASSERT_TRUE(t.Fetched(kP0, g, 0));
  ASSERT_TRUE(t.HandOut(kP0, g));
  t.BeginRevoke(kP0);
  EXPECT_EQ(t.HandedOut(kP0), 1);
  ASSERT_TRUE(t.Settle(kP0, g, 0)) << "in-flight work finishing during the grace period";
  EXPECT_EQ(t.HandedOut(kP0), 0);
  EXPECT_EQ(t.Revoke(kP0), 1);
}

TEST(OffsetTrackerTest, ReleasedMessageStaysOutstanding) {
  OffsetTracker t;
  const uint64_t g = t.Assign(kP0);
  ASSERT_TRUE(t.Fetched(kP0, g, 0));
  ASSERT_TRUE(t.Fetched(kP0, g, 1));
  ASSERT_TRUE(t.HandOut(kP0, g));
  EXPECT_TRUE(t.Release(kP0, g)) << "may be handed out again";
  EXPECT_EQ(t.HandedOut(kP0), 0);
  EXPECT_EQ(t.CommitPosition(kP0), 0);
  t.BeginRevoke(kP0);
  ASSERT_TRUE(t.HandOut(kP0, g) == false);
  EXPECT_EQ(t.Revoke(kP0), std::nullopt) << "nothing settled, nothing to commit";
}

TEST(OffsetTrackerTest, RefetchedOffsetsAreIgnored) {
  OffsetTracker t;
  const uint64_t g = t.Assign(kP0);
  ASSERT_TRUE(t.Fetched(kP0, g, 3));
  ASSERT_TRUE(t.Fetched(kP0, g, 5));  // gaps (compaction, control records) are fine
  EXPECT_FALSE(t.Fetched(kP0, g, 4));
  EXPECT_FALSE(t.Fetched(kP0, g, 5));
  EXPECT_EQ(t.NextFetch(kP0), 6);
  ASSERT_TRUE(t.HandOut(kP0, g));
  ASSERT_TRUE(t.Settle(kP0, g, 3));
  EXPECT_EQ(t.CommitPosition(kP0), 5);
  EXPECT_FALSE(t.Fetched(kP0, g + 99, 6)) << "unknown generation";
}

}  // namespace
}  // namespace mqlab::queue::kafka
