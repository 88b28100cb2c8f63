// `mqlab compare A B`: what changed between two study runs, for the cells both ran.
//
// Printed as plain-text tables (format.h's TextTable): the runs (start, profile, mqlab version),
// the parameters and machine facts that differ (a change there explains a change in the
// figures), then
//   - per cell in both: breaking point in A and B (jobs/s and × capacity) and its change;
//   - per cell and per multiple of capacity both ladders climbed: p99 end to end in A and B and
//     its change;
// and the cells only one run has. Cells are matched by id (version-workers-backpressure).
//
// Threading: pure function.
#ifndef MQLAB_REPORT_COMPARE_H_
#define MQLAB_REPORT_COMPARE_H_

#include <string>

#include "report/results.h"

namespace mqlab::report {

// `label_a` / `label_b` name the runs in the text (their folders).
std::string RenderComparison(const Report& a, const Report& b, const std::string& label_a,
                             const std::string& label_b);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_COMPARE_H_
