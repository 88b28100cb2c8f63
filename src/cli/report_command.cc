// `mqlab report DIR`: re-renders DIR/summary.md and DIR/report.html from DIR/results.json (after
// an upgrade of mqlab, or when the page was deleted) and prints the two paths. Exit 0; 1 when
// results.json is missing, unreadable or of another schema; 2 for misuse.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "report/report.h"

namespace mqlab::cli {

Runner AddReportCommand(CLI::App& root) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "report", "Re-render summary.md and report.html of a study run from its results.json");
  cmd->add_option("DIR", *dir, "A study's output folder (or its results.json)")
      ->required()
      ->check(CLI::ExistingPath);
  return [dir] {
    auto written = report::RenderReport(*dir);
    if (!written) return RunError("report", written.error().message);
    for (const auto& path : *written) fmt::print("{}\n", path.string());
    return 0;
  };
}

}  // namespace mqlab::cli
