#include "load/threshold.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

namespace mqlab::load {
namespace {

// "p(99.9)" → "p99.9", "avg" → "mean", "p999" → "p99.9", "med" → "p50".
std::string CanonicalLatency(std::string_view name) {
  std::string n(name);
  if (n.starts_with("p(") && n.ends_with(")")) n = "p" + n.substr(2, n.size() - 3);
  if (n == "avg") return "mean";
  if (n == "med") return "p50";
  if (n == "p999") return "p99.9";
  for (std::string_view known : {"p50", "p90", "p95", "p99", "p99.9", "min", "max", "mean"}) {
    if (n == known) return n;
  }
  return "";
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<double> ParseNumber(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

Result<double> ParseLimit(Threshold::Kind kind, std::string_view value, std::string_view text) {
  auto bad = [&](std::string_view want) {
    return InvalidArgument(fmt::format("bad value '{}' in '{}' (want {})", value, text, want));
  };
  switch (kind) {
    case Threshold::Kind::kLatency: {
      if (auto v = ParseNumber(value)) return *v;  // bare number: milliseconds, as k6
      auto d = ParseDuration(value);
      if (!d) return bad("a duration such as 500ms or 2s");
      return static_cast<double>(d->count()) / 1e6;
    }
    case Threshold::Kind::kRate: {
      if (value.ends_with("%")) {
        auto v = ParseNumber(TrimSpaces(value.substr(0, value.size() - 1)));
        if (!v || *v < 0 || *v > 100)
          return bad("a percentage such as 1% or a fraction such as 0.01");
        return *v / 100;
      }
      auto v = ParseNumber(value);
      if (!v || *v < 0 || *v > 1) return bad("a percentage such as 1% or a fraction such as 0.01");
      return *v;
    }
    case Threshold::Kind::kThroughput: {
      if (value.ends_with("/s")) value.remove_suffix(2);
      auto v = ParseNumber(value);
      if (!v || *v < 0) return bad("a rate per second such as 100");
      return *v;
    }
  }
  return bad("a value");
}

std::optional<double> LatencyValue(const LatencyStats& l, std::string_view name) {
  if (l.count == 0) return std::nullopt;
  if (name == "p50") return l.p50_ms;
  if (name == "p90") return l.p90_ms;
  if (name == "p95") return l.p95_ms;
  if (name == "p99") return l.p99_ms;
  if (name == "p99.9") return l.p999_ms;
  if (name == "min") return l.min_ms;
  if (name == "max") return l.max_ms;
  return l.mean_ms;
}

std::optional<double> Ratio(uint64_t part, uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

bool Threshold::NeedsFollow() const { return metric.starts_with("e2e_") || metric == "jobs_per_s"; }

bool Threshold::Holds(double actual) const {
  switch (op) {
    case Op::kLt:
      return actual < limit;
    case Op::kLe:
      return actual <= limit;
    case Op::kGt:
      return actual > limit;
    case Op::kGe:
      return actual >= limit;
    case Op::kEq:
      return actual == limit;
  }
  return false;
}

Result<Threshold> ParseThreshold(std::string_view text) {
  Threshold t;
  t.expression = std::string(TrimSpaces(text));
  const size_t at = text.find_first_of("<>=");
  if (at == std::string_view::npos) {
    return InvalidArgument(fmt::format("'{}' has no operator (want e.g. p99<500ms)", text));
  }
  std::string_view name = TrimSpaces(text.substr(0, at));
  std::string_view rest = text.substr(at);
  if (rest.starts_with("<="))
    t.op = Threshold::Op::kLe;
  else if (rest.starts_with(">="))
    t.op = Threshold::Op::kGe;
  else if (rest.starts_with("=="))
    t.op = Threshold::Op::kEq;
  else if (rest.starts_with("<"))
    t.op = Threshold::Op::kLt;
  else if (rest.starts_with(">"))
    t.op = Threshold::Op::kGt;
  else
    return InvalidArgument(fmt::format("bad operator in '{}' (want < <= > >= ==)", text));
  const bool two =
      t.op == Threshold::Op::kLe || t.op == Threshold::Op::kGe || t.op == Threshold::Op::kEq;
  std::string_view value = TrimSpaces(rest.substr(two ? 2 : 1));

  std::string_view base = name;
  const bool e2e = base.starts_with("e2e_");
  if (e2e) base.remove_prefix(4);
  if (std::string lat = CanonicalLatency(base); !lat.empty()) {
    t.kind = Threshold::Kind::kLatency;
    t.metric = (e2e ? "e2e_" : "") + lat;
  } else if (!e2e &&
             (base == "errors" || base == "timeouts" || base == "dropped" || base == "late")) {
    t.kind = Threshold::Kind::kRate;
    t.metric = std::string(base);
  } else if (!e2e && (base == "rps" || base == "jobs_per_s")) {
    t.kind = Threshold::Kind::kThroughput;
    t.metric = std::string(base);
  } else {
    return InvalidArgument(fmt::format(
        "unknown metric '{}' in '{}' (want p50 p90 p95 p99 p99.9 min max mean, e2e_ of those, "
        "errors timeouts dropped late, rps jobs_per_s)",
        name, text));
  }
  auto limit = ParseLimit(t.kind, value, text);
  if (!limit) return std::unexpected(limit.error());
  t.limit = *limit;
  return t;
}

std::optional<double> MetricValue(const LoadSummary& s, const Threshold& t) {
  if (t.kind == Threshold::Kind::kLatency) {
    if (t.metric.starts_with("e2e_")) return LatencyValue(s.follow.e2e, t.metric.substr(4));
    return LatencyValue(s.latency, t.metric);
  }
  if (t.metric == "errors") return Ratio(s.errors(), s.sent);
  if (t.metric == "timeouts") return Ratio(s.timeouts, s.sent);
  if (t.metric == "dropped") return Ratio(s.dropped, s.scheduled);
  if (t.metric == "late") return Ratio(s.late, s.scheduled);
  if (t.metric == "rps")
    return s.measured_seconds > 0 ? std::optional(s.achieved_rate) : std::nullopt;
  if (t.metric == "jobs_per_s") {
    return s.follow.succeeded + s.follow.failed > 0 ? std::optional(s.follow.jobs_per_second)
                                                    : std::nullopt;
  }
  return std::nullopt;
}

std::vector<ThresholdResult> EvaluateThresholds(const LoadSummary& summary,
                                                const std::vector<std::string>& expressions) {
  std::vector<ThresholdResult> out;
  for (const std::string& e : expressions) {
    auto t = ParseThreshold(e);
    if (!t) {
      out.push_back({e, "", std::nullopt, false});
      continue;
    }
    std::optional<double> v = MetricValue(summary, *t);
    out.push_back({t->expression, t->metric, v, v && t->Holds(*v)});
  }
  return out;
}

}  // namespace mqlab::load
