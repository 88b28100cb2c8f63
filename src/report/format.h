// Number formatting and tables shared by the report's renderings (summary.md, report.html,
// `mqlab compare`), so that a figure reads the same in all three.
//
// Figures: three significant digits, no exponent ("49.8", "2.5", "1235"); a figure that was not
// measured prints as an em dash. Tables are plain text cells (no markup): each renderer escapes
// for its own format.
//
// Threading: pure functions.
#ifndef MQLAB_REPORT_FORMAT_H_
#define MQLAB_REPORT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "report/results.h"

namespace mqlab::report {

inline constexpr std::string_view kDash = "—";

// 3 significant digits, whole numbers from 1000 up, trailing zeros dropped: 49.8, 2.5, 1235.
std::string Figure(double v);
std::string Figure(Num v);
// A fraction as a percentage, as a Figure: 0 → "0%", 0.0004 → "0.04%", 0.0123 → "1.23%".
std::string Percent(Num fraction);
// A multiple of capacity: 0.8 → "0.8×".
std::string Multiple(Num m);
// The relative change from a to b: "+12%", "−8%", "±0%"; a dash when either is missing or a
// is 0.
std::string Change(Num a, Num b);

// An RFC 3339 UTC time to the minute for titles: "2026-11-25T19:00:00.000Z" → "2026-11-25 19:00
// UTC"; anything else is returned as it is.
std::string TitleTime(std::string_view rfc3339);

struct Table {
  std::string id;  // stable name ("sync-async"): an anchor in the page, a handle in tests
  std::string title;
  std::string caption;  // one paragraph saying what is compared and how to read it
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// Per column: true when every cell reads as a figure (right-aligned); never the first column.
std::vector<bool> NumericColumns(const Table& t);
// GitHub Markdown: the header, the separator (numeric-looking columns right-aligned) and rows;
// '|', '\' and markup characters in cells are escaped.
std::string MarkdownTable(const Table& t);
// Columns padded to their widths (by code points) with a rule under the header, for terminals.
std::string TextTable(const Table& t);
// Escapes Markdown markup in free text (\ ` * _ [ ] < > | #).
std::string EscapeMarkdown(std::string_view text);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_FORMAT_H_
