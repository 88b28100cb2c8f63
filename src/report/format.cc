#include "report/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mqlab::report {
namespace {

// Code points in UTF-8 text (every figure and label here is one column per code point).
size_t Width(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

bool LooksNumeric(std::string_view s) {
  if (s.empty() || s == kDash) return true;
  for (std::string_view lead : {"≥", "−", "±", "+", "-"}) {
    if (s.starts_with(lead)) s.remove_prefix(lead.size());
  }
  while (s.starts_with(' ')) s.remove_prefix(1);
  return !s.empty() && s[0] >= '0' && s[0] <= '9';
}

}  // namespace

std::vector<bool> NumericColumns(const Table& t) {
  std::vector<bool> numeric(t.header.size(), true);
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < row.size() && i < numeric.size(); ++i) {
      if (!LooksNumeric(row[i])) numeric[i] = false;
    }
  }
  if (!numeric.empty()) numeric[0] = false;  // the first column names the row
  return numeric;
}

std::string Figure(double v) {
  if (!std::isfinite(v)) return std::string(kDash);
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  if (v == 0) return "0";
  // 3 significant digits as a fixed-point number, then trailing zeros dropped.
  int digits = std::max(0, 2 - static_cast<int>(std::floor(std::log10(std::abs(v)))));
  std::string s = fmt::format("{:.{}f}", v, digits);
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string Figure(Num v) { return v ? Figure(*v) : std::string(kDash); }

std::string Percent(Num fraction) {
  if (!fraction || !std::isfinite(*fraction)) return std::string(kDash);
  return Figure(*fraction * 100) + "%";
}

std::string Multiple(Num m) { return m ? Figure(*m) + "×" : std::string(kDash); }

std::string Change(Num a, Num b) {
  if (!a || !b || *a == 0) return std::string(kDash);
  double pct = (*b - *a) / *a * 100;
  std::string mag = Figure(std::abs(pct));
  if (mag == "0") return "±0%";
  return fmt::format("{}{}%", pct > 0 ? "+" : "−", mag);
}

std::string TitleTime(std::string_view t) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd";
  bool shaped = t.size() >= kShape.size() && t.ends_with('Z');
  for (size_t i = 0; shaped && i < kShape.size(); ++i) {
    shaped = kShape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == kShape[i];
  }
  if (!shaped) return std::string(t);
  return fmt::format("{} {} UTC", t.substr(0, 10), t.substr(11, 5));
}

std::string EscapeMarkdown(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\`*_[]<>|#").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string MarkdownTable(const Table& t) {
  std::vector<bool> numeric = NumericColumns(t);
  std::string out = "|";
  for (const auto& h : t.header) out += " " + EscapeMarkdown(h) + " |";
  out += "\n|";
  for (bool n : numeric) out += n ? " ---: |" : " --- |";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const auto& cell : row) out += " " + EscapeMarkdown(cell) + " |";
    out += "\n";
  }
  return out;
}

std::string TextTable(const Table& t) {
  std::vector<size_t> widths(t.header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  };
  measure(t.header);
  for (const auto& row : t.rows) measure(row);
  std::vector<bool> numeric = NumericColumns(t);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      std::string pad(widths[i] - Width(row[i]), ' ');
      out += (i ? "  " : "") + (numeric[i] ? pad + row[i] : row[i] + pad);
    }
    out.erase(out.find_last_not_of(' ') + 1);
    return out + "\n";
  };
  std::string out = line(t.header);
  size_t total = 0;
  for (size_t w : widths) total += w;
  out += std::string(total + 2 * (widths.empty() ? 0 : widths.size() - 1), '-') + "\n";
  for (const auto& row : t.rows) out += line(row);
  return out;
}

}  // namespace mqlab::report
