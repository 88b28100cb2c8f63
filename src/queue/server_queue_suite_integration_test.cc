#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "mqlab/domain/job.h"
#include "queue/queue_conformance_test.h"
#include "queue/server_queue_suite.h"
#include "services/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab::queue {

std::string ServerQueueTest::QueueName() const {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = fmt::format("mqlab_s_{}_{}", info->name(), NewJobId().substr(0, 8));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::unique_ptr<JobQueue> ServerQueueTest::Open(const std::string& url,
                                                const std::string& name) const {
  QueueOptions o = GetParam().options;
  o.kind = GetParam().kind;
  o.url = url;
  o.name = name;
  auto q = OpenQueue(o);
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Receives until every id of `want` was seen or the deadline passed; acks each delivery (and
// any redelivery of an id seen before, which at-least-once allows). Receive errors (a server
// coming back) are tolerated until the deadline. Returns the ids of `want` seen.
std::set<std::string> Drain(JobQueue& q, const std::set<std::string>& want, milliseconds limit) {
  std::set<std::string> seen;
  auto deadline = Clock::now() + limit;
  while (seen.size() < want.size() && Clock::now() < deadline) {
    auto d = q.Receive({.timeout = milliseconds(200)});
    if (!d) {
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
    if (!*d) continue;
    if (want.contains((*d)->message().job_id)) seen.insert((*d)->message().job_id);
    (void)(*d)->Ack();
  }
  return seen;
}

TEST_P(ServerQueueTest, ConsumerKilledMidJobIsRedeliveredToAnother) {
  const std::string url = testing::TestServiceUrl(GetParam().kind);
  ASSERT_FALSE(url.empty());
  const std::string name = QueueName();
  auto producer = Open(url, name);
  ASSERT_NE(producer, nullptr);
  Message m = TestMessage(1);
  ASSERT_TRUE(producer->Enqueue(m));

  testing::TempDir dir("probe");
  const ServerQueueParam& p = GetParam();
  std::vector<std::string> argv = {
      MQLAB_QUEUE_PROBE, "--kind", p.kind, "--url", url, "--name", name, "--lease-ms",
      std::to_string(p.options.lease.count()), "--group", p.options.consumer_group,
      "--partitions", std::to_string(p.options.partitions)};
  auto pid = services::Spawn({.argv = argv, .output = dir.path() / "probe.log"});
  ASSERT_TRUE(pid) << pid.error().ToString();
  auto deadline = Clock::now() + seconds(60);
  std::string log;
  while (Clock::now() < deadline) {
    log = ReadFile(dir.path() / "probe.log");
    if (log.find("received") != std::string::npos || log.find("error") != std::string::npos ||
        services::ReapIfExited(*pid)) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_NE(log.find("received " + m.job_id), std::string::npos) << log;
  kill(*pid, SIGKILL);
  ASSERT_TRUE(services::WaitGone(*pid, seconds(10)));
  const auto killed_at = Clock::now();

  auto consumer = Open(url, name);
  ASSERT_NE(consumer, nullptr);
  std::unique_ptr<Delivery> again;
  while (!again && Clock::now() < killed_at + p.redelivery_bound + seconds(30)) {
    auto d = consumer->Receive({.timeout = milliseconds(500)});
    ASSERT_TRUE(d) << d.error().ToString();
    again = std::move(*d);
  }
  ASSERT_NE(again, nullptr) << "the killed consumer's message never came back";
  const auto took = Clock::now() - killed_at;
  RecordProperty("redelivery_ms",
                 static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
  EXPECT_EQ(again->message().job_id, m.job_id);
  EXPECT_LE(took, p.redelivery_bound) << "redelivered, but later than the backend's bound";
  ASSERT_TRUE(again->Ack());
}

TEST_P(ServerQueueTest, ServerRestartMidRunLosesNothingAndClientsReconnect) {
  auto server = testing::PrivateService::Start(GetParam().kind);
  ASSERT_TRUE(server) << server.error().ToString();
  const std::string name = QueueName();
  auto q = Open((*server)->url(), name);
  ASSERT_NE(q, nullptr);
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    Message m = TestMessage(i);
    ids.insert(m.job_id);
    ASSERT_TRUE(q->Enqueue(m));
  }
  // The first 40 received, whichever they are.
  std::set<std::string> first;
  auto first_deadline = Clock::now() + seconds(60);
  while (first.size() < 40 && Clock::now() < first_deadline) {
    auto d = q->Receive({.timeout = milliseconds(200)});
    ASSERT_TRUE(d) << d.error().ToString();
    if (!*d) continue;
    first.insert((*d)->message().job_id);
    ASSERT_TRUE((*d)->Ack());
  }
  ASSERT_EQ(first.size(), 40u);
  ASSERT_TRUE((*server)->Restart());
  // The same client objects go on: the first calls may fail while they reconnect, never hang.
  auto deadline = Clock::now() + seconds(60);
  int enqueued_after = 0;
  while (enqueued_after < 50 && Clock::now() < deadline) {
    Message m = TestMessage(1000 + enqueued_after);
    auto start = Clock::now();
    auto s = q->Enqueue(m);
    EXPECT_LT(Clock::now() - start, seconds(15)) << "an enqueue hung";
    if (s) {
      ids.insert(m.job_id);
      ++enqueued_after;
    } else {
      std::this_thread::sleep_for(milliseconds(200));
    }
  }
  ASSERT_EQ(enqueued_after, 50) << "the client did not reconnect within 60 s";
  std::set<std::string> remaining;
  std::set_difference(ids.begin(), ids.end(), first.begin(), first.end(),
                      std::inserter(remaining, remaining.end()));
  std::set<std::string> rest = Drain(*q, remaining, seconds(120));
  std::set<std::string> all = first;
  all.insert(rest.begin(), rest.end());
  if (GetParam().durable) {
    std::vector<std::string> lost;
    std::set_difference(ids.begin(), ids.end(), all.begin(), all.end(), std::back_inserter(lost));
    EXPECT_TRUE(lost.empty()) << lost.size() << " messages lost across the restart";
  }
}

TEST_P(ServerQueueTest, EnqueueWhileServerIsDownFailsFastThenRecovers) {
  auto server = testing::PrivateService::Start(GetParam().kind);
  ASSERT_TRUE(server) << server.error().ToString();
  auto q = Open((*server)->url(), QueueName());
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Enqueue(TestMessage(0)));
  ASSERT_TRUE((*server)->Stop());
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    auto s = q->Enqueue(TestMessage(1));
    auto took = Clock::now() - start;
    EXPECT_FALSE(s) << "enqueue succeeded with the server down";
    if (!s) {
      EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().ToString();
    }
    EXPECT_LT(took, seconds(10)) << "enqueue must fail fast, not hang";
    // Once the client knows the server is gone, it does not wait again (Kafka's producer would
    // otherwise wait its whole delivery timeout on every call).
    if (i > 0) {
      EXPECT_LT(took, seconds(1)) << "enqueue " << i << " waited again";
    }
  }
  auto start = Clock::now();
  auto r = q->Receive({.timeout = milliseconds(500)});
  EXPECT_LT(Clock::now() - start, seconds(10)) << "receive must fail fast, not hang";
  if (r) {
    EXPECT_EQ(*r, nullptr);
  }
  ASSERT_TRUE((*server)->Restart());
  auto deadline = Clock::now() + seconds(60);
  bool ok = false;
  while (!ok && Clock::now() < deadline) {
    ok = q->Enqueue(TestMessage(2)).has_value();
    if (!ok) std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_TRUE(ok) << "the client did not recover after the server came back";
}

}  // namespace

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ServerQueueTest);

}  // namespace mqlab::queue
