#include "bench/bench_util.h"

#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "mqlab/common/clock.h"
#include "load/machine.h"

namespace mqlab::bench {

TempFolder::TempFolder(const std::string& prefix) {
  std::string pattern = "/tmp/mqlab-" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    fmt::print(stderr, "cannot create {}\n", pattern);
    std::exit(1);
  }
  path_ = buf.data();
}

TempFolder::~TempFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

double ScrapeValue(std::string_view text, std::string_view series) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
    pos = end + 1;
  }
  return 0;
}

nlohmann::json MachineInfo() { return load::MachineInfo(); }

}  // namespace mqlab::bench
