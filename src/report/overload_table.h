// The Overload table: `mqlab overload`'s figures (overload.json, schema mqlab.overload/1) as a
// report table, for overload.md and — when overload.json lies beside a study's results.json —
// the study's summary.md and report.html.
//
// Threading: pure functions.
#ifndef MQLAB_REPORT_OVERLOAD_TABLE_H_
#define MQLAB_REPORT_OVERLOAD_TABLE_H_

#include <nlohmann/json.hpp>

#include "report/format.h"

namespace mqlab::report {

inline constexpr char kOverloadFile[] = "overload.json";

// One row per run (version × backpressure). A run that failed shows its error.
Table OverloadTable(const nlohmann::json& overload);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_OVERLOAD_TABLE_H_
