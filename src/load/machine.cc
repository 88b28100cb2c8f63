#include "load/machine.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace mqlab::load {

nlohmann::json MachineInfo() {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.starts_with("model name")) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  utsname u{};
  uname(&u);
  return {{"cpu", cpu},
          {"cores", std::thread::hardware_concurrency()},
          {"memoryGiB", static_cast<double>(pages) * static_cast<double>(page) / (1 << 30)},
          {"kernel", fmt::format("{} {}", u.sysname, u.release)},
          {"hostname", u.nodename}};
}

}  // namespace mqlab::load
