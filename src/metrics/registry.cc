#include "metrics/registry.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>

namespace mqlab::metrics {
namespace {

[[noreturn]] void ContractFailure(const std::string& what) {
  std::fprintf(stderr, "mqlab::metrics contract violated: %s\n", what.c_str());
  std::abort();
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void CheckNames(const std::string& name, const std::vector<std::string>& label_names,
                bool histogram) {
  if (!IsValidName(name, /*allow_colon=*/true)) {
    ContractFailure("invalid metric name '" + name + "'");
  }
  std::set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsValidName(label, /*allow_colon=*/false) || label.starts_with("__")) {
      ContractFailure("invalid label name '" + label + "' in " + name);
    }
    if (histogram && label == "le") ContractFailure("histogram " + name + " uses label 'le'");
    if (!seen.insert(label).second) ContractFailure("duplicate label '" + label + "' in " + name);
  }
}

// Adds `v` to an atomic double. std::atomic<double>::fetch_add is a CAS loop in libstdc++;
// written out here only to keep the memory order explicit.
void AtomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

void AppendUnsigned(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

// ---- Counter, Histogram ----

void Counter::Add(double v) {
  if (!(v > 0)) return;  // also drops NaN
  AtomicAdd(frac_, v);
}

void Counter::AdvanceTo(double total) {
  double cur = Value();
  if (total > cur) AtomicAdd(frac_, total - cur);
}

double Counter::Value() const {
  return static_cast<double>(ints_.load(std::memory_order_relaxed)) +
         frac_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // First bound >= v: the bucket whose `le` admits v; bounds_->size() is the +Inf bucket.
  size_t i = std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

uint64_t Histogram::Count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
  }
  return total;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                               5,      10,    30,     60,    120};
  return kBuckets;
}

// ---- Text format ----

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest digits that round-trip, laid out as Go's strconv 'g' does (what Prometheus
  // itself prints): plain decimals for exponents in [-4, 21), "1e-07" style outside, so bucket
  // bounds read "0.0005" and "120", never "5e-04" or "1.2e+02".
  char buf[400];  // fixed notation of a double below 1e21 fits easily
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, sci.ptr);
  const char* e = s.data() + s.find('e') + 1;
  if (*e == '+') ++e;  // from_chars takes a minus sign, not a plus
  int exponent = 0;
  std::from_chars(e, sci.ptr, exponent);
  if (exponent < -4 || exponent >= 21) return std::string(s);
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

// ---- Families ----

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      type_(type) {}

void FamilyBase::CheckLabelCount(size_t values) const {
  if (values != label_names_.size()) {
    ContractFailure(name_ + " takes " + std::to_string(label_names_.size()) +
                    " label values, got " + std::to_string(values));
  }
}

void FamilyBase::RenderHeader(std::string& out) const {
  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += EscapeHelp(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += kTypeNames[static_cast<int>(type_)];
  out += '\n';
}

void FamilyBase::RenderSeries(std::string& out, std::string_view suffix,
                              std::span<const std::string> values,
                              std::string_view extra_label) const {
  out += name_;
  out += suffix;
  if (label_names_.empty() && extra_label.empty()) return;
  out += '{';
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names_[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_label.empty()) {
    if (!label_names_.empty()) out += ',';
    out += extra_label;
  }
  out += '}';
}

void FamilyBase::RenderCounter(std::string& out, const Counter& c) {
  double v = c.Value();
  // Pure integer counters print exactly, even beyond 2^53.
  if (v == std::trunc(v) && v >= 0 && v < 18446744073709551615.0 &&
      static_cast<double>(static_cast<uint64_t>(v)) == v) {
    AppendUnsigned(out, static_cast<uint64_t>(v));
  } else {
    out += FormatValue(v);
  }
}

template <class T>
void Family<T>::RenderTo(std::string& out) const {
  RenderHeader(out);
  std::shared_lock lock(mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Counter>) {
      RenderSeries(out, "", values);
      out += ' ';
      RenderCounter(out, *child);
      out += '\n';
    } else if constexpr (std::is_same_v<T, Gauge>) {
      RenderSeries(out, "", values);
      out += ' ';
      out += FormatValue(child->Value());
      out += '\n';
    } else {
      const std::vector<double>& bounds = child->bounds();
      std::vector<uint64_t> counts = child->CumulativeCounts();
      for (size_t i = 0; i < counts.size(); ++i) {
        std::string le = "le=\"";
        le += i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
        le += '"';
        RenderSeries(out, "_bucket", values, le);
        out += ' ';
        AppendUnsigned(out, counts[i]);
        out += '\n';
      }
      RenderSeries(out, "_sum", values);
      out += ' ';
      out += FormatValue(child->Sum());
      out += '\n';
      // The +Inf bucket, not a separate atomic, so that _count always equals it.
      RenderSeries(out, "_count", values);
      out += ' ';
      AppendUnsigned(out, counts.back());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry ----

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  CheckNames(name, label_names, /*histogram=*/false);
  auto family =
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(label_names));
  Family<Counter>& ref = *family;
  Register(std::move(family));
  return ref;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  CheckNames(name, label_names, /*histogram=*/false);
  auto family =
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names));
  Family<Gauge>& ref = *family;
  Register(std::move(family));
  return ref;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  CheckNames(name, label_names, /*histogram=*/true);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      ContractFailure("histogram " + name + ": bounds must be finite and strictly increasing");
    }
  }
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  auto family = std::make_unique<Family<Histogram>>(std::move(name), std::move(help),
                                                    std::move(label_names), std::move(shared));
  Family<Histogram>& ref = *family;
  Register(std::move(family));
  return ref;
}

void Registry::Register(std::unique_ptr<FamilyBase> family) {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) {
    if (f->name() == family->name()) ContractFailure("metric " + f->name() + " registered twice");
  }
  families_.push_back(std::move(family));
}

void Registry::AddCollector(std::function<void()> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  std::lock_guard render_lock(render_mu_);
  std::vector<const FamilyBase*> families;
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  out.reserve(families.size() * 256);
  for (const FamilyBase* f : families) f->RenderTo(out);
  return out;
}

}  // namespace mqlab::metrics
