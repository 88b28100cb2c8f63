// The queue suite that needs a real server and real processes: a consumer killed mid-job, the
// server restarted mid-run, the server down. Run against every server backend (postgres, redis,
// rabbitmq, kafka); the memory queue has no server and no other process to die, so it is not
// instantiated here (its own crash story is `mqlab serve` recovering from its store).
//
// Crash cases use a child process (tests/tools/queue_probe.cc) that receives one message and
// hangs until SIGKILLed. Restart and outage cases start a private server for the test
// (testing::PrivateService), so that the shared one other tests use at the same time stays up.
//
// To add a backend: INSTANTIATE_TEST_SUITE_P(Kind, ServerQueueTest,
//     ::testing::Values(ServerQueueParam{...})) in its integration test file.
#ifndef MQLAB_QUEUE_SERVER_QUEUE_SUITE_H_
#define MQLAB_QUEUE_SERVER_QUEUE_SUITE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "queue/registry.h"

namespace mqlab::queue {

struct ServerQueueParam {
  // The queue kind; also the launcher's service name ("redis").
  std::string kind;
  // Options every queue of this suite is opened with; the suite sets url and name (and the probe
  // child gets kind, url, name, lease, consumer_group and partitions on its command line).
  QueueOptions options;
  // How long a killed consumer's message may take to reach another consumer: the lease, or the
  // broker's detection time (Kafka: session timeout + rebalance), plus slack.
  std::chrono::milliseconds redelivery_bound{10000};
  // Whether messages survive a server restart in the configuration the launcher starts (all of
  // them do: Redis runs with AOF; RabbitMQ durable queues and persistent messages; Kafka log;
  // PostgreSQL table).
  bool durable = true;
};

class ServerQueueTest : public ::testing::TestWithParam<ServerQueueParam> {
 protected:
  // A queue name unique to this test case.
  std::string QueueName() const;
  // Opens `name` on the server at `url` with the param's options.
  std::unique_ptr<JobQueue> Open(const std::string& url, const std::string& name) const;
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_SERVER_QUEUE_SUITE_H_
