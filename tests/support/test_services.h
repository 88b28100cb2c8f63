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

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"
#include "services/service.h"
#include "tests/support/temp_dir.h"

namespace mqlab::testing {

std::string TestServiceUrl(std::string_view service);
inline std::string TestPostgresUrl() { return TestServiceUrl("postgres"); }

// A Prometheus whose scrape targets a test may set (PrometheusService::WriteTargetGroup in
// `runtime_dir`, under a group name of its own): the ctest fixture's (the running server in
// MQLAB_RUNTIME_DIR, which tests/CMakeLists.txt sets) or, run by hand without it, a private one
// started on first use for the whole test process. A user's own server (MQLAB_PROMETHEUS_URL
// alone) will not do: its targets cannot be set from here. Records a failure (ADD_FAILURE) and
// returns an empty url if there is none.
struct TestPrometheusServer {
  std::string url;
  std::filesystem::path runtime_dir;
};
TestPrometheusServer TestPrometheus();

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
  // The runtime folder the server lives in (RUNTIME_DIR/<name>/ holds its files).
  const std::filesystem::path& runtime_dir() const { return dir_.path(); }
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
