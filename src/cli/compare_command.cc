// `mqlab compare A B`: prints what changed between two study runs (src/report/compare.h): per
// cell both ran, the breaking point and the p99 end to end at each multiple of capacity both
// ladders climbed. Exit 0 whatever changed; 1 when a results.json cannot be read; 2 for misuse.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "report/compare.h"
#include "report/results.h"

namespace mqlab::cli {

Runner AddCompareCommand(CLI::App& root) {
  auto runs = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = root.add_subcommand(
      "compare", "Compare two study runs: breaking points and p99 per cell, A → B");
  cmd->add_option("A B", *runs, "Two study output folders (or their results.json files)")
      ->required()
      ->expected(2)
      ->check(CLI::ExistingPath);
  return [runs] {
    auto a = report::LoadResults(runs->at(0));
    if (!a) return RunError("compare", a.error().message);
    auto b = report::LoadResults(runs->at(1));
    if (!b) return RunError("compare", b.error().message);
    fmt::print("{}", report::RenderComparison(*a, *b, runs->at(0), runs->at(1)));
    return 0;
  };
}

}  // namespace mqlab::cli
