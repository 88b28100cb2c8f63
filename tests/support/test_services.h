// Servers for integration tests: PostgreSQL, Redis, RabbitMQ, Kafka, Prometheus — always real,
// never mocks.
//
// TestServiceUrl("redis") returns the URL of a server, from the first of:
//   1. its variable in the environment (MQLAB_REDIS_URL, …);
//   2. that variable in the env file named by MQLAB_SERVICES_ENV (ctest starts the servers once
//      per run with `mqlab services up` and sets this; see tests/CMakeLists.txt);
//   3. a private server started on first use for the whole test process through the project's
//      launcher (src/services), in a temporary folder, stopped by its PID at exit.
// If none works it records a test failure (ADD_FAILURE) saying how to provide one and returns "":
// callers ASSERT that the result is not empty. A missing server is never a skip.
//
// PrivateService starts a server of its own for one test (tests that stop or restart the server
// must not disturb the shared one other tests use at the same time).
#ifndef MQLAB_TESTS_SUPPORT_TEST_SERVICES_H_
#define MQLAB_TESTS_SUPPORT_TEST_SERVICES_H_

#include <memory>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"
#include "services/service.h"
#include "tests/support/temp_dir.h"

namespace mqlab::testing {

std::string TestServiceUrl(std::string_view service);
inline std::string TestPostgresUrl() { return TestServiceUrl("postgres"); }

// A schema name no other test (in this process or another) uses: "<prefix>_<test>_<pid>_<n>",
// lowercase, at most 63 bytes (PostgreSQL's identifier limit).
std::string UniqueSchemaName(std::string_view prefix = "t");

// A server of the named kind in its own temporary runtime folder, for one test. Stopped (by its
// PID) when the object dies.
class PrivateService {
 public:
  static Result<std::unique_ptr<PrivateService>> Start(std::string_view name);
  ~PrivateService();
  const std::string& url() const { return url_; }
  // Stops the server (kill by PID, data kept) / starts it again on the same port and data.
  Status Stop();
  Status Restart();

 private:
  PrivateService() = default;
  TempDir dir_{"svc"};
  std::unique_ptr<services::Service> service_;
  std::string url_;
  bool running_ = false;
};

}  // namespace mqlab::testing

#endif  // MQLAB_TESTS_SUPPORT_TEST_SERVICES_H_
