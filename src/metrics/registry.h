// Prometheus metrics, written by hand: Debian packages no C++ Prometheus client.
//
// What: counters, gauges and histograms in labelled families, collected in a Registry that
// renders the Prometheus text exposition format 0.0.4 (what `/metrics` of every mqlab process
// serves and what Prometheus 2.x scrapes).
//
// Shape: a Registry owns Families; a Family owns one child metric per distinct tuple of label
// values. `family.With({"v3", "/v3/ocr/jobs", "202"})` finds or creates the child and returns a
// reference that stays valid for the Registry's lifetime, so hot paths look it up once and keep
// it. Labels must stay bounded (versions, routes, codes, backends; never job ids): every child
// lives until the Registry dies.
//
// Threading: everything here is thread-safe. Updating a child (Inc, Set, Observe) is lock-free
// (relaxed atomics; a histogram bucket, its sum and its count are separate atomics, so a scrape
// racing an Observe may see one without the other, which Prometheus tolerates). Family::With
// takes a shared lock on a hit and an exclusive one on a miss. Render runs the collectors and
// then reads every child; concurrent Render calls are serialised.
//
// Contracts are programming errors, not runtime conditions: an invalid metric or label name, a
// duplicate family name, or a label-value count that differs from the family's label-name count
// prints the reason to stderr and aborts (REQUIRES: in the comments below).
#ifndef MQLAB_METRICS_REGISTRY_H_
#define MQLAB_METRICS_REGISTRY_H_

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mqlab::metrics {

// A monotonic total. Integer increments (Inc) are a single atomic add and exact up to 2^64;
// fractional ones (Add, e.g. seconds of CPU) go to a separate double.
class Counter {
 public:
  void Inc() { ints_.fetch_add(1, std::memory_order_relaxed); }
  void Inc(uint64_t n) { ints_.fetch_add(n, std::memory_order_relaxed); }
  template <std::floating_point F>
  void Inc(F) = delete;  // fractional amounts go through Add
  // REQUIRES: v >= 0. Negative and NaN values are ignored: a counter never goes down.
  void Add(double v);
  // For counters mirrored from an external monotonic total read at scrape time (the process's
  // CPU seconds): raises the value to `total` if it is higher, never lowers it. Do not mix with
  // Inc/Add on the same counter.
  void AdvanceTo(double total);
  double Value() const;

 private:
  std::atomic<uint64_t> ints_{0};
  std::atomic<double> frac_{0.0};
};

// A value that goes up and down (queue depth, in-flight requests, memory).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Inc() { Add(1.0); }
  void Dec() { Add(-1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into fixed buckets (upper bounds, `le`), plus their sum and count.
// Observe is lock-free: a binary search over the bounds, then two atomic adds.
class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing and finite (validated by Registry::AddHistogram).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  void Observe(double v);
  // Cumulative snapshot: result[i] counts observations <= bounds[i]; the last element (one past
  // the bounds) is the +Inf bucket, which is also the count.
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  // Per-bucket (non-cumulative) counts, bounds_->size() + 1 of them; cumulated when read.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds, 0.5 ms to 120 s: wide enough for a 1 ms in-process enqueue and
// for a request that waited two minutes behind a collapsed queue.
const std::vector<double>& DefaultLatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// The untyped part of a family: name, help, label names, rendering. Use Family<T>.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }
  // Appends this family in text format 0.0.4 (HELP, TYPE, one line per sample).
  virtual void RenderTo(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type);
  // Aborts unless `values` has one value per label name.
  void CheckLabelCount(size_t values) const;
  void RenderHeader(std::string& out) const;
  // Appends `name{l1="v1",...,extra}` (no braces when there are no labels at all).
  void RenderSeries(std::string& out, std::string_view suffix,
                    std::span<const std::string> values, std::string_view extra_label = {}) const;
  static void RenderCounter(std::string& out, const Counter& c);

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  MetricType type_;
};

// Orders label-value tuples; transparent so that With() can look up a span of string_views
// without building a vector of strings first.
struct LabelValuesLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

template <class T>
class Family final : public FamilyBase {
  static_assert(std::is_same_v<T, Counter> || std::is_same_v<T, Gauge> ||
                std::is_same_v<T, Histogram>);

 public:
  // Created by the Registry only. A family without labels creates its single child at once, so
  // that it is rendered (as 0) before its first update, as Prometheus clients do.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::shared_ptr<const std::vector<double>> bounds = nullptr)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), TypeOf()),
        bounds_(std::move(bounds)) {
    if (FamilyBase::label_names().empty()) With({});
  }

  // The child for these label values, created on first use. The reference is stable for the
  // Registry's lifetime. REQUIRES: one value per label name, in the order of the names.
  T& With(std::initializer_list<std::string_view> values) {
    return With(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& With(std::span<const std::string_view> values) {
    CheckLabelCount(values.size());
    {
      std::shared_lock lock(mu_);
      auto it = children_.find(values);
      if (it != children_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::vector<std::string> key(values.begin(), values.end());
    return *children_.emplace(std::move(key), New()).first->second;
  }
  T& With(const std::vector<std::string>& values) {
    std::vector<std::string_view> views(values.begin(), values.end());
    return With(std::span<const std::string_view>(views));
  }

  void RenderTo(std::string& out) const override;

 private:
  static constexpr MetricType TypeOf() {
    if constexpr (std::is_same_v<T, Counter>) return MetricType::kCounter;
    if constexpr (std::is_same_v<T, Gauge>) return MetricType::kGauge;
    return MetricType::kHistogram;
  }
  std::unique_ptr<T> New() const {
    if constexpr (std::is_same_v<T, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<T>();
    }
  }

  std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, LabelValuesLess> children_;
};

// Defined in registry.cc for the three metric types.
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* registers a new family and returns it; the reference lives as long as the
  // Registry. REQUIRES: `name` matches [a-zA-Z_:][a-zA-Z0-9_:]* and is not registered yet;
  // label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__", are distinct, and are not
  // "le" for a histogram; histogram bounds are finite and strictly increasing (+Inf is implied).
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names = {},
                                  std::vector<double> bounds = DefaultLatencyBuckets());

  // Runs `collector` at the start of every Render (to set gauges from a source read on demand:
  // queue depth, /proc). Collectors run on the rendering thread, one Render at a time; they must
  // not call Render. Whatever they capture must outlive the Registry or the last Render.
  void AddCollector(std::function<void()> collector);

  // Runs the collectors, then renders every family in registration order, children sorted by
  // label values, in text format 0.0.4 (Content-Type: text/plain; version=0.0.4).
  std::string Render() const;

 private:
  void Register(std::unique_ptr<FamilyBase> family);

  mutable std::mutex mu_;         // guards families_ and collectors_
  mutable std::mutex render_mu_;  // serialises Render
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

// The Content-Type of Render's output.
inline constexpr std::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Text-format helpers, exposed for tests.
// A sample value: integers as integers, others in the shortest form that round-trips, and
// "+Inf", "-Inf", "NaN" as Prometheus spells them.
std::string FormatValue(double v);
// Escapes backslash, double quote and newline (label values).
std::string EscapeLabelValue(std::string_view v);
// Escapes backslash and newline (HELP text).
std::string EscapeHelp(std::string_view v);

}  // namespace mqlab::metrics

#endif  // MQLAB_METRICS_REGISTRY_H_
