#include "queue/memory/memory_queue.h"

#include <gtest/gtest.h>

#include "queue/queue_conformance_test.h"

namespace mqlab::queue {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Memory, QueueConformanceTest,
    ::testing::Values(QueueFactoryParam{
        "memory", [](const std::string&) -> std::unique_ptr<JobQueue> {
          return std::make_unique<MemoryQueue>();
        }}),
    [](const auto& info) { return info.param.kind; });

TEST(MemoryQueueTest, FullQueueRejectsButRetriesAreNeverLost) {
  MemoryQueue q(MemoryQueueOptions{.capacity = 2});
  ASSERT_TRUE(q.Enqueue(TestMessage(1)));
  ASSERT_TRUE(q.Enqueue(TestMessage(2)));
  auto full = q.Enqueue(TestMessage(3));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  auto d = q.Receive({});
  ASSERT_TRUE(d && *d);
  ASSERT_TRUE(q.Enqueue(TestMessage(4)));  // room again
  EXPECT_EQ(q.Depth().value(), 2);
  ASSERT_TRUE((*d)->Retry(std::chrono::milliseconds(0)));  // over capacity, but admitted before
  EXPECT_EQ(q.Depth().value(), 3);
}

TEST(MemoryQueueTest, InFlightCountsHeldDeliveries) {
  MemoryQueue q;
  ASSERT_TRUE(q.Enqueue(TestMessage(1)));
  ASSERT_TRUE(q.Enqueue(TestMessage(2)));
  auto a = q.Receive({});
  auto b = q.Receive({});
  EXPECT_EQ(q.InFlight(), 2);
  ASSERT_TRUE((*a)->Ack());
  EXPECT_EQ(q.InFlight(), 1);
  b->reset();
  EXPECT_EQ(q.InFlight(), 0);
  EXPECT_EQ(q.Depth().value(), 1);
}

TEST(MemoryQueueTest, DelayedRetriesComeOutInDueOrder) {
  MemoryQueue q;
  Message a = TestMessage(1), b = TestMessage(2);
  ASSERT_TRUE(q.Enqueue(a));
  ASSERT_TRUE(q.Enqueue(b));
  auto da = q.Receive({});
  auto db = q.Receive({});
  ASSERT_TRUE((*da)->Retry(std::chrono::milliseconds(400)));
  ASSERT_TRUE((*db)->Retry(std::chrono::milliseconds(100)));
  auto first = q.Receive({.timeout = std::chrono::milliseconds(5000)});
  auto second = q.Receive({.timeout = std::chrono::milliseconds(5000)});
  ASSERT_TRUE(first && *first && second && *second);
  EXPECT_EQ((*first)->message().job_id, b.job_id);
  EXPECT_EQ((*second)->message().job_id, a.job_id);
}

TEST(MessageCodecTest, RoundTrip) {
  Message m = TestMessage(7);
  m.attempt = 3;
  auto back = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->job_id, m.job_id);
  EXPECT_EQ(back->attempt, 3);
  EXPECT_EQ(ToUnixMicros(back->enqueued_at), ToUnixMicros(m.enqueued_at));
  EXPECT_EQ(back->request_id, "req-7");
}

TEST(MessageCodecTest, RejectsWhatItCannotTrust) {
  const std::string id = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e";
  for (std::string bad : {std::string(""), std::string("null"), std::string("[]"),
                          std::string("{\"jobId\":\"x\",\"attempt\":1,\"enqueuedAt\":0}"),
                          "{\"jobId\":\"" + id + "\",\"attempt\":0,\"enqueuedAt\":0}",
                          "{\"jobId\":\"" + id + "\",\"attempt\":\"1\",\"enqueuedAt\":0}",
                          "{\"jobId\":\"" + id + "\",\"attempt\":1}",
                          "{\"jobId\":\"" + id + "\",\"attempt\":1,\"enqueuedAt\":0,\"requestId\":5}",
                          "{\"jobId\":\"" + id + "\",\"attempt\":1,\"enqueuedAt\":0" /* cut */,
                          std::string(5000, ' ')}) {
    EXPECT_FALSE(DecodeMessage(bad)) << bad;
  }
  EXPECT_TRUE(DecodeMessage("{\"jobId\":\"" + id + "\",\"attempt\":1,\"enqueuedAt\":0}"));
}

// Found by fuzz/queue_message_fuzzer.cc: an enqueuedAt beyond what WallTime (int64 ns) holds
// overflowed on decoding (undefined behaviour); a negative one would overflow the worker's wait.
TEST(MessageCodecTest, RejectsEnqueuedAtOutOfRange) {
  const std::string head = "{\"jobId\":\"0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e\",\"attempt\":1,";
  for (std::string at : {"9223372036854775807", "-9223372036854775808", "18446744073709551615",
                         "-1", "4611686018427388"}) {
    EXPECT_FALSE(DecodeMessage(head + "\"enqueuedAt\":" + at + "}")) << at;
  }
  auto last = DecodeMessage(head + "\"enqueuedAt\":4611686018427387}");
  ASSERT_TRUE(last) << last.error().ToString();
  EXPECT_EQ(ToUnixMicros(last->enqueued_at), 4611686018427387);
}

}  // namespace
}  // namespace mqlab::queue
