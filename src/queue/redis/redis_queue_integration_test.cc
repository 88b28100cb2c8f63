// The Redis queue against a real Redis: the shared suites (conformance, killed consumer, restart,
// outage) and what is particular to Redis: the reaper, the Lua promoter and its NOSCRIPT fallback,
// undecodable entries, the capacity cap, AUTH, what survives a restart with and without AOF, and
// the round-trip savings (COUNT prefetch reads into a shared buffer, group-committed acks).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "queue/queue_conformance_test.h"
#include "queue/redis/redis_client.h"
#include "queue/redis/redis_queue.h"
#include "queue/registry.h"
#include "queue/server_queue_suite.h"
#include "services/redis_service.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab::queue {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

// Short, so the killed-consumer and reaper cases take seconds; the reaper looks every lease / 4.
constexpr milliseconds kLease{2000};
// A stale delivery is back within the lease plus one reaper interval plus slack.
constexpr milliseconds kRedeliveryBound{kLease + kLease / 4 + milliseconds(1500)};

std::unique_ptr<JobQueue> OpenForSuite(const std::string& name) {
  const std::string url = testing::TestServiceUrl("redis");
  if (url.empty()) return nullptr;
  auto q = OpenQueue({.kind = "redis", .url = url, .name = name, .lease = kLease});
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Redis, QueueConformanceTest,
                         ::testing::Values(QueueFactoryParam{"redis", OpenForSuite,
                                                             kRedeliveryBound}));

// The same with a receive buffer (prefetch 4: each XREADGROUP reads up to 4, as a worker of
// concurrency 4 does).
std::unique_ptr<JobQueue> OpenForSuitePrefetch(const std::string& name) {
  const std::string url = testing::TestServiceUrl("redis");
  if (url.empty()) return nullptr;
  auto q = OpenQueue({.kind = "redis", .url = url, .name = name, .lease = kLease, .prefetch = 4});
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}
INSTANTIATE_TEST_SUITE_P(RedisPrefetch4, QueueConformanceTest,
                         ::testing::Values(QueueFactoryParam{"redis", OpenForSuitePrefetch,
                                                             kRedeliveryBound}));

ServerQueueParam ServerParam() {
  ServerQueueParam p;
  p.kind = "redis";
  p.options.lease = kLease;
  p.redelivery_bound = kRedeliveryBound;
  p.durable = true;  // the launcher runs Redis with AOF (appendfsync everysec)
  return p;
}
ServerQueueParam ServerParamPrefetch() {
  ServerQueueParam p = ServerParam();
  p.options.prefetch = 4;
  return p;
}
INSTANTIATE_TEST_SUITE_P(Redis, ServerQueueTest, ::testing::Values(ServerParam()));
INSTANTIATE_TEST_SUITE_P(RedisPrefetch4, ServerQueueTest, ::testing::Values(ServerParamPrefetch()));

// --- Redis-specific cases ---------------------------------------------------------------------

std::string UniqueName() { return "mqlab_r_" + testing::UniqueSchemaName("q"); }

std::unique_ptr<RedisQueue> MustOpen(RedisQueueOptions o) {
  auto q = RedisQueue::Open(std::move(o));
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

// A plain connection for looking at and writing the queue's keys directly.
class Raw {
 public:
  explicit Raw(const std::string& url) {
    auto e = redis::ParseRedisUrl(url);
    EXPECT_TRUE(e);
    if (!e) return;
    auto c = redis::RedisConnection::Open(*e, {});
    EXPECT_TRUE(c) << c.error().ToString();
    if (c) conn_ = std::move(*c);
  }
  redis::Reply Do(const redis::Args& args) {
    if (!conn_) return nullptr;
    auto r = conn_->Command(args);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? std::move(*r) : nullptr;
  }
  long long Int(const redis::Args& args) {
    auto r = Do(args);
    EXPECT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << (r ? redis::ReplyString(*r) : "");
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }
  int64_t ServerMillis() {
    auto r = Do({"TIME"});
    if (!r || r->elements != 2) return 0;
    return std::stoll(r->element[0]->str) * 1000 + std::stoll(r->element[1]->str) / 1000;
  }

 private:
  std::unique_ptr<redis::RedisConnection> conn_;
};

std::unique_ptr<Delivery> ReceiveWithin(JobQueue& q, milliseconds limit) {
  const auto deadline = SteadyClock::now() + limit;
  while (SteadyClock::now() < deadline) {
    auto d = q.Receive({.timeout = milliseconds(200)});
    if (!d) {
      ADD_FAILURE() << d.error().ToString();
      return nullptr;
    }
    if (*d) return std::move(*d);
  }
  return nullptr;
}

TEST(RedisQueueTest, ReaperReturnsAStaleDeliveryAfterTheLease) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  auto hung = MustOpen({.url = url, .name = name, .consumer = "hung", .lease = kLease});
  auto other = MustOpen({.url = url, .name = name, .consumer = "other", .lease = kLease});
  ASSERT_TRUE(hung && other);
  const Message m = TestMessage(1);
  ASSERT_TRUE(hung->Enqueue(m));
  auto held = ReceiveWithin(*hung, seconds(5));  // held, never settled: a hung consumer
  ASSERT_NE(held, nullptr);
  hung->Close();  // its heartbeats stop, as a dead or hung process's do
  const auto held_at = SteadyClock::now();

  auto early = other->Receive({.timeout = kLease / 2});
  ASSERT_TRUE(early) << early.error().ToString();
  EXPECT_EQ(*early, nullptr) << "taken over before the lease ran out";
  auto again = ReceiveWithin(*other, kRedeliveryBound);
  ASSERT_NE(again, nullptr) << "the reaper never returned the stale delivery";
  const auto took = SteadyClock::now() - held_at;
  RecordProperty("reclaim_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
  EXPECT_GE(took, kLease - milliseconds(100));
  EXPECT_EQ(again->message().job_id, m.job_id);
  EXPECT_EQ(again->message().attempt, 1) << "a takeover is the same attempt";
  Raw raw(url);
  auto pending = raw.Do({"XPENDING", name + ":stream", "mqlab-workers", "-", "+", "10"});
  ASSERT_TRUE(pending && pending->elements == 1);
  EXPECT_EQ(redis::ReplyString(*pending->element[0]->element[1]), "other");

  ASSERT_TRUE(again->Ack());
  EXPECT_TRUE(held->Ack()) << "the slow consumer's late ack is accepted";
  auto none = other->Receive({.timeout = milliseconds(300)});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr);
  EXPECT_EQ(other->Depth().value_or(-1), 0);
  EXPECT_EQ(raw.Int({"XLEN", name + ":stream"}), 0) << "acked entries are deleted";
}

TEST(RedisQueueTest, HeartbeatsKeepALongJobFromATakeoverWhileItsWorkerLives) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  constexpr milliseconds kShort{1000};  // heartbeats every ~333 ms
  auto busy = MustOpen({.url = url, .name = name, .consumer = "busy", .lease = kShort});
  auto other = MustOpen({.url = url, .name = name, .consumer = "other", .lease = kShort});
  ASSERT_TRUE(busy && other);
  ASSERT_TRUE(busy->Enqueue(TestMessage(1)));
  ASSERT_TRUE(busy->Enqueue(TestMessage(2)));
  auto first = ReceiveWithin(*busy, seconds(5));
  auto second = ReceiveWithin(*busy, seconds(5));
  ASSERT_TRUE(first && second);
  // A job four leases long: the other consumer, reaping all along, never gets it.
  const auto until = SteadyClock::now() + 4 * kShort;
  while (SteadyClock::now() < until) {
    auto stolen = other->Receive({.timeout = milliseconds(200)});
    ASSERT_TRUE(stolen) << stolen.error().ToString();
    ASSERT_EQ(*stolen, nullptr) << "taken over while its worker was alive and beating";
  }
  Raw raw(url);
  auto pending = raw.Do({"XPENDING", name + ":stream", "mqlab-workers", "-", "+", "10"});
  ASSERT_TRUE(pending && pending->elements == 2);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(redis::ReplyString(*pending->element[i]->element[1]), "busy");
    EXPECT_LT(pending->element[i]->element[2]->integer, kShort.count()) << "idle ms";
    EXPECT_EQ(pending->element[i]->element[3]->integer, 1) << "heartbeats are not deliveries";
  }
  ASSERT_TRUE(first->Ack());  // settled: no longer extended, nothing to take over
  // The worker dies holding the second job: its lease runs out and the other consumer gets it.
  busy->Close();
  const auto died_at = SteadyClock::now();
  auto again = ReceiveWithin(*other, kShort + kShort / 4 + milliseconds(1500));
  ASSERT_NE(again, nullptr) << "the dead worker's job never came back";
  EXPECT_EQ(again->message().job_id, second->message().job_id);
  RecordProperty("takeover_after_death_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(
                                      SteadyClock::now() - died_at)
                                      .count()));
  ASSERT_TRUE(again->Ack());
}

TEST(RedisQueueTest, LuaPromoterMovesOnlyDueDelayedMessages) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  Raw raw(url);
  // As another process's retries would leave them: one due a second ago, one due in a minute.
  const Message due = TestMessage(1), later = TestMessage(2);
  const int64_t now = raw.ServerMillis();
  raw.Do({"ZADD", name + ":delayed", std::to_string(now - 1000), EncodeMessage(due)});
  raw.Do({"ZADD", name + ":delayed", std::to_string(now + 60000), EncodeMessage(later)});
  auto q = MustOpen({.url = url, .name = name, .lease = kLease});
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->Depth().value_or(-1), 2) << "delayed messages are backlog";

  auto d = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message().job_id, due.job_id);
  EXPECT_EQ(raw.Int({"ZCARD", name + ":delayed"}), 1) << "the one not due stays delayed";
  EXPECT_EQ(q->Depth().value_or(-1), 1);
  ASSERT_TRUE(d->Ack());
  auto none = q->Receive({.timeout = milliseconds(300)});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr) << "a message due in a minute was promoted";

  // A retry is held on the server's clock: its score is the server's TIME + delay.
  ASSERT_TRUE(q->Enqueue(TestMessage(3)));
  auto r = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(r, nullptr);
  const int64_t before = raw.ServerMillis();
  ASSERT_TRUE(r->Retry(seconds(30)));
  auto score = raw.Do({"ZSCORE", name + ":delayed", EncodeMessage([&] {
                         Message m = r->message();
                         m.attempt += 1;
                         return m;
                       }())});
  ASSERT_TRUE(score && score->type == REDIS_REPLY_STRING);
  EXPECT_NEAR(std::stod(score->str), static_cast<double>(before + 30000), 2000.0);
  EXPECT_EQ(q->Depth().value_or(-1), 2);
}

TEST(RedisQueueTest, ScriptsRunAgainAfterTheServerForgetsThem) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  auto q = MustOpen({.url = url, .name = name, .lease = kLease});
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Enqueue(TestMessage(1)));  // the enqueue script is now cached by its SHA1
  Raw raw(url);
  raw.Do({"SCRIPT", "FLUSH"});  // as a restarted server would: EVALSHA now answers NOSCRIPT
  ASSERT_TRUE(q->Enqueue(TestMessage(2)));
  EXPECT_EQ(q->Depth().value_or(-1), 2);
  auto d = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(d, nullptr);
  raw.Do({"SCRIPT", "FLUSH"});
  ASSERT_TRUE(d->Retry(milliseconds(0)));
  EXPECT_EQ(q->Depth().value_or(-1), 2);
}

TEST(RedisQueueTest, UndecodableEntriesAreDeliveredForDeadLettering) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  auto q = MustOpen({.url = url, .name = name, .lease = kLease});
  ASSERT_NE(q, nullptr);
  Raw raw(url);
  raw.Do({"XADD", name + ":stream", "*", "m", "{not json"});
  raw.Do({"XADD", name + ":stream", "*", "other", "field"});
  for (const char* want : {"not a JSON object", "no 'm' field"}) {
    auto d = ReceiveWithin(*q, seconds(5));
    ASSERT_NE(d, nullptr);
    EXPECT_NE(d->decode_error().find(want), std::string::npos) << d->decode_error();
    EXPECT_TRUE(d->message().job_id.empty());
    ASSERT_TRUE(d->DeadLetter("malformed message: " + d->decode_error()));
  }
  auto dead = q->PeekDeadLetters(10);
  ASSERT_TRUE(dead) << dead.error().ToString();
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_NE((*dead)[0].reason.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(q->Depth().value_or(-1), 0);
}

TEST(RedisQueueTest, CapacityRefusesEnqueueButNeverARetry) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  auto q = MustOpen({.url = url, .name = UniqueName(), .lease = kLease, .capacity = 3});
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  auto full = q->Enqueue(TestMessage(3));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted) << full.error().ToString();
  auto d = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->Retry(milliseconds(0))) << "a retry of an admitted message is never refused";
  EXPECT_EQ(q->Depth().value_or(-1), 3);
}

TEST(RedisQueueTest, PasswordIsSentAndNeverShown) {
  auto server = testing::PrivateService::Start("redis");
  ASSERT_TRUE(server) << server.error().ToString();
  Raw((*server)->url()).Do({"CONFIG", "SET", "requirepass", "s3cret-pw"});
  const std::string hostport = (*server)->url().substr(std::string("redis://").size());
  auto good = MustOpen({.url = "redis://:s3cret-pw@" + hostport, .name = UniqueName()});
  ASSERT_NE(good, nullptr);
  EXPECT_TRUE(good->Enqueue(TestMessage(1)));
  auto bad = RedisQueue::Open({.url = "redis://:wrong-pw@" + hostport, .name = UniqueName()});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kFailedPrecondition) << bad.error().ToString();
  EXPECT_EQ(bad.error().message.find("wrong-pw"), std::string::npos) << bad.error().message;
}

TEST(RedisQueueTest, DurableRestartKeepsReadyHeldAndDelayedMessages) {
  auto server = testing::PrivateService::Start("redis");
  ASSERT_TRUE(server) << server.error().ToString();
  const std::string name = UniqueName();
  auto q = MustOpen({.url = (*server)->url(), .name = name, .lease = kLease});
  ASSERT_NE(q, nullptr);
  const Message held_m = TestMessage(1), delayed_m = TestMessage(2), ready_m = TestMessage(3);
  ASSERT_TRUE(q->Enqueue(held_m));
  ASSERT_TRUE(q->Enqueue(delayed_m));
  auto held = ReceiveWithin(*q, seconds(5));
  auto to_delay = ReceiveWithin(*q, seconds(5));
  ASSERT_TRUE(held && to_delay);
  ASSERT_TRUE(to_delay->Retry(milliseconds(500)));
  ASSERT_TRUE(q->Enqueue(ready_m));
  q->Close();  // the old consumer dies: no more heartbeats for `held`
  ASSERT_TRUE((*server)->Restart());  // SIGTERM: Redis fsyncs its AOF before exiting

  // A new consumer (the old one is "dead", its delivery still pending in the restored group).
  auto fresh = MustOpen({.url = (*server)->url(), .name = name, .lease = kLease});
  ASSERT_NE(fresh, nullptr);
  std::set<std::string> seen;
  const auto deadline = SteadyClock::now() + kRedeliveryBound + seconds(10);
  while (seen.size() < 3 && SteadyClock::now() < deadline) {
    auto d = fresh->Receive({.timeout = milliseconds(200)});
    if (!d || !*d) continue;  // the first calls may meet the restart
    seen.insert((*d)->message().job_id);
    ASSERT_TRUE((*d)->Ack());
  }
  EXPECT_EQ(seen, (std::set<std::string>{held_m.job_id, delayed_m.job_id, ready_m.job_id}));
}

// Redis without persistence (what issue 6 measures): a restart empties it. The client still
// reconnects by itself, recreates the consumer group and goes on; what was queued is gone.
TEST(RedisQueueTest, NonDurableRestartLosesTheBacklogButClientsRecover) {
  testing::TempDir dir("redis-volatile");
  services::RedisService service({.durable = false});
  auto url = service.Start(dir.path());
  ASSERT_TRUE(url) << url.error().ToString();
  struct Stop {
    services::RedisService& s;
    const std::filesystem::path& d;
    ~Stop() { (void)s.Stop(d); }
  } stop{service, dir.path()};
  auto q = MustOpen({.url = *url, .name = UniqueName(), .lease = kLease});
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  EXPECT_EQ(q->Depth().value_or(-1), 10);
  ASSERT_TRUE(service.Stop(dir.path()));
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_EQ(*again, *url) << "the port is kept across restarts";
  auto depth = q->Depth();  // on a pooled connection the restart broke: retried on a fresh one
  ASSERT_TRUE(depth) << depth.error().ToString();
  EXPECT_EQ(*depth, 0) << "without AOF the 10 queued messages are lost";
  const Message m = TestMessage(99);
  ASSERT_TRUE(q->Enqueue(m));
  auto d = ReceiveWithin(*q, seconds(5));  // NOGROUP: the group is recreated on the fly
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message().job_id, m.job_id);
  EXPECT_TRUE(d->Ack());
}

TEST(RedisQueueTest, CloseRemovesItsConsumerFromTheGroupOnlyIfItHoldsNothing) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  auto idle = MustOpen({.url = url, .name = name, .consumer = "idle", .lease = kLease});
  auto holding = MustOpen({.url = url, .name = name, .consumer = "holding", .lease = kLease});
  ASSERT_TRUE(idle && holding);
  ASSERT_TRUE(idle->Enqueue(TestMessage(1)));
  ASSERT_TRUE(idle->Enqueue(TestMessage(2)));
  auto done = ReceiveWithin(*idle, seconds(5));  // a delivery makes "idle" a group member
  ASSERT_NE(done, nullptr);
  ASSERT_TRUE(done->Ack());
  auto held = ReceiveWithin(*holding, seconds(5));
  ASSERT_NE(held, nullptr);
  Raw raw(url);
  auto consumers = [&] {
    std::set<std::string> names;
    auto r = raw.Do({"XINFO", "CONSUMERS", name + ":stream", "mqlab-workers"});
    for (size_t i = 0; r && i < r->elements; ++i) {
      names.emplace(redis::ReplyString(*r->element[i]->element[1]));
    }
    return names;
  };
  EXPECT_EQ(consumers(), (std::set<std::string>{"holding", "idle"}));
  idle->Close();
  holding->Close();
  EXPECT_EQ(consumers(), (std::set<std::string>{"holding"}))
      << "a consumer that holds a delivery must stay, or its delivery would be lost";
  ASSERT_TRUE(held->Ack());
}

// --- Fewer round trips: the receive buffer and the group-committed acks --------------------------

long long PendingCount(Raw& raw, const std::string& name) {
  auto r = raw.Do({"XPENDING", name + ":stream", "mqlab-workers"});
  return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? r->element[0]->integer : -1;
}

TEST(RedisQueueTest, OneReadTakesPrefetchEntriesAndNeverMore) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  auto q = MustOpen({.url = url, .name = name, .lease = kLease, .prefetch = 5});
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  auto first = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(first, nullptr);
  Raw raw(url);
  EXPECT_EQ(PendingCount(raw, name), 5) << "one XREADGROUP COUNT 5: 1 delivered + 4 buffered";
  EXPECT_EQ(q->Depth().value_or(-1), 11) << "this handle's buffered entries are still backlog";
  std::vector<std::unique_ptr<Delivery>> held;
  for (int i = 0; i < 4; ++i) {
    auto d = q->Receive({.timeout = milliseconds(0)});  // from the buffer: no wait
    ASSERT_TRUE(d && *d);
    held.push_back(std::move(*d));
  }
  EXPECT_EQ(q->stats().reads, 1);
  EXPECT_EQ(PendingCount(raw, name), 5) << "handed out from the buffer, nothing more read";
  // 5 held: the next read may take only what was acked meanwhile (3), so that no more than
  // prefetch entries are ever unacked.
  ASSERT_TRUE(first->Ack());
  ASSERT_TRUE(held[0]->Ack());
  ASSERT_TRUE(held[1]->Ack());
  auto next = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(q->stats().reads, 2);
  EXPECT_EQ(q->stats().read_entries, 8) << "5, then 3 (COUNT = prefetch - held)";
  EXPECT_EQ(PendingCount(raw, name), 5);
  EXPECT_EQ(q->Depth().value_or(-1), 12 - 3 - 5 + 2) << "12 - 3 acked - 5 pending + 2 buffered";
  // Holding all 5 (2 in hand, the 2 buffered taken, `next`): a read still takes 1.
  for (int i = 0; i < 2; ++i) {
    auto d = q->Receive({.timeout = milliseconds(0)});
    ASSERT_TRUE(d && *d);
    held.push_back(std::move(*d));
  }
  auto over = ReceiveWithin(*q, seconds(5));
  ASSERT_NE(over, nullptr);
  EXPECT_EQ(q->stats().read_entries, 9) << "a Receive with prefetch held reads COUNT 1";
  ASSERT_TRUE(next->Ack());
  ASSERT_TRUE(over->Ack());
  for (size_t i = 2; i < held.size(); ++i) ASSERT_TRUE(held[i]->Ack());
}

TEST(RedisQueueTest, BufferedEntriesGoToEachThreadExactlyOnce) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  constexpr int kJobs = 400, kThreads = 4;
  auto q = MustOpen({.url = url, .name = name, .lease = seconds(30), .prefetch = 8});
  ASSERT_NE(q, nullptr);
  EXPECT_FALSE(q->capabilities().batch_ack) << "group commit is off by default";
  std::set<std::string> enqueued;
  for (int i = 0; i < kJobs; ++i) {
    const Message m = TestMessage(i);
    enqueued.insert(m.job_id);
    ASSERT_TRUE(q->Enqueue(m));
  }
  std::mutex mu;
  std::map<std::string, int> seen;  // job id → deliveries
  std::atomic<int> acked{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const auto deadline = SteadyClock::now() + seconds(60);
      while (acked < kJobs && SteadyClock::now() < deadline) {
        auto d = q->Receive({.timeout = milliseconds(100)});
        if (!d) {
          ++errors;
          continue;
        }
        if (!*d) continue;
        {
          std::lock_guard lock(mu);
          ++seen[(*d)->message().job_id];
        }
        if ((*d)->Ack()) {
          ++acked;
        } else {
          ++errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  ASSERT_EQ(acked, kJobs);
  std::set<std::string> delivered;
  for (const auto& [id, n] : seen) {
    EXPECT_EQ(n, 1) << id << " delivered " << n << " times";
    delivered.insert(id);
  }
  EXPECT_EQ(delivered, enqueued);
  const RedisQueue::Stats st = q->stats();
  RecordProperty("reads", static_cast<int>(st.reads));
  RecordProperty("ack_batches", static_cast<int>(st.ack_batches));
  EXPECT_EQ(st.read_entries, kJobs);
  // A read asks for 8 less what is held or being read (at least 1: threads that find the
  // buffer empty while a read is in flight read beside it), so reads average well above 1 entry
  // (about 3 here; COUNT 1 would make it 400 reads).
  EXPECT_LE(st.reads, kJobs / 2) << "fewer than 2 entries per XREADGROUP";
  EXPECT_EQ(st.acks, kJobs);
  Raw raw(url);
  EXPECT_EQ(PendingCount(raw, name), 0);
  EXPECT_EQ(raw.Int({"XLEN", name + ":stream"}), 0) << "acked entries are deleted";
}

// Enqueues TestMessage(0..n-1); returns their job ids (fewer if an enqueue failed).
std::set<std::string> EnqueueN(JobQueue& q, int n) {
  std::set<std::string> ids;
  for (int i = 0; i < n; ++i) {
    const Message m = TestMessage(i);
    if (!q.Enqueue(m)) break;
    ids.insert(m.job_id);
  }
  return ids;
}

TEST(RedisQueueTest, CloseHandsBufferedEntriesBackAtOnce) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  constexpr milliseconds kLong{30000};  // what comes back within seconds was not reaped
  auto q = MustOpen({.url = url, .name = name, .consumer = "leaving", .lease = kLong,
                     .prefetch = 5});
  auto other = MustOpen({.url = url, .name = name, .consumer = "other", .lease = kLong});
  ASSERT_TRUE(q && other);
  std::set<std::string> ids = EnqueueN(*q, 5);
  ASSERT_EQ(ids.size(), 5u);
  auto held = ReceiveWithin(*q, seconds(5));  // 4 more read into the buffer
  ASSERT_NE(held, nullptr);
  ids.erase(held->message().job_id);
  q->Close();
  std::set<std::string> got;
  const auto deadline = SteadyClock::now() + seconds(5);
  while (got.size() < 4 && SteadyClock::now() < deadline) {
    auto d = other->Receive({.timeout = milliseconds(200)});
    ASSERT_TRUE(d) << d.error().ToString();
    if (!*d) continue;
    EXPECT_EQ((*d)->message().attempt, 1) << "a hand-back is the same attempt";
    EXPECT_TRUE(got.insert((*d)->message().job_id).second) << "delivered twice";
    ASSERT_TRUE((*d)->Ack());
  }
  EXPECT_EQ(got, ids) << "the closed queue's buffered entries were not handed back";
  ASSERT_TRUE(held->Ack()) << "a delivery outliving its queue still acks";
  Raw raw(url);
  EXPECT_EQ(PendingCount(raw, name), 0);
  EXPECT_EQ(raw.Int({"XLEN", name + ":stream"}), 0);
}

// A queue destroyed when it cannot hand its buffer back (here the server is down at Close; a
// killed process leaves the same state): the buffered entries stay pending for the dead consumer,
// and another consumer's reaper brings them back after the lease, same attempt, nothing lost.
TEST(RedisQueueTest, BufferedEntriesLeftPendingAreReclaimedAfterTheLease) {
  auto server = testing::PrivateService::Start("redis");
  ASSERT_TRUE(server) << server.error().ToString();
  const std::string url = (*server)->url();
  const std::string name = UniqueName();
  std::set<std::string> buffered;
  {
    auto q = MustOpen({.url = url, .name = name, .consumer = "gone", .lease = kLease,
                       .connect_timeout = milliseconds(300), .command_timeout = milliseconds(1000),
                       .prefetch = 4});
    ASSERT_NE(q, nullptr);
    buffered = EnqueueN(*q, 4);
    ASSERT_EQ(buffered.size(), 4u);
    auto held = ReceiveWithin(*q, seconds(5));  // 3 more wait in the buffer
    ASSERT_NE(held, nullptr);
    ASSERT_TRUE(held->Ack());
    buffered.erase(held->message().job_id);
    ASSERT_TRUE((*server)->Stop());
  }  // destroyed: the hand-back fails, the buffered entries stay pending for "gone"
  ASSERT_TRUE((*server)->Restart());
  Raw raw(url);
  EXPECT_EQ(PendingCount(raw, name), 3);
  const auto restarted_at = SteadyClock::now();
  auto other = MustOpen({.url = url, .name = name, .consumer = "other", .lease = kLease});
  ASSERT_NE(other, nullptr);
  std::set<std::string> got;
  while (got.size() < 3 && SteadyClock::now() < restarted_at + kRedeliveryBound + seconds(5)) {
    auto d = other->Receive({.timeout = milliseconds(200)});
    ASSERT_TRUE(d) << d.error().ToString();
    if (!*d) continue;
    EXPECT_EQ((*d)->message().attempt, 1);
    EXPECT_TRUE(got.insert((*d)->message().job_id).second) << "delivered twice";
    ASSERT_TRUE((*d)->Ack());
  }
  EXPECT_EQ(got, buffered) << "a buffered entry of a destroyed queue was lost";
  EXPECT_EQ(PendingCount(raw, name), 0);
}

TEST(RedisQueueTest, HeartbeatsKeepBufferedEntriesFromATakeover) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  constexpr milliseconds kShort{1000};  // heartbeats every ~333 ms
  auto busy = MustOpen({.url = url, .name = name, .consumer = "busy", .lease = kShort,
                        .prefetch = 3});
  auto other = MustOpen({.url = url, .name = name, .consumer = "other", .lease = kShort});
  ASSERT_TRUE(busy && other);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(busy->Enqueue(TestMessage(i)));
  auto first = ReceiveWithin(*busy, seconds(5));  // 2 more wait in the buffer
  ASSERT_NE(first, nullptr);
  const auto until = SteadyClock::now() + 4 * kShort;
  while (SteadyClock::now() < until) {
    auto stolen = other->Receive({.timeout = milliseconds(200)});
    ASSERT_TRUE(stolen) << stolen.error().ToString();
    ASSERT_EQ(*stolen, nullptr) << "a buffered entry was taken over while its consumer lived";
  }
  for (int i = 0; i < 2; ++i) {
    auto d = busy->Receive({.timeout = milliseconds(0)});
    ASSERT_TRUE(d && *d) << "the buffered entry is gone";
    ASSERT_TRUE((*d)->Ack());
  }
  ASSERT_TRUE(first->Ack());
  EXPECT_EQ(busy->stats().reads, 1);
}

TEST(RedisQueueTest, ConcurrentAcksAreGroupCommittedAndAllConfirmed) {
  const std::string url = testing::TestServiceUrl("redis");
  ASSERT_FALSE(url.empty());
  const std::string name = UniqueName();
  constexpr int kThreads = 8, kRounds = 20;
  auto q = MustOpen(
      {.url = url, .name = name, .lease = seconds(30), .prefetch = kThreads, .ack_flushes = 1});
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->capabilities().batch_ack);
  for (int i = 0; i < kThreads * kRounds; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  std::barrier sync(kThreads);
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) {
        auto d = ReceiveWithin(*q, seconds(10));
        sync.arrive_and_wait();  // every thread holds one: they all Ack at once
        if (d && d->Ack()) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok, kThreads * kRounds);
  const RedisQueue::Stats st = q->stats();
  RecordProperty("ack_batches", static_cast<int>(st.ack_batches));
  EXPECT_EQ(st.acks, kThreads * kRounds);
  EXPECT_LT(st.ack_batches, st.acks) << "no two concurrent Acks ever shared a batch";
  Raw raw(url);
  EXPECT_EQ(PendingCount(raw, name), 0) << "an Ack returned before Redis had it";
  EXPECT_EQ(raw.Int({"XLEN", name + ":stream"}), 0);
}

TEST(RedisQueueTest, AFailedAckBatchFailsEveryWaiter) {
  auto server = testing::PrivateService::Start("redis");
  ASSERT_TRUE(server) << server.error().ToString();
  const std::string name = UniqueName();
  constexpr int kThreads = 6;
  auto q = MustOpen({.url = (*server)->url(), .name = name, .lease = seconds(30),
                     .connect_timeout = milliseconds(300), .command_timeout = milliseconds(1000),
                     .prefetch = kThreads, .ack_flushes = 1});
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < kThreads; ++i) ASSERT_TRUE(q->Enqueue(TestMessage(i)));
  std::vector<std::unique_ptr<Delivery>> held;
  for (int i = 0; i < kThreads; ++i) {
    auto d = ReceiveWithin(*q, seconds(5));
    ASSERT_NE(d, nullptr);
    held.push_back(std::move(d));
  }
  ASSERT_TRUE((*server)->Stop());
  std::barrier sync(kThreads);
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      sync.arrive_and_wait();
      results[t] = held[t]->Ack();
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_FALSE(results[t]) << "Ack " << t << " returned OK with the server down";
    EXPECT_EQ(results[t].error().code, ErrorCode::kUnavailable) << results[t].error().ToString();
  }
  // Back up: the entries were never acked, so they are still pending (at least once).
  ASSERT_TRUE((*server)->Restart());
  Raw raw((*server)->url());
  EXPECT_EQ(PendingCount(raw, name), kThreads);
}

}  // namespace
}  // namespace mqlab::queue
