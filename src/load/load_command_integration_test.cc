// The real `mqlab load` binary as a child process against an in-process test server: exit codes
// (0, 99 for a failed threshold, 2 for misuse, 1 for an unreachable target, 130 after Ctrl-C),
// the terminal summary, --json and --csv.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "load/test_server_util.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;
using testing::Answer;
using testing::TestServer;
using Steady = std::chrono::steady_clock;

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TestServer::Plan Fast() {
  return [](uint64_t, Steady::time_point) { return Answer{1ms}; };
}

TEST(LoadCommandTest, PassingThresholdsExitZeroAndWriteJsonAndCsv) {
  TestServer server(Fast());
  mqlab::testing::TempDir dir("load");
  const auto json_path = dir.path() / "out.json", csv_path = dir.path() / "out.csv";
  auto r = mqlab::testing::RunMqlab({"load", "--url", server.url("/ping"), "--rate", "50",
                                     "--duration", "2s", "--threshold", "p99<5s", "--threshold",
                                     "errors<1%", "--threshold", "rps>=40", "--json",
                                     json_path.string(), "--csv", csv_path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("from intended send"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ok     p99<5s"), std::string::npos) << r.output;

  auto j = nlohmann::json::parse(Slurp(json_path), nullptr, false);
  ASSERT_TRUE(j.is_object()) << Slurp(json_path);
  EXPECT_EQ(j["schema"], "mqlab.load/1");
  EXPECT_EQ(j["parameters"]["rate"], 50);
  EXPECT_EQ(j["parameters"]["model"], "open");
  EXPECT_EQ(j["counts"]["sent"], 100);
  EXPECT_EQ(j["counts"]["2xx"], 100);
  EXPECT_EQ(j["latencyMs"]["clock"], "intended");
  EXPECT_GE(j["latencyMs"]["p50"].get<double>(), 1.0 * 0.99);
  EXPECT_TRUE(j["thresholdsOk"].get<bool>());
  EXPECT_TRUE(j["machine"].contains("cpu"));
  EXPECT_GE(j["series"].size(), 2u);

  std::string csv = Slurp(csv_path);
  EXPECT_TRUE(csv.starts_with("second,sent,completed,")) << csv;
  EXPECT_GE(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
}

TEST(LoadCommandTest, AFailedThresholdExits99) {
  TestServer server(Fast());
  for (const char* threshold : {"p99<1us", "rps>100000", "errors>50%"}) {
    auto r = mqlab::testing::RunMqlab({"load", "--url", server.url(), "--vus", "1", "--duration",
                                       "500ms", "--threshold", threshold});
    EXPECT_EQ(r.exit_code, 99) << threshold << "\n" << r.output;
    EXPECT_NE(r.output.find("FAILED"), std::string::npos) << r.output;
  }
}

TEST(LoadCommandTest, MisuseExits2WithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--vus", "2", "--duration", "1s"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--duration", "5x"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1s", "--threshold",
       "p99<soon"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1s", "--threshold",
       "e2e_p99<2s"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1s", "--ramp",
       "fast"},
      {"load", "--url", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1s", "--arrivals",
       "bursty"},
      {"load", "--rate", "10", "--duration", "1s"},
  };
  std::vector<std::vector<std::string>> all = cases;
  // A valid closed run, made invalid by one flag each.
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--idle-spin", "20ms"}, {"--idle-spin", "soon"}, {"--cpu-policy", "fifo"}}) {
    all.push_back(
        {"load", "--url", "http://127.0.0.1:9/", "--vus", "2", "--duration", "1s", flag, value});
  }
  for (const auto& args : all) {
    auto r = mqlab::testing::RunMqlab(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(r.output.starts_with("mqlab: ")) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(LoadCommandTest, UnreachableTargetExits1) {
  auto r = mqlab::testing::RunMqlab(
      {"load", "--url", "http://127.0.0.1:1/", "--rate", "10", "--duration", "1s"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("mqlab load: cannot connect to http://127.0.0.1:1/"), std::string::npos)
      << r.output;
}

TEST(LoadCommandTest, CtrlCStopsEarlyAndStillReports) {
  TestServer server(Fast());
  mqlab::testing::TempDir dir("load");
  const auto json_path = dir.path() / "out.json";
  auto p = mqlab::testing::MqlabProcess::Start({"load", "--url", server.url(), "--rate", "100",
                                                "--duration", "60s", "--json", json_path.string()},
                                               dir.path() / "load.log", "Ctrl-C stops early");
  ASSERT_TRUE(p) << p.error().ToString();
  // Wait (polling, with a deadline) until the test is under way.
  const auto deadline = Steady::now() + 20s;
  while (server.requests() < 30 && Steady::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_GE(server.requests(), 30u);
  (*p)->Signal(SIGINT);
  std::optional<int> code = (*p)->WaitExit(20s);
  ASSERT_TRUE(code) << (*p)->Log();
  EXPECT_EQ(*code, 130) << (*p)->Log();
  auto j = nlohmann::json::parse(Slurp(json_path), nullptr, false);
  ASSERT_TRUE(j.is_object()) << (*p)->Log();
  EXPECT_TRUE(j["run"]["stoppedEarly"].get<bool>());
  EXPECT_GE(j["counts"]["completed"].get<int>(), 30);
  EXPECT_LT(j["run"]["measuredSeconds"].get<double>(), 30);
  EXPECT_NE((*p)->Log().find("stopped early"), std::string::npos) << (*p)->Log();
}

}  // namespace
}  // namespace mqlab::load
