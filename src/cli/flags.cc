#include "cli/flags.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

namespace mqlab::cli {

std::string EnvNameOf(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') flag.remove_prefix(1);
  std::string out = "MQLAB_";
  for (char c : flag) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("bad address '{}': {} (want HOST:PORT)", text, why));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return bad("port must be a number in 0..65535");
  }
  return HostPort{host.empty() ? "127.0.0.1" : std::string(host), static_cast<uint16_t>(value)};
}

Result<model::PredictorOptions> CommonFlags::PredictorOptions() const {
  model::PredictorOptions o;
  if (!(service_ms >= 0 && service_ms <= 3600000)) {
    return InvalidArgument("--service-ms must be in [0, 3600000]");
  }
  o.service_time = std::chrono::microseconds(static_cast<int64_t>(service_ms * 1000.0));
  auto dist = model::ParseServiceDist(service_dist);
  if (!dist) return InvalidArgument("--service-dist: " + dist.error().message);
  o.dist = *dist;
  auto m = model::ParseMode(mode);
  if (!m) return InvalidArgument("--mode: " + m.error().message);
  o.mode = *m;
  o.fail_rate = fail_rate;
  o.seed = seed;
  if (auto s = o.Validate(); !s) return InvalidArgument("--fail-rate/--service-ms: " + s.error().message);
  return o;
}

Status CommonFlags::Validate() const {
  if (auto hp = ParseHostPort(listen); !hp) return InvalidArgument("--listen: " + hp.error().message);
  if (backpressure != "on" && backpressure != "off") {
    return InvalidArgument("--backpressure must be on or off");
  }
  if (data_dir.empty()) return InvalidArgument("--data-dir must not be empty");
  if (auto p = PredictorOptions(); !p) return std::unexpected(p.error());
  return log.Validate();
}

void AddLogFlags(CLI::App* cmd, LogOptions& log) {
  Flag(cmd, "--log-format", log.format, "Log lines as text or json")
      ->check(CLI::IsMember({"text", "json"}));
  Flag(cmd, "--log-level", log.level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
}

void AddCommonFlags(CLI::App* cmd, CommonFlags& f, std::string default_listen) {
  f.listen = std::move(default_listen);
  Flag(cmd, "--listen", f.listen, "HOST:PORT to serve HTTP on (port 0: pick a free one)");
  Flag(cmd, "--data-dir", f.data_dir, "Data folder: inputs are read from and results written under it");
  Flag(cmd, "--service-ms", f.service_ms, "Mean service time of the simulated model, in ms")
      ->check(CLI::Range(0.0, 3600000.0));
  Flag(cmd, "--service-dist", f.service_dist, "Service-time distribution: fixed, exp or lognormal")
      ->check(CLI::IsMember({"fixed", "exp", "lognormal"}));
  Flag(cmd, "--mode", f.mode, "sleep (a remote call: waits) or cpu (burns a core)")
      ->check(CLI::IsMember({"sleep", "cpu"}));
  Flag(cmd, "--fail-rate", f.fail_rate, "Probability that one model call fails")
      ->check(CLI::Range(0.0, 1.0));
  Flag(cmd, "--seed", f.seed, "Seed of the model's random draws (0: random)");
  Flag(cmd, "--backpressure", f.backpressure, "Reject work above the thresholds (on) or accept all (off)")
      ->check(CLI::IsMember({"on", "off"}));
  AddLogFlags(cmd, f.log);
}

void LoadServicesEnv() {
  const char* dir = std::getenv("MQLAB_RUNTIME_DIR");
  std::string path = std::string(dir && *dir ? dir : ".mqlab") + "/services.env";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || line.compare(0, 6, "MQLAB_") != 0) continue;
    std::string key = line.substr(0, eq);
    setenv(key.c_str(), line.c_str() + eq + 1, /*overwrite=*/0);
  }
}

Status ApplyMetricsListen(const std::string& value, std::optional<http::ServerOptions>& server) {
  if (value.empty()) return Ok();
  auto hp = ParseHostPort(value);
  if (!hp) return InvalidArgument("--metrics-listen: " + hp.error().message);
  server = http::ServerOptions{};
  server->host = hp->host;
  server->port = hp->port;
  return Ok();
}

void AddPipelineFlags(CLI::App* cmd, PipelineFlags& flags) {
  Flag(cmd, "--completion", flags.completion,
       "async: record finished jobs (store, then ack; batched) on completer threads while the "
       "next one runs; inline: before taking the next")
      ->check(CLI::IsMember({"async", "inline"}));
  Flag(cmd, "--receive", flags.receive,
       "ahead: each slot receives and starts its next job while the model runs the current one; "
       "inline: after it")
      ->check(CLI::IsMember({"ahead", "inline"}));
}

}  // namespace mqlab::cli
