#include "services/prometheus_query.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "http/client.h"

namespace mqlab::services {

namespace {

using nlohmann::json;

// A sample value as Prometheus writes it: "1.5", "NaN", "+Inf", "-Inf".
std::optional<double> ParseValue(const json& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return std::nullopt;
  return d;
}

Labels ReadLabels(const json& metric) {
  Labels out;
  if (!metric.is_object()) return out;
  for (auto it = metric.begin(); it != metric.end(); ++it) {
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  }
  return out;
}

// [time, "value"] → (time, value).
std::optional<std::pair<double, double>> ReadPoint(const json& p) {
  if (!p.is_array() || p.size() != 2 || !p[0].is_number()) return std::nullopt;
  auto v = ParseValue(p[1]);
  if (!v) return std::nullopt;
  return std::make_pair(p[0].get<double>(), *v);
}

std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

PrometheusQuery::PrometheusQuery(std::string url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

PrometheusQuery::~PrometheusQuery() = default;

Result<json> PrometheusQuery::Get(const std::string& target) {
  if (!client_) {
    auto u = http::ParseHttpUrl(url_);
    if (!u) return std::unexpected(u.error());
    client_ = std::make_unique<http::Client>(
        *u,
        http::ClientOptions{.connect_timeout = std::min(timeout_, std::chrono::milliseconds(2000)),
                            .request_timeout = timeout_});
  }
  auto res = client_->Do(http::Verb::get, target);
  if (!res) return std::unexpected(res.error());
  json doc = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Internal(fmt::format("prometheus {}: HTTP {}, not JSON: {}", url_, res->result_int(),
                                res->body().substr(0, 200)));
  }
  if (doc.value("status", "") != "success") {
    const std::string message =
        fmt::format("prometheus {}: {} ({})", url_, doc.value("error", "no error message"),
                    doc.value("errorType", "HTTP " + std::to_string(res->result_int())));
    if (res->result_int() == 400 || res->result_int() == 422) return InvalidArgument(message);
    return Unavailable(message);
  }
  return doc.contains("data") ? doc["data"] : json();
}

Result<std::vector<PromSample>> PrometheusQuery::Instant(std::string_view expr,
                                                         std::optional<double> time) {
  std::string target = "/api/v1/query?query=" + UrlQueryEncode(expr);
  if (time) target += fmt::format("&time={:.3f}", *time);
  auto data = Get(target);
  if (!data) return std::unexpected(data.error());
  if (data->value("resultType", "") != "vector" || !(*data)["result"].is_array()) {
    return Internal(fmt::format("prometheus: `{}` is not an instant vector", expr));
  }
  std::vector<PromSample> out;
  for (const json& r : (*data)["result"]) {
    auto p = ReadPoint(r.value("value", json()));
    if (!p) continue;
    out.push_back({ReadLabels(r.value("metric", json())), p->first, p->second});
  }
  return out;
}

Result<std::vector<PromSeries>> PrometheusQuery::Range(std::string_view expr, double start,
                                                       double end, double step) {
  const std::string target =
      fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step={:.3f}",
                  UrlQueryEncode(expr), start, end, step);
  auto data = Get(target);
  if (!data) return std::unexpected(data.error());
  if (data->value("resultType", "") != "matrix" || !(*data)["result"].is_array()) {
    return Internal(fmt::format("prometheus: `{}` did not give a range vector", expr));
  }
  std::vector<PromSeries> out;
  for (const json& r : (*data)["result"]) {
    PromSeries s{.labels = ReadLabels(r.value("metric", json()))};
    for (const json& v : r.value("values", json::array())) {
      if (auto p = ReadPoint(v)) s.points.push_back(*p);
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<double> PrometheusQuery::ScrapeIntervalSeconds() {
  auto data = Get("/api/v1/status/config");
  if (!data) return std::unexpected(data.error());
  const std::string yaml = data->value("yaml", "");
  // The global section comes first in the YAML Prometheus writes back, so the first
  // "scrape_interval:" is the global one.
  constexpr std::string_view kKey = "scrape_interval:";
  const size_t at = yaml.find(kKey);
  if (at == std::string::npos) {
    return Internal(fmt::format("prometheus {}: no scrape_interval in its config", url_));
  }
  size_t from = at + kKey.size();
  while (from < yaml.size() && yaml[from] == ' ') ++from;
  const size_t to = yaml.find('\n', from);
  const std::string text =
      yaml.substr(from, to == std::string::npos ? std::string::npos : to - from);
  auto d = ParsePromDuration(text);
  if (!d || *d <= 0) {
    return Internal(fmt::format("prometheus {}: cannot read scrape_interval '{}'", url_, text));
  }
  return *d;
}

std::string UrlQueryEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string LabelMatchers(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", k, Escape(v));
  }
  return out;
}

std::string WithLabels(std::string_view selector, const Labels& labels) {
  const std::string more = LabelMatchers(labels);
  if (more.empty()) return std::string(selector);
  const size_t close = selector.rfind('}');
  if (close == std::string_view::npos) return fmt::format("{}{{{}}}", selector, more);
  const size_t open = selector.find('{');
  const bool empty =
      open != std::string_view::npos && selector.find_first_not_of(' ', open + 1) == close;
  return fmt::format("{}{}{}{}", selector.substr(0, close), empty ? "" : ",", more,
                     selector.substr(close));
}

std::optional<double> ParsePromDuration(std::string_view text) {
  // Units longest first, so that "ms" is not read as "m".
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ms", 0.001}, {"s", 1},      {"m", 60},      {"h", 3600},
      {"d", 86400},  {"w", 604800}, {"y", 31536000}};
  double total = 0;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t digits = i;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == i) return std::nullopt;
    const double n = std::strtod(std::string(text.substr(i, digits - i)).c_str(), nullptr);
    bool matched = false;
    for (const auto& [unit, seconds] : kUnits) {
      if (text.substr(digits).starts_with(unit)) {
        total += n * seconds;
        i = digits + unit.size();
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  return total;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace mqlab::services
