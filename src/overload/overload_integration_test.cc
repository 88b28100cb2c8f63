// `mqlab overload` end to end, short: the mem version, a 3× burst of 8 s with backpressure on and
// off. No server needed (mem runs inside `mqlab serve`).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab {
namespace {

using nlohmann::json;

TEST(OverloadCommandTest, BackpressureOnRejectsWithRetryAfterAndRecoversOffQueuesAndSurvives) {
  testing::TempDir dir("overload");
  const auto out = dir.path() / "out";
  auto r = testing::RunMqlab({"overload", "--only", "mem", "--before", "3", "--burst", "8",
                              "--after", "8", "--out", out.string(), "--runtime-dir",
                              (dir.path() / "rt").string()},
                             std::chrono::seconds(240));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(out / "overload.json");
  json doc = json::parse(in, nullptr, false);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["schema"], "mqlab.overload/1");
  ASSERT_EQ(doc["runs"].size(), 2u) << doc.dump(1).substr(0, 4000);
  const json& on = doc["runs"][0];
  const json& off = doc["runs"][1];
  ASSERT_EQ(on["backpressure"], "on");
  ASSERT_EQ(off["backpressure"], "off");
  ASSERT_TRUE(on.contains("figures")) << on.dump(1).substr(0, 2000);

  // On: the burst is partly refused with 429 + Retry-After, accepted jobs stay under the SLO,
  // memory stays flat, and a new client is served normally again within seconds.
  EXPECT_GT(on["figures"]["rejections"]["byStatus"].value("429", 0), 0);
  EXPECT_GT(on["figures"]["rejections"]["probesRejected"].get<int>(), 0);
  EXPECT_EQ(on["figures"]["rejections"]["probesWithRetryAfter"],
            on["figures"]["rejections"]["probesRejected"]);
  EXPECT_LT(on["figures"]["acceptedP99Ms"].get<double>(), 2000);
  EXPECT_GT(on["figures"]["rssMb"]["burstMax"].get<double>(), 1);
  ASSERT_TRUE(on["figures"]["recoverySeconds"].is_number());
  EXPECT_LE(on["figures"]["recoverySeconds"].get<double>(), 10);
  EXPECT_TRUE(on["verdict"]["asExpected"].get<bool>()) << on["verdict"].dump();

  // Off: nothing refused, latency grows with the backlog, and the process lives.
  EXPECT_EQ(off["figures"]["rejections"]["byStatus"].value("429", 0), 0);
  EXPECT_TRUE(off["figures"]["survived"].get<bool>());
  EXPECT_TRUE(off["verdict"]["latencyGrew"].get<bool>()) << off["figures"].dump();
  EXPECT_GT(off["figures"]["acceptedP99Ms"].get<double>(),
            on["figures"]["acceptedP99Ms"].get<double>());

  std::ifstream md(out / "overload.md");
  std::string table((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(table.find("| mem | on |"), std::string::npos) << table;
}

}  // namespace
}  // namespace mqlab
