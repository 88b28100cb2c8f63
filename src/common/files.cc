#include "common/files.h"

#include <ctime>
#include <fstream>

#include <fmt/format.h>

namespace mqlab {

namespace fs = std::filesystem;

Status WriteFileAtomically(const fs::path& path, std::string_view text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Unavailable(fmt::format("cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Unavailable(fmt::format("cannot write {}: {}", path.string(), ec.message()));
  }
  return Ok();
}

std::string UtcFolderStamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace mqlab
