#include "report/report.h"

#include <fmt/format.h>

#include <fstream>

#include "common/files.h"
#include "report/html.h"
#include "report/overload_table.h"
#include "report/results.h"
#include "report/stability.h"
#include "report/summary.h"

namespace mqlab::report {
namespace {

namespace fs = std::filesystem;

Status WriteFiles(const Report& in, const fs::path& dir) {
  Report r = in;
  if (std::ifstream chaos(dir / kChaosFile); chaos) {
    r.chaos = nlohmann::json::parse(chaos, nullptr, false);
    if (!r.chaos.is_object() || r.chaos.value("schema", "") != "mqlab.chaos/1") r.chaos = nullptr;
  }
  if (std::ifstream overload(dir / kOverloadFile); overload) {
    r.overload = nlohmann::json::parse(overload, nullptr, false);
    if (!r.overload.is_object() || r.overload.value("schema", "") != "mqlab.overload/1") {
      r.overload = nullptr;
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  if (Status s = WriteFileAtomically(dir / kSummaryFile, RenderSummaryMarkdown(r)); !s) return s;
  return WriteFileAtomically(dir / kHtmlFile, RenderHtml(r));
}

}  // namespace

Status WriteReport(const nlohmann::json& results, const fs::path& dir) {
  auto r = ParseResults(results);
  if (!r) return std::unexpected(r.error());
  return WriteFiles(*r, dir);
}

Result<std::vector<fs::path>> RenderReport(const fs::path& dir) {
  std::error_code ec;
  fs::path folder = fs::is_directory(dir, ec) ? dir : dir.parent_path();
  if (folder.empty()) folder = ".";
  auto r = LoadResults(dir);
  if (!r) return std::unexpected(r.error());
  if (Status s = WriteFiles(*r, folder); !s) return std::unexpected(s.error());
  return std::vector<fs::path>{folder / kSummaryFile, folder / kHtmlFile};
}

}  // namespace mqlab::report
