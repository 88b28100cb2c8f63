#include "report/compare.h"

#include <fmt/format.h>

#include <cmath>

#include "report/format.h"

namespace mqlab::report {
namespace {

const Cell* FindById(const Report& r, const std::string& id) {
  for (const Cell& c : r.cells) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

const std::string* Lookup(const Facts& facts, const std::string& key) {
  for (const auto& [k, v] : facts) {
    if (k == key) return &v;
  }
  return nullptr;
}

// "serviceMs 20 → 50" for each key whose value differs (or exists on one side only).
std::vector<std::string> Differences(const Facts& a, const Facts& b) {
  std::vector<std::string> out;
  auto missing = std::string(kDash);
  for (const auto& [k, v] : a) {
    const std::string* w = Lookup(b, k);
    if (!w || *w != v) out.push_back(fmt::format("{} {} → {}", k, v, w ? *w : missing));
  }
  for (const auto& [k, w] : b) {
    if (!Lookup(a, k)) out.push_back(fmt::format("{} {} → {}", k, missing, w));
  }
  return out;
}

std::string RunLine(const Report& r, const std::string& label) {
  return fmt::format("{}: started {}, profile {}, mqlab {}, {} cells{}", label,
                     r.started_at.empty() ? "?" : r.started_at, r.profile.empty() ? "?" : r.profile,
                     r.mqlab_version.empty() ? "?" : r.mqlab_version, r.cells.size(),
                     r.complete == false ? " (incomplete)" : "");
}

Num BreakingRps(const Cell& c) {
  return c.breaking_point ? c.breaking_point->offered_rps : std::nullopt;
}
Num BreakingMultiple(const Cell& c) {
  return c.breaking_point ? c.breaking_point->multiple : std::nullopt;
}
std::string RpsText(const Cell& c) { return c.breaking_point ? Figure(BreakingRps(c)) : "none"; }

Table BreakingTable(const Report& a, const Report& b) {
  Table t{"breaking-point",
          "Breaking point (highest offered load meeting the SLO)",
          "",
          {"Cell", "A (jobs/s)", "B (jobs/s)", "Change", "A × capacity", "B × capacity"},
          {}};
  for (const Cell& ca : a.cells) {
    const Cell* cb = FindById(b, ca.id);
    if (!cb) continue;
    t.rows.push_back({ca.id, RpsText(ca), RpsText(*cb), Change(BreakingRps(ca), BreakingRps(*cb)),
                      Figure(BreakingMultiple(ca)), Figure(BreakingMultiple(*cb))});
  }
  return t;
}

Table LatencyTable(const Report& a, const Report& b) {
  Table t{"p99",
          "p99 end to end at matching multiples of capacity",
          "",
          {"Cell", "Multiple", "A (ms)", "B (ms)", "Change"},
          {}};
  for (const Cell& ca : a.cells) {
    const Cell* cb = FindById(b, ca.id);
    if (!cb) continue;
    for (const Step& sa : ca.steps) {
      if (!sa.multiple) continue;
      const Step* sb = cb->StepAt(*sa.multiple);
      if (!sb) continue;
      t.rows.push_back({ca.id, Multiple(sa.multiple), Figure(sa.end_to_end.p99),
                        Figure(sb->end_to_end.p99), Change(sa.end_to_end.p99, sb->end_to_end.p99)});
    }
  }
  return t;
}

std::string OnlyIn(const Report& r, const Report& other, const std::string& label) {
  std::string ids;
  for (const Cell& c : r.cells) {
    if (!FindById(other, c.id)) ids += (ids.empty() ? "" : ", ") + c.id;
  }
  return ids.empty() ? "" : fmt::format("Only in {}: {}\n", label, ids);
}

}  // namespace

std::string RenderComparison(const Report& a, const Report& b, const std::string& label_a,
                             const std::string& label_b) {
  std::string out = RunLine(a, "A " + label_a) + "\n" + RunLine(b, "B " + label_b) + "\n";
  for (auto [name, diffs] :
       {std::pair{"Parameters", Differences(a.parameters.all, b.parameters.all)},
        std::pair{"Machine", Differences(a.machine, b.machine)}}) {
    if (diffs.empty()) continue;
    out += fmt::format("{} differ:", name);
    for (const std::string& d : diffs) out += "\n  " + d;
    out += "\n";
  }
  out += "\n";
  Table bp = BreakingTable(a, b);
  if (bp.rows.empty())
    return out + "No cell is in both runs.\n" + OnlyIn(a, b, "A") + OnlyIn(b, a, "B");
  out += bp.title + "\n" + TextTable(bp) + "\n";
  Table p99 = LatencyTable(a, b);
  out += p99.title + "\n";
  out += p99.rows.empty() ? "No rung at the same multiple in both runs.\n" : TextTable(p99);
  std::string only = OnlyIn(a, b, "A") + OnlyIn(b, a, "B");
  return only.empty() ? out : out + "\n" + only;
}

}  // namespace mqlab::report
