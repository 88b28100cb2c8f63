#include "report/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "report/format.h"

namespace mqlab::report {
namespace {

using nlohmann::json;

// Reads the fields of one JSON object. A null or absent object reads as all fields absent. The
// first type error is kept in *error with its path; later reads still return "absent", so a
// parser can read everything and check the error once at the end.
class Fields {
 public:
  Fields(const json* obj, std::string path, std::string* error)
      : obj_(obj), path_(std::move(path)), error_(error) {
    if (obj_ != nullptr && obj_->is_null()) obj_ = nullptr;
    if (obj_ != nullptr && !obj_->is_object()) {
      Fail(path_, "an object", *obj_);
      obj_ = nullptr;
    }
  }

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }

  // nullptr when absent or null.
  const json* Get(std::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    auto it = obj_->find(key);
    if (it == obj_->end() || it->is_null()) return nullptr;
    return &*it;
  }

  Num Number(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) return Fail(PathOf(key), "a number", *v), std::nullopt;
    return v->get<double>();
  }

  std::string String(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) return "";
    if (!v->is_string()) return Fail(PathOf(key), "a string", *v), "";
    return v->get<std::string>();
  }

  std::optional<bool> Bool(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) return Fail(PathOf(key), "true or false", *v), std::nullopt;
    return v->get<bool>();
  }

  // The array at `key` (nullptr when absent, null or of another type: the latter an error).
  const json* Array(std::string_view key) const {
    const json* v = Get(key);
    if (v != nullptr && !v->is_array()) return Fail(PathOf(key), "an array", *v), nullptr;
    return v;
  }

  void Fail(const std::string& path, std::string_view expected, const json& got) const {
    if (error_->empty()) {
      *error_ = fmt::format("{}: expected {}, got {}", path, expected, got.type_name());
    }
  }

 private:
  const json* obj_;
  std::string path_;
  std::string* error_;
};

// One value as text for the header: numbers as JSON writes them, arrays joined, objects as
// "key: value" pairs, null as a dash.
std::string FactText(const json& v) {
  if (v.is_null()) return "—";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const json& e : v) out += (out.empty() ? "" : ", ") + FactText(e);
    return out;
  }
  if (v.is_object()) {
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", it.key(), FactText(it.value()));
    }
    return out;
  }
  if (v.is_number_float()) return Figure(v.get<double>());  // 23.540584564208984 → 23.5
  return v.dump();
}

// The object's fields as text: the keys of `order` first, in that order (the schema's: a parsed
// json object no longer knows its document order), then any other key alphabetically. Keys in
// `skip`, and null values when `skip_null`, are left out.
Facts FactsOf(const json* obj, std::initializer_list<std::string_view> order,
              std::initializer_list<std::string_view> skip = {}, bool skip_null = false) {
  Facts out;
  if (obj == nullptr || !obj->is_object()) return out;
  auto wanted = [&](const std::string& key, const json& v) {
    return !(skip_null && v.is_null()) && std::find(skip.begin(), skip.end(), key) == skip.end();
  };
  for (std::string_view key : order) {
    auto it = obj->find(key);
    if (it != obj->end() && wanted(it.key(), *it)) out.emplace_back(it.key(), FactText(*it));
  }
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    if (std::find(order.begin(), order.end(), it.key()) == order.end() && wanted(it.key(), *it)) {
      out.emplace_back(it.key(), FactText(*it));
    }
  }
  return out;
}

Latency ReadLatency(const Fields& parent, std::string_view key, std::string* error) {
  Fields f(parent.Get(key), parent.PathOf(key), error);
  Latency l;
  l.clock = f.String("clock");
  l.count = f.Number("count");
  l.mean = f.Number("mean");
  l.p50 = f.Number("p50");
  l.p90 = f.Number("p90");
  l.p95 = f.Number("p95");
  l.p99 = f.Number("p99");
  l.p999 = f.Number("p999");
  l.max = f.Number("max");
  return l;
}

Num MaxQueueDepth(const Fields& step, std::string* error) {
  const json* series = step.Array("series");
  if (series == nullptr) return std::nullopt;
  Num max;
  for (size_t i = 0; i < series->size(); ++i) {
    Fields s(&(*series)[i], fmt::format("{}[{}]", step.PathOf("series"), i), error);
    if (Num d = s.Number("queueDepth"); d && (!max || *d > *max)) max = d;
  }
  return max;
}

Step ReadStep(const json& doc, const std::string& path, std::string* error) {
  Fields f(&doc, path, error);
  Step s;
  s.multiple = f.Number("multiple");
  s.offered_rps = f.Number("offeredRps");
  s.sent_rps = f.Number("sentRps");
  s.achieved_rps = f.Number("achievedRps");
  s.completed_per_sec = f.Number("completedPerSec");
  s.submit = ReadLatency(f, "submit", error);
  s.end_to_end = ReadLatency(f, "endToEnd", error);
  s.queue_wait_mean_ms = f.Number("queueWaitMeanMs");
  s.error_rate = f.Number("errorRate");
  s.max_queue_depth = MaxQueueDepth(f, error);
  if (const json* t = f.Get("theory")) {
    Fields tf(t, f.PathOf("theory"), error);
    s.theory = Theory{tf.Number("rho"), tf.Number("wqMdcMs"), tf.Number("wqMmcMs"),
                      tf.Number("e2eMdcMs"), tf.Number("e2eMmcMs")};
  }
  s.meets_slo = f.Bool("meetsSlo");
  s.breaks_by = f.String("breaksBy");
  return s;
}

Cell ReadCell(const json& doc, const std::string& path, std::string* error) {
  Fields f(&doc, path, error);
  Cell c;
  c.version = f.String("version");
  c.kind = f.String("kind");
  c.backend = f.String("backend");
  c.backpressure = f.String("backpressure");
  c.workers = static_cast<int>(f.Number("workers").value_or(0));
  c.id = f.String("id");
  if (c.id.empty()) c.id = fmt::format("{}-w{}-{}", c.version, c.workers, c.backpressure);
  c.capacity = f.Number("capacity");
  if (const json* steps = f.Array("steps")) {
    for (size_t i = 0; i < steps->size(); ++i) {
      c.steps.push_back(ReadStep((*steps)[i], fmt::format("{}.steps[{}]", path, i), error));
    }
  }
  if (const json* bp = f.Get("breakingPoint")) {
    Fields b(bp, f.PathOf("breakingPoint"), error);
    c.breaking_point = BreakingPoint{b.Number("offeredRps"), b.Number("multiple"), b.String("how")};
  }
  return c;
}

Parameters ReadParameters(const Fields& root, std::string* error) {
  const json* doc = root.Get("parameters");
  Fields f(doc, "parameters", error);
  Parameters p;
  p.service_ms = f.Number("serviceMs");
  p.service_dist = f.String("serviceDist");
  p.mode = f.String("mode");
  p.arrivals = f.String("arrivals");
  Fields slo(f.Get("slo"), f.PathOf("slo"), error);
  p.slo_p99_ms = slo.Number("p99Ms");
  p.slo_error_rate = slo.Number("errorRate");
  if (const json* ladder = f.Array("ladder")) {
    for (const json& m : *ladder) {
      if (m.is_number()) p.ladder.push_back(m.get<double>());
    }
  }
  if (const json* versions = f.Array("versions")) {
    for (const json& v : *versions) {
      if (v.is_string()) p.versions.push_back(v.get<std::string>());
    }
  }
  // The SLO has a line of its own in every rendering.
  p.all = FactsOf(doc,
                  {"serviceMs", "serviceDist", "mode", "failRate", "arrivals", "seed",
                   "stepSeconds", "warmupSeconds", "ladder", "versions", "workers", "backpressure"},
                  {"slo"});
  return p;
}

Status CheckSchema(const json& doc) {
  if (!doc.is_object()) {
    return InvalidArgument("not a study results document (expected a JSON object)");
  }
  auto it = doc.find("schema");
  if (it == doc.end() || !it->is_string()) {
    return InvalidArgument(fmt::format(
        "no \"schema\" field: not a study results.json (this mqlab reads {})", kSchema));
  }
  if (*it != kSchema) {
    return InvalidArgument(fmt::format(
        "results use schema '{}', but this mqlab ({}) reads {}: render them with the mqlab "
        "that wrote them",
        it->get<std::string>(), MQLAB_VERSION, kSchema));
  }
  return Ok();
}

}  // namespace

const Step* Cell::StepAt(double multiple) const {
  for (const Step& s : steps) {
    if (s.multiple && std::abs(*s.multiple - multiple) < 1e-6) return &s;
  }
  return nullptr;
}

const Step* Cell::HighestStep() const {
  const Step* best = nullptr;
  for (const Step& s : steps) {
    if (!best || s.multiple.value_or(-1) >= best->multiple.value_or(-1)) best = &s;
  }
  return best;
}

const Cell* Report::Find(std::string_view version, int workers,
                         std::string_view backpressure) const {
  for (const Cell& c : cells) {
    if (c.version == version && c.workers == workers && c.backpressure == backpressure) return &c;
  }
  return nullptr;
}

std::vector<std::string> Report::Versions() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& v) {
    bool present =
        std::any_of(cells.begin(), cells.end(), [&](const Cell& c) { return c.version == v; });
    if (present && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  for (const std::string& v : parameters.versions) add(v);
  for (const Cell& c : cells) add(c.version);
  return out;
}

std::vector<int> Report::WorkerCounts() const {
  std::set<int> counts;
  for (const Cell& c : cells) counts.insert(c.workers);
  return {counts.begin(), counts.end()};
}

Result<Report> ParseResults(const json& doc) {
  if (Status s = CheckSchema(doc); !s) return std::unexpected(s.error());
  std::string error;
  Fields f(&doc, "", &error);
  Report r;
  r.schema = f.String("schema");
  r.mqlab_version = f.String("mqlabVersion");
  r.started_at = f.String("startedAt");
  r.finished_at = f.String("finishedAt");
  r.profile = f.String("profile");
  r.complete = f.Bool("complete");
  r.machine =
      FactsOf(f.Get("machine"), {"cpu", "cores", "memoryGiB", "kernel", "hostname", "date"});
  // Servers the run did not use are null: left out rather than listed as unknown.
  r.servers = FactsOf(f.Get("servers"), {"postgres", "redis", "rabbitmq", "kafka"}, {}, true);
  r.parameters = ReadParameters(f, &error);
  if (const json* cells = f.Array("cells")) {
    for (size_t i = 0; i < cells->size(); ++i) {
      r.cells.push_back(ReadCell((*cells)[i], fmt::format("cells[{}]", i), &error));
    }
  }
  if (const json* hc = f.Get("harnessCheck")) {
    Fields h(hc, "harnessCheck", &error);
    r.harness_check =
        HarnessCheck{h.String("cell"),      h.Number("rho"),   h.Number("measuredWaitMs"),
                     h.Number("mdcWaitMs"), h.Number("ratio"), h.Bool("ok"),
                     h.String("model"),     h.Number("predictedWaitMs")};
  }
  if (const json* prom = f.Get("prometheus")) {
    Fields pf(prom, "prometheus", &error);
    r.prometheus = PrometheusInfo{pf.Number("scrapeIntervalSeconds"), pf.String("study")};
  }
  if (const json* warnings = f.Array("warnings")) {
    for (const json& w : *warnings) {
      if (w.is_string()) r.warnings.push_back(w.get<std::string>());
    }
  }
  if (!error.empty()) return InvalidArgument(error);
  r.raw = doc;
  return r;
}

Result<Report> LoadResults(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "results.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot read {}", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return InvalidArgument(fmt::format("{}: not valid JSON", file.string()));
  }
  auto report = ParseResults(doc);
  if (!report) {
    return InvalidArgument(fmt::format("{}: {}", file.string(), report.error().message));
  }
  return report;
}

}  // namespace mqlab::report
