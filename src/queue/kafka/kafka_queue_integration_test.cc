// The Kafka backend on a real broker: the shared conformance and server suites, and what is
// Kafka's own: rebalances, the low-water-mark commit, held retries, compression, dead letters.
//
// One broker serves the whole test process (TestServiceUrl: ctest's, or one started here); only
// the server suite's restart cases start private ones. Every case uses its own topic and group,
// and the topics this process created are deleted at exit (the shared broker outlives runs).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mqlab/domain/job.h"
#include "queue/kafka/kafka_admin.h"
#include "queue/kafka/kafka_client.h"
#include "queue/kafka/kafka_queue.h"
#include "queue/queue_conformance_test.h"
#include "queue/server_queue_suite.h"
#include "services/process.h"
#include "tests/support/test_services.h"

namespace mqlab::queue::kafka {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// The session timeout of every test consumer: the broker's minimum, so a killed consumer's
// messages come back in ~6 s (plus the rebalance).
constexpr milliseconds kSession{6000};

// Topics created by this process, by broker list; deleted at exit.
std::mutex g_topics_mu;
std::map<std::string, std::set<std::string>> g_topics;

class TopicJanitor : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard lock(g_topics_mu);
    for (const auto& [brokers, names] : g_topics) {
      std::vector<std::string> all;
      for (const auto& n : names) {
        for (const char* suffix : {"", ".retry", ".dead"}) all.push_back(n + suffix);
      }
      (void)DeleteTopics(brokers, all, seconds(10));
    }
  }
};
const auto* const kJanitor = ::testing::AddGlobalTestEnvironment(new TopicJanitor());

KafkaQueueOptions TestOptions(const std::string& topic) {
  KafkaQueueOptions o;
  o.brokers = mqlab::testing::TestServiceUrl("kafka");
  o.topic = topic;
  o.group = "g_" + topic;
  o.session_timeout = kSession;
  std::lock_guard lock(g_topics_mu);
  g_topics[o.brokers].insert(topic);
  return o;
}

std::unique_ptr<KafkaQueue> MustOpen(const KafkaQueueOptions& o) {
  auto q = KafkaQueue::Open(o);
  EXPECT_TRUE(q.has_value()) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

std::string TopicName(std::string_view prefix) {
  std::string name = fmt::format("mqlab_k_{}_{}_{}", prefix,
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                 NewJobId().substr(0, 8));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Kafka, QueueConformanceTest,
                         ::testing::Values(QueueFactoryParam{
                             "kafka",
                             [](const std::string& name) -> std::unique_ptr<JobQueue> {
                               return MustOpen(TestOptions(name));
                             },
                             // Released deliveries come back locally at once; the bound only
                             // matters if a rebalance intervened.
                             kSession + seconds(5)}));

ServerQueueParam ServerParam() {
  ServerQueueParam p;
  p.kind = "kafka";
  p.options.lease = kSession;  // maps to session.timeout.ms
  p.options.partitions = 8;
  // Its own group per process: the shared broker's other groups never rebalance with it.
  p.options.consumer_group =
      fmt::format("mqlab-server-suite-{}-{}", getpid(), NewJobId().substr(0, 8));
  // Session timeout (the broker notices the killed member) + the rebalance + slack.
  p.redelivery_bound = kSession + seconds(9);
  return p;
}

INSTANTIATE_TEST_SUITE_P(Kafka, ServerQueueTest, ::testing::Values(ServerParam()));

// Receives up to `want` deliveries (or until the deadline) and keeps them unsettled.
std::vector<std::unique_ptr<Delivery>> ReceiveN(JobQueue& q, size_t want, milliseconds limit) {
  std::vector<std::unique_ptr<Delivery>> out;
  const auto deadline = Clock::now() + limit;
  while (out.size() < want && Clock::now() < deadline) {
    auto d = q.Receive({.timeout = milliseconds(200)});
    EXPECT_TRUE(d.has_value()) << d.error().ToString();
    if (d && *d) out.push_back(std::move(*d));
  }
  return out;
}

// Polls the group's committed offset of partition 0 until it equals `want`.
bool CommittedReaches(KafkaQueue& q, int64_t want, int64_t* last) {
  const auto deadline = Clock::now() + seconds(10);
  while (Clock::now() < deadline) {
    auto c = q.CommittedOffsets();
    *last = c && c->contains(0) ? c->at(0) : -1;
    if (*last == want) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

TEST(KafkaQueueTest, OutOfOrderSettlementCommitsOnlyTheContiguousPrefix) {
  KafkaQueueOptions o = TestOptions(TopicName("lwm"));
  o.partitions = 1;  // offsets 0..9 in enqueue order
  auto q = MustOpen(o);
  ASSERT_NE(q, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    Message m = TestMessage(i);
    ids.push_back(m.job_id);
    ASSERT_TRUE(q->Enqueue(m));
  }
  auto held = ReceiveN(*q, 10, seconds(30));
  ASSERT_EQ(held.size(), 10u);
  std::map<std::string, std::unique_ptr<Delivery>> by_id;
  for (auto& d : held) by_id[d->message().job_id] = std::move(d);
  auto ack = [&](int i) { ASSERT_TRUE(by_id.at(ids[i])->Ack()) << i; };
  for (int i : {7, 5, 0, 4, 2, 1}) ack(i);  // settled out of order; 3, 6, 8, 9 still running
  int64_t committed = -1;
  EXPECT_TRUE(CommittedReaches(*q, 3, &committed))
      << "0-2 settled, 3 not: the commit must stop at 3, it is at " << committed;
  ack(3);
  EXPECT_TRUE(CommittedReaches(*q, 6, &committed))
      << "3 settled: the commit jumps over 4 and 5 and stops at 6, it is at " << committed;

  // The consumer goes away with 6, 8 and 9 unsettled (7 settled, but above the mark).
  q->Close();
  by_id.clear();
  q.reset();
  auto next = MustOpen(o);
  ASSERT_NE(next, nullptr);
  auto again = ReceiveN(*next, 4, seconds(30));
  std::set<std::string> got;
  for (auto& d : again) {
    got.insert(d->message().job_id);
    ASSERT_TRUE(d->Ack());
  }
  EXPECT_EQ(got, (std::set<std::string>{ids[6], ids[7], ids[8], ids[9]}))
      << "the next owner resumes at the committed mark: 6-9, with 7 a duplicate";
  auto more = next->Receive({.timeout = milliseconds(1000)});
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(*more, nullptr) << "nothing below the mark is delivered again";
}

// A rebalance scenario: the assignor, the revocation grace, and how long each job takes.
struct RebalanceCase {
  std::string name;
  std::string strategy;
  milliseconds grace;
  milliseconds work;
};

// Eager (the default) and cooperative rebalancing; and eager with no grace and slow jobs, so that
// revocations catch deliveries in flight: their late acks must commit nothing (kAborted) and the
// jobs come back to the new owner (duplicates, never losses).
class KafkaRebalanceTest : public ::testing::TestWithParam<RebalanceCase> {};

void PrintTo(const RebalanceCase& c, std::ostream* os) { *os << c.name; }

TEST_P(KafkaRebalanceTest, ConsumersJoiningAndLeavingMidRunLoseNothing) {
  constexpr int kJobs = 3000;
  KafkaQueueOptions o = TestOptions(TopicName("rebalance"));
  o.assignment_strategy = GetParam().strategy;
  o.revoke_grace = GetParam().grace;
  auto producer = MustOpen(o);
  ASSERT_NE(producer, nullptr);
  std::mutex mu;
  std::map<std::string, int> seen;
  std::atomic<int> received{0};
  // A member: its own KafkaQueue (its own consumer in the group), two worker threads.
  struct Member {
    std::unique_ptr<KafkaQueue> q;
    std::atomic<bool> stop{false};
    std::atomic<int> received{0};
    std::vector<std::thread> threads;
  };
  auto start = [&](Member& m) {
    m.q = MustOpen(o);
    ASSERT_NE(m.q, nullptr);
    for (int t = 0; t < 2; ++t) {
      m.threads.emplace_back([&] {
        while (!m.stop.load()) {
          auto d = m.q->Receive({.timeout = milliseconds(100)});
          if (!d || !*d) continue;
          {
            std::lock_guard lock(mu);
            seen[(*d)->message().job_id]++;
          }
          received++;
          m.received++;
          std::this_thread::sleep_for(GetParam().work);  // the job
          (void)(*d)->Ack();  // kAborted after a revocation: then it comes back (counted)
        }
      });
    }
  };
  auto stop = [](Member& m) {
    m.stop = true;
    for (auto& t : m.threads) t.join();
    m.q->Close();
  };
  Member a, b;
  start(a);
  std::thread produce([&] {
    for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(producer->Enqueue(TestMessage(i)));
  });
  auto wait_for = [&](int n) {
    const auto deadline = Clock::now() + seconds(120);
    while (received.load() < n && Clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(20));
    return received.load() >= n;
  };
  ASSERT_TRUE(wait_for(kJobs / 4));
  start(b);  // joins: the group rebalances while A is consuming
  ASSERT_TRUE(wait_for(kJobs / 2));
  stop(a);  // leaves: B takes over A's partitions from their committed marks
  produce.join();
  const auto deadline = Clock::now() + seconds(120);
  size_t distinct = 0;
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      distinct = seen.size();
    }
    if (distinct >= static_cast<size_t>(kJobs)) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  stop(b);
  EXPECT_EQ(distinct, static_cast<size_t>(kJobs)) << "every job processed at least once";
  EXPECT_GT(a.received.load(), 0);
  EXPECT_GT(b.received.load(), 0) << "the joining member got partitions";
  const int duplicates = received.load() - static_cast<int>(distinct);
  RecordProperty("duplicates", duplicates);
  std::cout << "rebalance (" << GetParam().name << "): " << kJobs << " jobs, " << duplicates
            << " duplicate deliveries; A got " << a.received.load() << ", B got "
            << b.received.load() << "\n";
  EXPECT_LT(duplicates, kJobs) << "duplicates are bounded by what was in flight at rebalances";
  EXPECT_EQ(producer->Depth().value_or(-1), 0);
}

INSTANTIATE_TEST_SUITE_P(Kafka, KafkaRebalanceTest,
                         ::testing::Values(RebalanceCase{"Eager", "roundrobin", milliseconds(1000),
                                                         milliseconds(0)},
                                           RebalanceCase{"Cooperative", "cooperative-sticky",
                                                         milliseconds(1000), milliseconds(0)},
                                           RebalanceCase{"EagerNoGraceSlowJobs", "roundrobin",
                                                         milliseconds(0), milliseconds(3)}),
                         [](const auto& info) { return info.param.name; });

TEST(KafkaQueueTest, EnqueueSpreadsMessagesOverThePartitionsInTurn) {
  // Not by key: with hashing, 16 random ids over 8 partitions would leave some partition with
  // 0 or 4+ (probability ~0.9); in turn, each gets exactly 2, so every worker's share is equal.
  KafkaQueueOptions o = TestOptions(TopicName("turn"));
  o.partitions = 8;
  auto q = MustOpen(o);
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  auto producer = SyncProducer::Create(o);
  ASSERT_TRUE(producer) << producer.error().ToString();
  for (int32_t p = 0; p < 8; ++p) {
    int64_t low = -1, high = -1;
    ASSERT_EQ((*producer)->handle()->query_watermark_offsets(o.topic, p, &low, &high, 10000),
              RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(high - low, 2) << "partition " << p;
  }
}

TEST(KafkaQueueTest, RetryNotYetDueBlocksNeitherNewJobsNorEarlierRetries) {
  KafkaQueueOptions o = TestOptions(TopicName("held"));
  o.partitions = 1;  // both retries on the same retry partition: no head-of-line blocking
  auto q = MustOpen(o);
  ASSERT_NE(q, nullptr);
  Message late = TestMessage(1), soon = TestMessage(2);
  ASSERT_TRUE(q->Enqueue(late));
  ASSERT_TRUE(q->Enqueue(soon));
  auto first = ReceiveN(*q, 2, seconds(30));
  ASSERT_EQ(first.size(), 2u);
  for (auto& d : first) {
    ASSERT_TRUE(
        d->Retry(d->message().job_id == late.job_id ? milliseconds(60000) : milliseconds(300)));
  }
  Message fresh = TestMessage(3);
  ASSERT_TRUE(q->Enqueue(fresh));
  auto next = ReceiveN(*q, 2, seconds(10));
  ASSERT_EQ(next.size(), 2u);
  std::set<std::string> got;
  for (auto& d : next) {
    got.insert(d->message().job_id);
    ASSERT_TRUE(d->Ack());
  }
  EXPECT_EQ(got, (std::set<std::string>{soon.job_id, fresh.job_id}));
  EXPECT_EQ(q->Depth().value_or(-1), 1) << "the late retry is backlog";
}

TEST(KafkaQueueTest, EveryCompressionCodecRoundTrips) {
  // librdkafka 2.0.2 against Kafka 4.x had a compression negotiation problem (librdkafka #4956,
  // KAFKA-18659): this is the smoke test.
  for (const char* codec : {"gzip", "snappy", "lz4", "zstd"}) {
    KafkaQueueOptions o = TestOptions(TopicName(codec));
    o.compression = codec;
    auto q = MustOpen(o);
    ASSERT_NE(q, nullptr);
    std::set<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      Message m = TestMessage(i);
      ids.insert(m.job_id);
      auto s = q->Enqueue(m);
      ASSERT_TRUE(s) << codec << ": " << s.error().ToString();
    }
    std::set<std::string> got;
    for (auto& d : ReceiveN(*q, 20, seconds(30))) {
      EXPECT_TRUE(d->decode_error().empty()) << codec;
      got.insert(d->message().job_id);
      ASSERT_TRUE(d->Ack());
    }
    EXPECT_EQ(got, ids) << codec;
  }
}

TEST(KafkaQueueTest, MalformedRecordIsDeadLetteredAsItCame) {
  KafkaQueueOptions o = TestOptions(TopicName("malformed"));
  auto q = MustOpen(o);
  ASSERT_NE(q, nullptr);
  auto raw = SyncProducer::Create(o);
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE((*raw)->Produce(o.topic, "k", "not json"));
  auto d = ReceiveN(*q, 1, seconds(30));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FALSE(d[0]->decode_error().empty());
  ASSERT_TRUE(d[0]->DeadLetter("malformed message: " + d[0]->decode_error()));
  auto dead = q->PeekDeadLetters(10);
  ASSERT_TRUE(dead.has_value()) << dead.error().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_TRUE((*dead)[0].message.job_id.empty());
  EXPECT_TRUE((*dead)[0].reason.starts_with("malformed message:")) << (*dead)[0].reason;
  EXPECT_EQ(q->Depth().value_or(-1), 0);
}

TEST(KafkaQueueTest, OpenFailsFastWhenNoBrokerListens) {
  auto port = services::FreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  KafkaQueueOptions o;
  o.brokers = fmt::format("127.0.0.1:{}", *port);
  o.request_timeout = milliseconds(2000);
  const auto start = Clock::now();
  auto q = KafkaQueue::Open(o);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code, ErrorCode::kUnavailable) << q.error().ToString();
  EXPECT_LT(Clock::now() - start, seconds(6));
}

TEST(KafkaQueueTest, OptionsAreValidated) {
  KafkaQueueOptions o;
  EXPECT_FALSE(o.Validate()) << "no brokers";
  o.brokers = "127.0.0.1:9092";
  EXPECT_TRUE(o.Validate());
  o.topic = "bad topic";
  EXPECT_FALSE(o.Validate());
  o.topic = "ok";
  o.compression = "brotli";
  EXPECT_FALSE(o.Validate());
  QueueOptions generic;
  generic.lease = milliseconds(1000);
  EXPECT_EQ(KafkaQueueOptions::From(generic).session_timeout, milliseconds(6000))
      << "clamped to the broker's minimum session";
  EXPECT_EQ(KafkaQueueOptions::From(generic).revoke_grace, milliseconds(6000))
      << "in-flight jobs keep their partition for the lease on a rebalance";
  generic.lease = milliseconds(30000);
  EXPECT_EQ(KafkaQueueOptions::From(generic).revoke_grace, milliseconds(30000));
  generic.lease = milliseconds(600000);
  EXPECT_EQ(KafkaQueueOptions::From(generic).revoke_grace, milliseconds(240000))
      << "below librdkafka's max.poll.interval.ms";
}

}  // namespace
}  // namespace mqlab::queue::kafka
