// The RabbitMQ backend against a real broker (one node per test process: TestServiceUrl; the
// restart cases of ServerQueueTest start private ones): the shared suites, then what is
// RabbitMQ's own — delays held by the TTL queues, dead-letter reasons, the prefetch bound,
// refused publishes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "mqlab/domain/job.h"
#include "queue/queue_conformance_test.h"
#include "queue/rabbitmq/amqp_util.h"
#include "queue/rabbitmq/publisher.h"
#include "queue/rabbitmq/rabbitmq_queue.h"
#include "queue/server_queue_suite.h"
#include "services/process.h"
#include "services/rabbitmq_service.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab::queue {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// A broker sees a dead consumer's connection close at once (the kernel closes its socket).
constexpr milliseconds kRedeliveryBound{3000};

std::unique_ptr<RabbitMqQueue> MustOpen(RabbitMqQueueOptions o) {
  if (o.url.empty()) o.url = testing::TestServiceUrl("rabbitmq");
  auto q = RabbitMqQueue::Open(o);
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

std::unique_ptr<JobQueue> OpenForSuite(const std::string& name) {
  // Prefetch 4, as a worker with concurrency 4 sets it (the suite runs 4 consumer threads).
  return MustOpen({.name = name, .prefetch = 4});
}

INSTANTIATE_TEST_SUITE_P(RabbitMq, QueueConformanceTest,
                         ::testing::Values(QueueFactoryParam{"rabbitmq", OpenForSuite,
                                                             kRedeliveryBound}),
                         [](const auto& info) { return info.param.kind; });

ServerQueueParam ServerParam() {
  ServerQueueParam p;
  p.kind = "rabbitmq";
  p.redelivery_bound = kRedeliveryBound;
  p.durable = true;  // durable queues, persistent messages, confirmed publishes
  return p;
}
INSTANTIATE_TEST_SUITE_P(RabbitMq, ServerQueueTest, ::testing::Values(ServerParam()),
                         [](const auto& info) { return info.param.kind; });

// --- RabbitMQ-specific cases -------------------------------------------------------------------

std::string UniqueName() { return fmt::format("mqlab_q_{}", testing::UniqueSchemaName("rmq")); }

std::unique_ptr<Delivery> MustReceive(JobQueue& q, milliseconds timeout = milliseconds(5000)) {
  auto d = q.Receive({.timeout = timeout});
  EXPECT_TRUE(d.has_value()) << d.error().ToString();
  return d ? std::move(*d) : nullptr;
}

// A raw connection for what the port cannot do (delete a queue, publish garbage).
rabbitmq::Connection RawConnection() {
  auto url = rabbitmq::ParseAmqpUrl(testing::TestServiceUrl("rabbitmq"));
  EXPECT_TRUE(url) << url.error().ToString();
  if (!url) return nullptr;
  auto conn = rabbitmq::Connect(*url, {.connection_name = "mqlab test"});
  EXPECT_TRUE(conn) << conn.error().ToString();
  return conn ? std::move(*conn) : nullptr;
}

TEST(RabbitMqQueueTest, RetryDelayIsHeldByTheBrokerPerBucket) {
  auto q = MustOpen({.name = UniqueName(), .prefetch = 2});
  ASSERT_NE(q, nullptr);
  Message slow = TestMessage(1), fast = TestMessage(2);
  ASSERT_TRUE(q->Enqueue(slow));
  ASSERT_TRUE(q->Enqueue(fast));
  auto a = MustReceive(*q), b = MustReceive(*q);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(a->message().job_id, slow.job_id);
  const auto start = SteadyClock::now();
  // The long delay first: in a single TTL queue it would hold the short one behind it.
  ASSERT_TRUE(a->Retry(milliseconds(2500)));
  ASSERT_TRUE(b->Retry(milliseconds(400)));
  EXPECT_EQ(q->Depth().value_or(-1), 2) << "both wait in the retry queues";

  auto first = MustReceive(*q);
  ASSERT_NE(first, nullptr);
  const auto first_at = SteadyClock::now() - start;
  EXPECT_EQ(first->message().job_id, fast.job_id) << "the short delay was held up";
  EXPECT_EQ(first->message().attempt, 2);
  EXPECT_GE(first_at, milliseconds(400));
  EXPECT_LT(first_at, milliseconds(2000));
  ASSERT_TRUE(first->Ack());

  auto second = MustReceive(*q);
  ASSERT_NE(second, nullptr);
  const auto second_at = SteadyClock::now() - start;
  EXPECT_EQ(second->message().job_id, slow.job_id);
  EXPECT_EQ(second->message().attempt, 2);
  EXPECT_GE(second_at, milliseconds(2500));
  EXPECT_LT(second_at, milliseconds(4500));
  ASSERT_TRUE(second->Ack());
  RecordProperty("short_delay_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(first_at).count()));
  RecordProperty("long_delay_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(second_at).count()));
}

TEST(RabbitMqQueueTest, RetryQueueBucketsByDelay) {
  auto t = rabbitmq::MakeTopology("q", 0);
  EXPECT_EQ(rabbitmq::RetryQueueFor(t, 1), "q.retry.0");
  EXPECT_EQ(rabbitmq::RetryQueueFor(t, 63), "q.retry.0");
  EXPECT_EQ(rabbitmq::RetryQueueFor(t, 64), "q.retry.1");
  EXPECT_EQ(rabbitmq::RetryQueueFor(t, 1000), "q.retry.2");
  EXPECT_EQ(rabbitmq::RetryQueueFor(t, 86400000), "q.retry.7");
}

TEST(RabbitMqQueueTest, DeadLettersKeepTheirReasonAndStayPut) {
  const std::string name = UniqueName();
  auto q = MustOpen({.name = name});
  ASSERT_NE(q, nullptr);
  Message m = TestMessage(1);
  ASSERT_TRUE(q->Enqueue(m));
  auto d = MustReceive(*q);
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->DeadLetter("predict failed: bad image"));
  EXPECT_FALSE(d->Ack()) << "settled once";

  // A payload no decoder accepts, as anyone with access to the broker could publish.
  auto url = rabbitmq::ParseAmqpUrl(testing::TestServiceUrl("rabbitmq"));
  ASSERT_TRUE(url);
  rabbitmq::Publisher raw(*url, rabbitmq::MakeTopology(name, 0), {});
  ASSERT_TRUE(raw.Publish({.queue = name, .body = "not json"}));
  auto bad = MustReceive(*q);
  ASSERT_NE(bad, nullptr);
  EXPECT_FALSE(bad->decode_error().empty());
  EXPECT_FALSE(bad->Retry(milliseconds(0))) << "an undecodable message cannot be retried";
  ASSERT_TRUE(bad->DeadLetter(fmt::format("malformed message: {}", bad->decode_error())));

  for (int round = 0; round < 2; ++round) {  // peeking leaves them where they are
    auto dead = q->PeekDeadLetters(10);
    ASSERT_TRUE(dead) << dead.error().ToString();
    ASSERT_EQ(dead->size(), 2u);
    EXPECT_EQ((*dead)[0].message.job_id, m.job_id);
    EXPECT_EQ((*dead)[0].reason, "predict failed: bad image");
    EXPECT_TRUE((*dead)[1].message.job_id.empty());
    EXPECT_TRUE((*dead)[1].reason.starts_with("malformed message: ")) << (*dead)[1].reason;
  }
  auto one = q->PeekDeadLetters(1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(q->Depth().value_or(-1), 0) << "dead letters are not backlog";
}

TEST(RabbitMqQueueTest, PrefetchBoundsUnacknowledgedDeliveries) {
  const std::string name = UniqueName();
  auto q = MustOpen({.name = name, .prefetch = 3});
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  std::vector<std::unique_ptr<Delivery>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(MustReceive(*q));
    ASSERT_NE(held.back(), nullptr);
  }
  auto none = q->Receive({.timeout = milliseconds(500)});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr) << "a fourth delivery while 3 are unacknowledged (prefetch 3)";
  EXPECT_EQ(q->Depth().value_or(-1), 7);
  // Another consumer is not starved by the first one's window.
  auto other = MustOpen({.name = name});
  ASSERT_NE(other, nullptr);
  auto d = MustReceive(*other);
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->Ack());
  ASSERT_TRUE(held[0]->Ack());
  auto next = MustReceive(*q);
  ASSERT_NE(next, nullptr) << "an ack opens the window again";
}

TEST(RabbitMqQueueTest, RefusedPublishIsAnError) {
  auto q = MustOpen({.name = UniqueName(), .max_length = 2});
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Enqueue(TestMessage(1)));
  ASSERT_TRUE(q->Enqueue(TestMessage(2)));
  auto full = q->Enqueue(TestMessage(3));
  ASSERT_FALSE(full) << "the broker nacks a publish to a full reject-publish queue";
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted) << full.error().ToString();
  EXPECT_EQ(q->Depth().value_or(-1), 2);
}

TEST(RabbitMqQueueTest, UnroutablePublishFailsThenTheQueueIsDeclaredAgain) {
  const std::string name = UniqueName();
  // One publishing connection: a second one would declare the queue afresh when it opens.
  auto q = MustOpen({.name = name, .publisher_connections = 1});
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Enqueue(TestMessage(1)));
  auto conn = RawConnection();
  ASSERT_NE(conn, nullptr);
  amqp_queue_delete(conn.get(), rabbitmq::kChannel, rabbitmq::Bytes(name), 0, 0);
  ASSERT_TRUE(rabbitmq::CheckReply(conn.get(), "delete"));
  auto lost = q->Enqueue(TestMessage(2));
  ASSERT_FALSE(lost) << "a publish no queue took must not be confirmed as stored";
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable) << lost.error().ToString();
  ASSERT_TRUE(q->Enqueue(TestMessage(3)));
  EXPECT_EQ(q->Depth().value_or(-1), 1);
}

TEST(RabbitMqQueueTest, BadCredentialsAndClosedPortFailAtOpen) {
  auto url = rabbitmq::ParseAmqpUrl(testing::TestServiceUrl("rabbitmq"));
  ASSERT_TRUE(url);
  auto wrong = RabbitMqQueue::Open(
      {.url = fmt::format("amqp://guest:wrong@127.0.0.1:{}/", url->port), .name = UniqueName()});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kFailedPrecondition) << wrong.error().ToString();
  auto vhost = RabbitMqQueue::Open(
      {.url = fmt::format("amqp://guest:guest@127.0.0.1:{}/nope", url->port), .name = "x"});
  ASSERT_FALSE(vhost);
  EXPECT_EQ(vhost.error().code, ErrorCode::kFailedPrecondition) << vhost.error().ToString();
  const auto start = SteadyClock::now();
  auto closed = RabbitMqQueue::Open({.url = "amqp://guest:guest@127.0.0.1:1/", .name = "x"});
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code, ErrorCode::kUnavailable) << closed.error().ToString();
  EXPECT_LT(SteadyClock::now() - start, milliseconds(3000));
  auto bad = RabbitMqQueue::Open({.url = "http://localhost/", .name = "x"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST(RabbitMqQueueTest, ManyThreadsReceiveAndSettleOneQueueObject) {
  // Workers share one queue object; acks, retries and releases from 8 threads all travel through
  // the consumer thread's channel.
  auto q = MustOpen({.name = UniqueName(), .prefetch = 8});
  ASSERT_NE(q, nullptr);
  constexpr int kJobs = 400;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  std::atomic<int> done{0}, released{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
      int n = 0;
      while (done.load() < kJobs && SteadyClock::now() < deadline) {
        auto d = q->Receive({.timeout = milliseconds(100)});
        ASSERT_TRUE(d) << d.error().ToString();
        if (!*d) continue;
        if (++n % 7 == t % 7 && (*d)->message().attempt == 1) {
          if (n % 2) {
            ASSERT_TRUE((*d)->Retry(milliseconds(0)));
          } else {
            released++;  // destroyed unsettled: requeued
          }
          continue;
        }
        ASSERT_TRUE((*d)->Ack());
        done++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), kJobs);
  EXPECT_GT(released.load(), 0);
  EXPECT_EQ(q->Depth().value_or(-1), 0);
}

// Receives until the delivery of `job_id` (acking any other) or the deadline; errors (a consumer
// reconnecting) are tolerated and the last one kept.
std::unique_ptr<Delivery> ReceiveJob(JobQueue& q, const std::string& job_id,
                                     SteadyClock::time_point deadline, std::string* last_error) {
  while (SteadyClock::now() < deadline) {
    auto r = q.Receive({.timeout = milliseconds(500)});
    if (!r) {
      *last_error = r.error().ToString();
      std::this_thread::sleep_for(milliseconds(100));
    } else if (*r && (*r)->message().job_id == job_id) {
      return std::move(*r);
    } else if (*r) {
      EXPECT_TRUE((*r)->Ack());  // e.g. the message enqueued while the broker was frozen
    }
  }
  return nullptr;
}

TEST(RabbitMqQueueTest, HeartbeatsNoticeAFrozenBrokerAndTheConsumerComesBack) {
  // A broker that stops answering without closing its sockets (SIGSTOP: as a dead host or a cut
  // network looks) is noticed only through heartbeats. A node of our own: it gets frozen.
  testing::TempDir dir("rmq-freeze");
  services::RabbitMqService service;
  auto url = service.Start(dir.path());
  ASSERT_TRUE(url) << url.error().ToString();
  const int pid = service.GetStatus(dir.path())->pid;
  struct Thaw {
    int pid;
    services::RabbitMqService& service;
    const std::filesystem::path& dir;
    ~Thaw() {
      kill(pid, SIGCONT);
      (void)service.Stop(dir);
    }
  } thaw{pid, service, dir.path()};
  auto q = MustOpen({.url = *url,
                     .name = UniqueName(),
                     .confirm_timeout = milliseconds(1500),
                     .heartbeat_seconds = 1});
  ASSERT_NE(q, nullptr);
  auto none = q->Receive({.timeout = milliseconds(300)});  // the consumer is up
  ASSERT_TRUE(none) << none.error().ToString();

  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  const auto frozen_at = SteadyClock::now();
  bool noticed = false;
  while (!noticed && SteadyClock::now() < frozen_at + std::chrono::seconds(20)) {
    auto r = q->Receive({.timeout = milliseconds(200)});
    noticed = !r.has_value();
    if (noticed) {
      EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().ToString();
    }
  }
  const auto took = SteadyClock::now() - frozen_at;
  ASSERT_TRUE(noticed) << "the consumer never noticed the frozen broker";
  EXPECT_LT(took, std::chrono::seconds(5)) << "2 missed heartbeats of 1 s, plus a poll";
  RecordProperty("frozen_noticed_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
  const auto start = SteadyClock::now();
  auto s = q->Enqueue(TestMessage(1));
  ASSERT_FALSE(s) << "confirmed by a frozen broker?";
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
  EXPECT_LT(SteadyClock::now() - start, milliseconds(5000)) << "enqueue must not hang";

  ASSERT_EQ(kill(pid, SIGCONT), 0);
  Message m = TestMessage(2);
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  bool sent = false;
  while (!sent && SteadyClock::now() < deadline) {
    sent = q->Enqueue(m).has_value();
    if (!sent) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(sent);
  std::string last_error;
  auto d = ReceiveJob(*q, m.job_id, deadline, &last_error);
  ASSERT_NE(d, nullptr) << "the consumer did not come back after the broker thawed: " << last_error;
  EXPECT_TRUE(d->Ack());
}

}  // namespace
}  // namespace mqlab::queue
