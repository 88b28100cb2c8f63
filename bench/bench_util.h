// Small pieces every process-level benchmark needs: a temporary folder, a scrape of one
// Prometheus sample, and the machine description recorded beside every figure. (A child `mqlab`
// server waited on until it prints its URL: study::Child.)
#ifndef MQLAB_BENCH_BENCH_UTIL_H_
#define MQLAB_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mqlab::bench {

class TempFolder {
 public:
  explicit TempFolder(const std::string& prefix);
  ~TempFolder();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The value of the sample line starting with `series` ("name{labels}"), 0 if absent.
double ScrapeValue(std::string_view metrics_text, std::string_view series);

// CPU model, core count, memory, kernel, hostname, date: the machine a figure was measured on.
nlohmann::json MachineInfo();

}  // namespace mqlab::bench

#endif  // MQLAB_BENCH_BENCH_UTIL_H_
