#include "load/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "http/client.h"
#include "load/threshold.h"

namespace mqlab::load {
namespace {

using std::chrono::duration_cast;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Nanoseconds per unit, 0 for an unknown unit.
double UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s") return 1e3;  // "µs" in UTF-8
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  if (unit == "m") return 60e9;
  if (unit == "h") return 3600e9;
  return 0;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

Status ValidateModel(const LoadOptions& o) {
  const bool open = o.rate > 0 || !o.ramp.empty();
  if (o.vus < 0) return InvalidArgument("--vus must be > 0");
  if (o.vus > 0 && open) {
    return InvalidArgument(
        "--vus (closed model) and --rate/--ramp (open model) exclude each other");
  }
  if (o.vus == 0 && !open) return InvalidArgument("one of --rate, --ramp or --vus is required");
  if (!(o.rate >= 0 && std::isfinite(o.rate) && o.rate <= 10'000'000)) {
    return InvalidArgument("--rate must be in (0, 10000000] requests/s");
  }
  for (const RampStage& s : o.ramp) {
    if (!(s.target_rate >= 0 && s.target_rate <= 10'000'000)) {
      return InvalidArgument("--ramp: rates must be in [0, 10000000] requests/s");
    }
    if (s.duration <= Nanos::zero()) return InvalidArgument("--ramp: stage durations must be > 0");
  }
  if (!o.ramp.empty() && o.PeakRate() <= 0) return InvalidArgument("--ramp offers no requests");
  if (o.duration < Nanos::zero()) return InvalidArgument("--duration must be > 0");
  if (o.ramp.empty() && o.duration == Nanos::zero())
    return InvalidArgument("--duration is required");
  if (o.warmup < Nanos::zero()) return InvalidArgument("--warmup must be >= 0");
  if (o.vus > 1'000'000) return InvalidArgument("--vus must be at most 1000000");
  if (o.model() == Model::kClosed && o.connections != 0) {
    return InvalidArgument("--connections is for the open model; with --vus each user has one");
  }
  if (o.arrivals == Arrivals::kPoisson && o.model() == Model::kClosed) {
    return InvalidArgument("--arrivals is for the open model (--rate/--ramp)");
  }
  return Ok();
}

Status ValidateLimits(const LoadOptions& o) {
  if (o.threads < 1 || o.threads > 256) return InvalidArgument("--threads must be in [1, 256]");
  if (o.model() == Model::kClosed && o.threads > o.vus) {
    return InvalidArgument("--threads must not exceed --vus");
  }
  if (o.connections < 0 || o.connections > 1'000'000) {
    return InvalidArgument("--connections must be in [1, 1000000]");
  }
  if (o.connections > 0 && o.connections < o.threads) {
    return InvalidArgument("--connections must be at least --threads");
  }
  if (o.backlog < -1) return InvalidArgument("--backlog must be >= 0");
  if (o.timeout <= Nanos::zero()) return InvalidArgument("--timeout must be > 0");
  if (o.idle_spin < Nanos(-1) || o.idle_spin > std::chrono::milliseconds(10)) {
    return InvalidArgument("--idle-spin must be in [0, 10ms] (or auto)");
  }
  if (o.expected_latency <= Nanos::zero()) return InvalidArgument("--expected-latency must be > 0");
  if (o.late_after <= Nanos::zero()) return InvalidArgument("late_after must be > 0");
  if (o.follow_timeout < Nanos::zero()) return InvalidArgument("--follow-timeout must be >= 0");
  if (!(o.poll_rate >= 0)) return InvalidArgument("--poll-rate must be >= 0");
  if (o.poll_connections < 1 || o.poll_connections > 1024) {
    return InvalidArgument("--poll-connections must be in [1, 1024]");
  }
  return Ok();
}

Status ValidateRequest(const LoadOptions& o) {
  if (o.url.empty()) return InvalidArgument("--url is required");
  if (auto u = http::ParseHttpUrl(o.url); !u) return InvalidArgument("--url: " + u.error().message);
  if (!o.method.empty() && !IsToken(o.method)) {
    return InvalidArgument("--method: '" + o.method + "' is not an HTTP method");
  }
  for (const auto& [name, value] : o.headers) {
    if (!IsToken(name)) return InvalidArgument("--header: bad header name '" + name + "'");
    if (value.find_first_of("\r\n") != std::string::npos) {
      return InvalidArgument("--header: a value must not contain a line break");
    }
  }
  return Ok();
}

}  // namespace

std::string_view ModelName(Model m) { return m == Model::kOpen ? "open" : "closed"; }
std::string_view ArrivalsName(Arrivals a) { return a == Arrivals::kEven ? "even" : "poisson"; }
std::string_view CpuPolicyName(CpuPolicy p) {
  switch (p) {
    case CpuPolicy::kNormal:
      return "normal";
    case CpuPolicy::kBatch:
      return "batch";
    case CpuPolicy::kAuto:
      break;
  }
  return "auto";
}

std::string LoadOptions::EffectiveMethod() const {
  if (!method.empty()) {
    std::string m = method;
    for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return m;
  }
  return body.empty() ? "GET" : "POST";
}

double LoadOptions::PeakRate() const {
  if (model() == Model::kClosed) return 0;
  double peak = rate;
  for (const RampStage& s : ramp) peak = std::max(peak, s.target_rate);
  return peak;
}

Nanos LoadOptions::MeasuredDuration() const {
  if (duration > Nanos::zero() || ramp.empty()) return duration;
  Nanos total{0};
  for (const RampStage& s : ramp) total += s.duration;
  return total;
}

Status LoadOptions::Validate() const {
  if (Status s = ValidateRequest(*this); !s) return s;
  if (Status s = ValidateModel(*this); !s) return s;
  if (Status s = ValidateLimits(*this); !s) return s;
  for (const std::string& t : thresholds) {
    auto parsed = ParseThreshold(t);
    if (!parsed) return InvalidArgument("--threshold: " + parsed.error().message);
    if (parsed->NeedsFollow() && !follow) {
      return InvalidArgument("--threshold '" + t + "' needs --follow (end-to-end job latency)");
    }
  }
  return Ok();
}

LoadOptions ResolveDefaults(LoadOptions o) {
  o.method = o.EffectiveMethod();
  const double peak = o.PeakRate();
  const double timeout_s = std::chrono::duration<double>(o.timeout).count();
  if (o.model() == Model::kOpen && o.connections == 0) {
    // Little's law: in flight = rate × latency; twice that leaves room for bursts (Poisson) and
    // slower moments. 1024 caps file descriptors and the server's connection slots.
    const double latency_s = std::chrono::duration<double>(o.expected_latency).count();
    const double little = std::ceil(2 * peak * latency_s);
    o.connections = static_cast<int>(std::clamp(little, double(o.threads), 1024.0));
    o.connections = std::max(o.connections, o.threads);
  }
  if (o.model() == Model::kClosed) o.connections = o.vus;
  if (o.backlog < 0) {
    // What arrives in one timeout: an arrival that waited longer would be dropped as expired.
    o.backlog = static_cast<int64_t>(std::max(1000.0, std::ceil(peak * timeout_s)));
  }
  if (o.poll_rate == 0) o.poll_rate = o.model() == Model::kClosed ? 1000 : std::max(100.0, peak);
  const bool closed = o.model() == Model::kClosed;
  if (o.idle_spin < Nanos::zero()) {
    o.idle_spin = closed ? std::chrono::microseconds(50) : Nanos::zero();
  }
  if (o.cpu_policy == CpuPolicy::kAuto)
    o.cpu_policy = closed ? CpuPolicy::kBatch : CpuPolicy::kNormal;
  return o;
}

Result<Nanos> ParseDuration(std::string_view text, Nanos bare_unit) {
  std::string_view s = Trim(text);
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("bad duration '{}' (want e.g. 500ms, 10s, 2m, 1m30s)", text));
  };
  if (s.empty()) return bad();
  double total_ns = 0;
  bool first = true;
  while (!s.empty()) {
    double value = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || !std::isfinite(value) || value < 0) return bad();
    s.remove_prefix(static_cast<size_t>(p - s.data()));
    size_t n = 0;
    while (n < s.size() && !std::isdigit(static_cast<unsigned char>(s[n])) && s[n] != '.') ++n;
    std::string_view unit = s.substr(0, n);
    s.remove_prefix(n);
    if (unit.empty()) {
      if (!first || !s.empty()) return bad();
      total_ns = value * static_cast<double>(bare_unit.count());
      break;
    }
    const double per = UnitNanos(unit);
    if (per == 0) return bad();
    total_ns += value * per;
    first = false;
  }
  if (total_ns > 1e18) return bad();
  return Nanos(static_cast<int64_t>(std::llround(total_ns)));
}

std::string FormatDuration(Nanos d) {
  using namespace std::chrono;
  const int64_t ns = d.count();
  if (ns == 0) return "0s";
  if (ns % duration_cast<nanoseconds>(hours(1)).count() == 0)
    return fmt::format("{}h", ns / 3600'000'000'000);
  if (ns % 60'000'000'000 == 0) return fmt::format("{}m", ns / 60'000'000'000);
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns >= 1'000'000'000) return fmt::format("{:g}s", static_cast<double>(ns) / 1e9);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

Result<std::vector<RampStage>> ParseRamp(std::string_view text) {
  std::vector<RampStage> stages;
  std::string_view rest = Trim(text);
  if (rest.empty()) return InvalidArgument("empty ramp (want e.g. '100:30s,500:1m')");
  for (bool more = true; more;) {
    size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
    size_t colon = item.find(':');
    auto bad = [&] {
      return InvalidArgument(
          fmt::format("bad ramp stage '{}' (want RATE:DURATION, e.g. 100:30s)", item));
    };
    if (colon == std::string_view::npos) return bad();
    std::string_view rate = Trim(item.substr(0, colon));
    if (rate.ends_with("/s")) rate.remove_suffix(2);
    RampStage stage;
    auto [p, ec] = std::from_chars(rate.data(), rate.data() + rate.size(), stage.target_rate);
    if (rate.empty() || ec != std::errc() || p != rate.data() + rate.size() ||
        stage.target_rate < 0) {
      return bad();
    }
    auto d = ParseDuration(item.substr(colon + 1));
    if (!d || *d <= Nanos::zero()) return bad();
    stage.duration = *d;
    stages.push_back(stage);
  }
  return stages;
}

Result<std::pair<std::string, std::string>> ParseHeader(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument(fmt::format("bad header '{}' (want 'Name: value')", text));
  }
  std::string name(Trim(text.substr(0, colon)));
  std::string value(Trim(text.substr(colon + 1)));
  if (!IsToken(name)) return InvalidArgument(fmt::format("bad header name in '{}'", text));
  return std::pair{std::move(name), std::move(value)};
}

}  // namespace mqlab::load
