#include "queue/queue_conformance_test.h"

#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "mqlab/domain/job.h"

namespace mqlab::queue {



std::string QueueConformanceTest::QueueName() const {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = fmt::format("mqlab_t_{}_{}", info->name(), NewJobId().substr(0, 8));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::unique_ptr<JobQueue> QueueConformanceTest::Open() const { return GetParam().open(QueueName()); }

Message TestMessage(int i) {
  Message m;
  m.job_id = NewJobId();
  m.attempt = 1;
  m.enqueued_at = Clock::Real().Now();
  m.request_id = fmt::format("req-{}", i);
  return m;
}

namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait{5000};

std::unique_ptr<Delivery> MustReceive(JobQueue& q, milliseconds timeout = kWait) {
  auto d = q.Receive({.timeout = timeout});
  EXPECT_TRUE(d.has_value()) << d.error().ToString();
  if (!d) return nullptr;
  return std::move(*d);
}

TEST_P(QueueConformanceTest, EnqueueReceiveAck) {
  auto q = Open();
  Message m = TestMessage(1);
  ASSERT_TRUE(q->Enqueue(m));
  auto d = MustReceive(*q);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message().job_id, m.job_id);
  EXPECT_EQ(d->message().attempt, 1);
  EXPECT_EQ(d->message().request_id, "req-1");
  ASSERT_TRUE(d->Ack());
  EXPECT_FALSE(d->Ack()) << "a delivery settles once";
  auto none = q->Receive({.timeout = milliseconds(300)});
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, nullptr) << "an acked message must not come back";
}

TEST_P(QueueConformanceTest, ReceiveTimesOutWhenEmpty) {
  auto q = Open();
  auto start = std::chrono::steady_clock::now();
  auto d = q->Receive({.timeout = milliseconds(200)});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, nullptr);
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, milliseconds(3000));
}

TEST_P(QueueConformanceTest, RetryRedeliversLaterWithNextAttempt) {
  auto q = Open();
  Message m = TestMessage(1);
  ASSERT_TRUE(q->Enqueue(m));
  auto d = MustReceive(*q);
  ASSERT_NE(d, nullptr);
  auto retried_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(d->Retry(milliseconds(300)));
  auto again = MustReceive(*q);
  ASSERT_NE(again, nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - retried_at, milliseconds(280));
  EXPECT_EQ(again->message().job_id, m.job_id);
  EXPECT_EQ(again->message().attempt, 2);
  ASSERT_TRUE(again->Ack());
}

TEST_P(QueueConformanceTest, DeadLetterRemovesAndKeepsReason) {
  auto q = Open();
  Message m = TestMessage(1);
  ASSERT_TRUE(q->Enqueue(m));
  int max_attempts = 3;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    auto d = MustReceive(*q);
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(d->message().attempt, attempt);
    if (attempt < max_attempts) {
      ASSERT_TRUE(d->Retry(milliseconds(0)));
    } else {
      ASSERT_TRUE(d->DeadLetter("max attempts reached"));
    }
  }
  auto none = q->Receive({.timeout = milliseconds(300)});
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, nullptr);
  auto dead = q->PeekDeadLetters(10);
  ASSERT_TRUE(dead.has_value());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].message.job_id, m.job_id);
  EXPECT_EQ((*dead)[0].message.attempt, max_attempts);
  EXPECT_EQ((*dead)[0].reason, "max attempts reached");
}

TEST_P(QueueConformanceTest, ReleasedDeliveryComesBackWithSameAttempt) {
  auto q = Open();
  Message m = TestMessage(1);
  ASSERT_TRUE(q->Enqueue(m));
  {
    auto d = MustReceive(*q);
    ASSERT_NE(d, nullptr);
  }  // destroyed unsettled
  auto again = MustReceive(*q, GetParam().redelivery_bound + kWait);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->message().job_id, m.job_id);
  EXPECT_EQ(again->message().attempt, 1);
  ASSERT_TRUE(again->Ack());
}

TEST_P(QueueConformanceTest, DepthCountsBacklog) {
  auto q = Open();
  auto d0 = q->Depth();
  ASSERT_TRUE(d0.has_value());
  EXPECT_EQ(*d0, 0);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  EXPECT_EQ(q->Depth().value_or(-1), 25);
  auto d = MustReceive(*q);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(q->Depth().value_or(-1), 24) << "a held message is not backlog";
  ASSERT_TRUE(d->Retry(milliseconds(60000)));
  EXPECT_EQ(q->Depth().value_or(-1), 25) << "a delayed retry is backlog";
}

TEST_P(QueueConformanceTest, ConcurrentProducersAndConsumersLoseNothing) {
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 2500;  // 10,000 jobs
  const std::string name = QueueName();
  std::vector<std::string> ids(kProducers * kPerProducer);
  for (auto& id : ids) id = NewJobId();
  std::mutex mu;
  std::map<std::string, int> seen;
  std::atomic<int> acked{0};
  std::atomic<bool> producers_done{false};
  std::vector<std::thread> threads;
  auto q = GetParam().open(name);
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        Message m = TestMessage(i);
        m.job_id = ids[p * kPerProducer + i];
        auto s = q->Enqueue(m);
        ASSERT_TRUE(s) << s.error().ToString();
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      while (acked.load() < static_cast<int>(ids.size()) &&
             std::chrono::steady_clock::now() < deadline) {
        auto d = q->Receive({.timeout = milliseconds(100)});
        ASSERT_TRUE(d.has_value()) << d.error().ToString();
        if (!*d) continue;
        {
          std::lock_guard lock(mu);
          seen[(*d)->message().job_id]++;
        }
        ASSERT_TRUE((*d)->Ack());
        acked++;
      }
    });
  }
  for (auto& t : threads) t.join();
  producers_done = true;
  ASSERT_EQ(seen.size(), ids.size()) << "every job received at least once";
  for (const auto& id : ids) EXPECT_GE(seen[id], 1) << id;
  int duplicates = acked.load() - static_cast<int>(seen.size());
  RecordProperty("duplicates", duplicates);
  EXPECT_EQ(duplicates, 0) << "no consumer died, so nothing should be delivered twice";
  EXPECT_EQ(q->Depth().value_or(-1), 0);
}

TEST_P(QueueConformanceTest, CloseWakesBlockedReceivers) {
  auto q = Open();
  std::atomic<bool> returned{false};
  std::thread t([&] {
    auto d = q->Receive({.timeout = milliseconds(30000)});
    EXPECT_FALSE(d.has_value());
    returned = true;
  });
  // Give the receiver a moment to block; correctness does not depend on it.
  std::this_thread::sleep_for(milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  q->Close();
  t.join();
  EXPECT_TRUE(returned);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
  EXPECT_FALSE(q->Enqueue(TestMessage(1)));
}

}  // namespace

// The integration binary instantiates the suite only once server backends exist.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(QueueConformanceTest);

}  // namespace mqlab::queue

