// The queue conformance suite: one set of behaviours every JobQueue backend must show, run
// against each backend (memory here; the server backends on real local servers). Each case opens
// its own queue name, so cases never see each other's messages.
//
// The cases live in queue_conformance_test.cc, compiled into both test binaries (CMake: every
// *_conformance_test.cc); each binary instantiates them for its backends: memory in the unit
// tests, the real servers in the integration tests.
//
// To add a backend: INSTANTIATE_TEST_SUITE_P(Kind, QueueConformanceTest,
//     ::testing::Values(QueueFactoryParam{"kind", [](const std::string& name) {...}}));
#ifndef MQLAB_QUEUE_QUEUE_CONFORMANCE_TEST_H_
#define MQLAB_QUEUE_QUEUE_CONFORMANCE_TEST_H_

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mqlab/queue/job_queue.h"

namespace mqlab::queue {

struct QueueFactoryParam {
  std::string kind;
  // Opens (a fresh handle on) the queue called `name`. Called more than once per name when a case
  // needs separate producer and consumer handles.
  std::function<std::unique_ptr<JobQueue>(const std::string& name)> open;
  // How long a released or abandoned delivery may take to come back. Default: 5 s.
  std::chrono::milliseconds redelivery_bound{5000};
};

class QueueConformanceTest : public ::testing::TestWithParam<QueueFactoryParam> {
 protected:
  // A queue name unique to this test case.
  std::string QueueName() const;
  std::unique_ptr<JobQueue> Open() const;
};

// Builds a message for job number `i` of a test.
Message TestMessage(int i);

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_QUEUE_CONFORMANCE_TEST_H_
