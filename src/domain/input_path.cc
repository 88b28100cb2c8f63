#include "mqlab/domain/input_path.h"

#include <algorithm>

#include <fmt/format.h>

namespace mqlab {

namespace fs = std::filesystem;

Result<std::string> ConfineToDataDir(const fs::path& data_dir, std::string_view input_path) {
  if (input_path.empty()) return InvalidArgument("inputPath is empty");
  if (input_path.size() > kMaxInputPathBytes) {
    return InvalidArgument(fmt::format("inputPath is longer than {} bytes", kMaxInputPathBytes));
  }
  for (char c : input_path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("inputPath contains a control character");
    }
  }
  if (input_path.front() == '/' || input_path.front() == '\\') {
    return InvalidArgument("inputPath must be relative to the data folder");
  }
  fs::path rel(input_path);
  fs::path normal;
  for (const fs::path& part : rel) {
    const std::string s = part.string();
    if (s == "..") return InvalidArgument("inputPath must not contain '..'");
    if (s == "." || s.empty()) continue;
    normal /= part;
  }
  if (normal.empty()) return InvalidArgument("inputPath names no file");

  // Symlinks: resolve the part of the path that exists and require it to stay inside the
  // (resolved) data folder. weakly_canonical resolves the existing prefix and appends the rest.
  std::error_code ec;
  fs::path root = fs::weakly_canonical(data_dir, ec);
  if (ec) return InvalidArgument(fmt::format("data folder cannot be resolved: {}", ec.message()));
  fs::path resolved = fs::weakly_canonical(root / normal, ec);
  if (ec) return InvalidArgument(fmt::format("inputPath cannot be resolved: {}", ec.message()));
  auto [root_end, _] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  if (root_end != root.end()) return InvalidArgument("inputPath leads outside the data folder");
  return normal.generic_string();
}

}  // namespace mqlab
