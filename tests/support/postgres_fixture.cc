#include "tests/support/postgres_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include "services/postgres_service.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::testing {
namespace {

constexpr const char* kHowTo =
    "Integration tests need PostgreSQL. Either set MQLAB_POSTGRES_URL to a server's URL, or run "
    "`mqlab services up postgres` and set MQLAB_SERVICES_ENV=.mqlab/services.env, or install "
    "PostgreSQL (apt-get install postgresql) so that the tests can start a private server.";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// One private server per test process, started on first use and stopped at exit.
class PrivateServer {
 public:
  PrivateServer() {
    auto url = service_.Start(dir_.path());
    if (url) {
      url_ = *url;
    } else {
      error_ = url.error().ToString();
    }
  }
  ~PrivateServer() {
    if (!url_.empty()) (void)service_.Stop(dir_.path());
  }
  const std::string& url() const { return url_; }
  const std::string& error() const { return error_; }

 private:
  TempDir dir_{"pg-fixture"};  // removed after the server stopped (members die after the body)
  services::PostgresService service_;
  std::string url_;
  std::string error_;
};

}  // namespace

std::string TestPostgresUrl() {
  if (std::string url = Env("MQLAB_POSTGRES_URL"); !url.empty()) return url;
  if (std::string file = Env("MQLAB_SERVICES_ENV"); !file.empty()) {
    auto vars = services::ReadEnvFile(file);
    if (!vars) {
      ADD_FAILURE() << "MQLAB_SERVICES_ENV=" << file << ": " << vars.error().ToString() << "\n"
                    << kHowTo;
      return "";
    }
    auto it = vars->find("MQLAB_POSTGRES_URL");
    if (it == vars->end() || it->second.empty()) {
      ADD_FAILURE() << file << " has no MQLAB_POSTGRES_URL (is postgres up?)\n" << kHowTo;
      return "";
    }
    return it->second;
  }
  static PrivateServer server;  // thread-safe initialisation; destroyed at exit
  if (server.url().empty()) {
    ADD_FAILURE() << "cannot start a private PostgreSQL server: " << server.error() << "\n"
                  << kHowTo;
  }
  return server.url();
}

std::string UniqueSchemaName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::string test;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    test = info->name();
  }
  std::string tail = "_" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1));
  std::string name = std::string(prefix) + "_" + test;
  for (char& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_';
  }
  name = name.substr(0, 63 - tail.size());
  return name + tail;
}

}  // namespace mqlab::testing
