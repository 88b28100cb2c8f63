// The Stability table: `mqlab chaos`'s figures (chaos.json, schema mqlab.chaos/1) as a report
// table, for chaos.md and — when chaos.json lies beside a study's results.json — the study's
// summary.md and report.html.
//
// Threading: pure functions (LoadStability reads one file).
#ifndef MQLAB_REPORT_STABILITY_H_
#define MQLAB_REPORT_STABILITY_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "report/format.h"

namespace mqlab::report {

inline constexpr char kChaosFile[] = "chaos.json";

// One row per chaos target. A target that failed shows its error in the last column.
Table StabilityTable(const nlohmann::json& chaos);

// dir/chaos.json as a table; nullopt when there is none or it is not a mqlab.chaos/1 document.
std::optional<Table> LoadStability(const std::filesystem::path& dir);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_STABILITY_H_
