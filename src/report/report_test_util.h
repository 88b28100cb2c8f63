// Test helpers for src/report: the hand-made results fixture (tests/data/report/results.json:
// v0 and v3 × 2 workers × backpressure on/off, three rungs 0.5×/0.8×/2×, a harness check and
// null fields where the schema allows them; recorded to Prometheus: step.prometheus series in the
// backpressure-on cells, except v0-w2-on's top rung, whose "prometheus" is null, as when a
// query failed) and small file helpers.
#ifndef MQLAB_REPORT_REPORT_TEST_UTIL_H_
#define MQLAB_REPORT_REPORT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace mqlab::report::testing {

inline std::filesystem::path FixturePath() {
  return std::filesystem::path(MQLAB_SOURCE_DIR) / "tests/data/report/results.json";
}

inline std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline nlohmann::json Fixture() {
  std::string text = ReadText(FixturePath());
  EXPECT_FALSE(text.empty()) << "missing fixture " << FixturePath();
  return nlohmann::json::parse(text);
}

// Occurrences of `needle` in `hay`.
inline size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace mqlab::report::testing

#endif  // MQLAB_REPORT_REPORT_TEST_UTIL_H_
