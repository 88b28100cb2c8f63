// The report of a study run: summary.md and report.html, rendered from results.json.
//
//   // the study runner, once results.json is written (or after a Ctrl-C, with what it has):
//   if (Status s = report::WriteReport(results, out_dir); !s) …
//   // `mqlab report DIR`:
//   auto written = report::RenderReport(dir);  // reads DIR/results.json, writes both files
//
// Both files are written to a temporary name and renamed into place, so a reader (or a second
// render) never sees half a page.
//
// Errors: InvalidArgument when the document is not a mqlab.study/1 results document (the message
// says which schema it is, and which field is wrong); NotFound when DIR/results.json is missing;
// Unavailable when a file cannot be written.
//
// Threading: thread-safe for different folders.
#ifndef MQLAB_REPORT_REPORT_H_
#define MQLAB_REPORT_REPORT_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::report {

inline constexpr char kSummaryFile[] = "summary.md";
inline constexpr char kHtmlFile[] = "report.html";
inline constexpr char kResultsFile[] = "results.json";

// Writes dir/summary.md and dir/report.html from a results document (schema mqlab.study/1).
Status WriteReport(const nlohmann::json& results, const std::filesystem::path& dir);

// Re-renders from dir/results.json (or from a results.json path: its folder gets the files).
// Returns the paths written: summary.md, then report.html.
Result<std::vector<std::filesystem::path>> RenderReport(const std::filesystem::path& dir);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_REPORT_H_
