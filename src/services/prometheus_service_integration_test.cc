// The Prometheus launcher against the real server: up, up again (finds it), ready, a scrape
// target added at run time through targets.json and scraped, one through a targets.d/ group
// after an outdated config was brought up to date by `up`, down (PID gone, port free), and a
// restart on the same port.
#include "services/prometheus_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/client.h"
#include "services/process.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The status code of GET `target` on 127.0.0.1:port, 0 if no answer; the body in `body`.
int Get(int port, const std::string& target, std::string* body = nullptr) {
  http::Client client("127.0.0.1", static_cast<uint16_t>(port));
  auto r = client.Do(http::Verb::get, target);
  if (!r) return 0;
  if (body != nullptr) *body = r->body();
  return static_cast<int>(r->result_int());
}

// The value of `up{job="mqlab"[,component="C"]}` once Prometheus has scraped such a target, or "".
std::string UpValue(int port, const std::string& component = "") {
  std::string body;
  std::string query = "/api/v1/query?query=up%7Bjob%3D%22mqlab%22";
  if (!component.empty()) query += "%2Ccomponent%3D%22" + component + "%22";
  if (Get(port, query + "%7D", &body) != 200) return "";
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("data")) return "";
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.empty()) return "";
  return result[0]["value"][1].get<std::string>();
}

TEST(PrometheusServiceTest, UpFindsItselfScrapesFileTargetsAndDownLeavesNothing) {
  mqlab::testing::TempDir dir("prom-service");
  struct Guard {
    const std::filesystem::path& dir;
    ~Guard() { (void)DownServices(dir, {"prometheus"}); }
  } guard{dir.path()};
  const auto started = std::chrono::steady_clock::now();
  auto up = UpServices(dir.path(), {"prometheus"});
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  RecordProperty("start_ms", static_cast<int>(std::chrono::duration_cast<milliseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count()));
  ASSERT_EQ(up->size(), 1u);
  const std::string url = (*up)[0].url;
  PrometheusService service;
  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->running) << status->detail;
  const int pid = status->pid;
  const int port = status->port;
  EXPECT_EQ(url, PrometheusService::UrlForPort(port));
  EXPECT_NE(port, 9090) << "a private server never takes the default port";
  auto env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ((*env)["MQLAB_PROMETHEUS_URL"], url);

  // A second `up` finds the running server instead of starting another.
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, url);
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid);
  EXPECT_EQ(Get(port, "/-/ready"), 200);
  EXPECT_EQ(Get(port, "/nonexistent-page"), 404);

  // A target written to targets.json at run time is scraped without a restart: Prometheus
  // scraping its own /metrics through the file.
  ASSERT_TRUE(PrometheusService::WriteTargets(
      dir.path(), {{.addresses = {"127.0.0.1:" + std::to_string(port)},
                    .labels = {{"component", "prometheus"}}}}));
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  std::string value;
  while ((value = UpValue(port)) != "1" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_EQ(value, "1") << "the target from targets.json was never scraped";
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid) << "no restart was needed";

  // A config an older mqlab wrote (no targets.d/): `up` finds the server running, rewrites the
  // config and has it reloaded, so that a target group is scraped, still without a restart.
  const auto yml = dir.path() / "prometheus" / "prometheus.yml";
  std::string text;
  {
    std::ifstream in(yml);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t group_glob = text.find(", \"");
  ASSERT_NE(group_glob, std::string::npos) << text;
  {
    std::ofstream out(yml, std::ios::trunc);
    out << text.substr(0, group_glob) << text.substr(text.find(']', group_glob));
  }
  ASSERT_TRUE(service.Start(dir.path()).has_value());
  ASSERT_TRUE(PrometheusService::WriteTargetGroup(
      dir.path(), "grouped",
      {{.addresses = {"127.0.0.1:" + std::to_string(port)}, .labels = {{"component", "group"}}}}));
  const auto group_deadline = std::chrono::steady_clock::now() + seconds(60);
  while ((value = UpValue(port, "group")) != "1" &&
         std::chrono::steady_clock::now() < group_deadline) {
    std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_EQ(value, "1") << "the target of targets.d/grouped.json was never scraped";
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid) << "a reload, not a restart";
  ASSERT_TRUE(PrometheusService::RemoveTargetGroup(dir.path(), "grouped"));
  EXPECT_FALSE(std::filesystem::exists(PrometheusService::TargetsDir(dir.path()) / "grouped.json"));
  EXPECT_FALSE(PrometheusService::WriteTargetGroup(dir.path(), "../escape", {}).has_value());

  auto down = DownServices(dir.path(), {"prometheus"});
  ASSERT_TRUE(down.has_value()) << down.error().ToString();
  EXPECT_FALSE(IsAlive(pid));
  EXPECT_TRUE(IsLoopbackPortFree(port));
  EXPECT_FALSE(service.IsRunning(dir.path()));
  EXPECT_EQ(service.Url(dir.path()).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(service.Stop(dir.path()).has_value()) << "stopping twice is fine";

  // Up again: the same port (so the same URL) and the data and targets kept.
  auto restarted = service.Start(dir.path());
  ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  EXPECT_EQ(*restarted, url);
  EXPECT_EQ(Get(port, "/-/ready"), 200);
  EXPECT_TRUE(std::filesystem::exists(PrometheusService::TargetsFile(dir.path())));
  const int second_pid = service.GetStatus(dir.path())->pid;
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
  EXPECT_FALSE(IsAlive(second_pid));
}

}  // namespace
}  // namespace mqlab::services
