// PrometheusQuery: the few calls of Prometheus' HTTP API (https://prometheus.io/docs/prometheus/
// latest/querying/api/) that the study and the tests make: instant and range queries, and the
// scrape interval of the running configuration. Values come back as doubles (Prometheus sends
// them as strings: "1.5", "NaN", "+Inf"); times are Unix seconds, the clock Prometheus stamps
// samples with.
//
// Threading: one object per thread (it holds one keep-alive connection).
#ifndef MQLAB_SERVICES_PROMETHEUS_QUERY_H_
#define MQLAB_SERVICES_PROMETHEUS_QUERY_H_

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::http {
class Client;
}

namespace mqlab::services {

using Labels = std::map<std::string, std::string>;

// One element of an instant vector.
struct PromSample {
  Labels labels;
  double time = 0;  // Unix seconds
  double value = 0;
};

// One series of a range query: (Unix seconds, value) at each evaluation step.
struct PromSeries {
  Labels labels;
  std::vector<std::pair<double, double>> points;
};

class PrometheusQuery {
 public:
  // `url`: the server's base URL, "http://127.0.0.1:PORT". `timeout`: per request.
  explicit PrometheusQuery(std::string url,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~PrometheusQuery();

  // GET /api/v1/query: `expr` evaluated at `time` (Unix seconds; nullopt: now). Errors:
  // Unavailable or DeadlineExceeded when the server does not answer, InvalidArgument when
  // Prometheus rejects the expression (with its message), Internal for an answer that is not an
  // instant vector (ask for a vector: wrap scalars in vector()).
  Result<std::vector<PromSample>> Instant(std::string_view expr,
                                          std::optional<double> time = std::nullopt);
  // GET /api/v1/query_range: `expr` at start, start + step, … up to end. Errors as Instant.
  Result<std::vector<PromSeries>> Range(std::string_view expr, double start, double end,
                                        double step);
  // The global scrape_interval of the running configuration (/api/v1/status/config), seconds.
  Result<double> ScrapeIntervalSeconds();

 private:
  // The "data" member of a successful answer to GET `target`.
  Result<nlohmann::json> Get(const std::string& target);

  const std::string url_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<http::Client> client_;
};

// Percent-encodes `text` for a URL query component (RFC 3986: unreserved characters kept).
std::string UrlQueryEncode(std::string_view text);
// `labels` as PromQL matchers: a="x",b="y" (values escaped), for inside {…}.
std::string LabelMatchers(const Labels& labels);
// `selector` ("name" or "name{a=\"x\"}") with `labels` added to its matchers.
std::string WithLabels(std::string_view selector, const Labels& labels);
// A Prometheus duration ("1s", "500ms", "1m30s") in seconds; nullopt if it is not one.
std::optional<double> ParsePromDuration(std::string_view text);
// Seconds since the Unix epoch, now.
double UnixNow();

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_PROMETHEUS_QUERY_H_
