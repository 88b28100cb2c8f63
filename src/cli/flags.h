// Flag plumbing shared by every subcommand: each flag also reads an environment variable
// (MQLAB_ + the flag's name upper-cased with '-' as '_': --service-ms ↔ MQLAB_SERVICE_MS), and the
// flags every process has (DESIGN.md § Processes) are declared once here.
//
// The typed config is parsed once here at the edge; components receive their own parts.
#ifndef MQLAB_CLI_FLAGS_H_
#define MQLAB_CLI_FLAGS_H_

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/logging.h"
#include "http/server.h"
#include "mqlab/common/status.h"
#include "mqlab/model/predictor.h"
#include "worker/worker.h"

namespace mqlab::cli {

// "--service-ms" → "MQLAB_SERVICE_MS".
std::string EnvNameOf(std::string_view flag);

// Adds `--name` bound to `var`, with its MQLAB_* environment variable and the default shown.
template <class T>
CLI::Option* Flag(CLI::App* cmd, const std::string& name, T& var, const std::string& help) {
  return cmd->add_option(name, var, help)->envname(EnvNameOf(name))->capture_default_str();
}

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT", "[v6]:PORT" or ":PORT" (host 127.0.0.1). Port 0 means "pick a free one".
Result<HostPort> ParseHostPort(std::string_view text);

// Flags of every process that serves HTTP or runs the model.
struct CommonFlags {
  std::string listen;  // set to the subcommand's default by AddCommonFlags
  std::string data_dir = "./data";
  double service_ms = 100;
  std::string service_dist = "fixed";
  std::string mode = "sleep";
  double fail_rate = 0;
  uint64_t seed = 0;
  std::string backpressure = "on";
  LogOptions log;

  Result<model::PredictorOptions> PredictorOptions() const;
  bool backpressure_on() const { return backpressure == "on"; }
  // Checks everything above; the message names the flag.
  Status Validate() const;
};

void AddCommonFlags(CLI::App* cmd, CommonFlags& flags, std::string default_listen);
void AddLogFlags(CLI::App* cmd, LogOptions& log);

// How a process's worker slots move jobs along (mqlab serve and mqlab worker): --completion
// async|inline, --receive ahead|inline. Apply sets the WorkerOptions fields they name.
struct PipelineFlags {
  std::string completion = "async";
  std::string receive = "ahead";
  void Apply(worker::WorkerOptions& o) const {
    o.async_completion = completion == "async";
    o.receive_ahead = receive == "ahead";
  }
};
void AddPipelineFlags(CLI::App* cmd, PipelineFlags& flags);

// Reads KEY=VALUE lines (MQLAB_* only; '#' comments) from the services env file written by
// `mqlab services up` and sets those not already in the environment: an explicit environment
// variable wins over the file. The file is $MQLAB_RUNTIME_DIR/services.env, default
// .mqlab/services.env. A missing file is fine.
void LoadServicesEnv();

// --metrics-listen: empty leaves `server` unset (metrics on the API's listener); else HOST:PORT.
// InvalidArgument naming the flag for a malformed value.
Status ApplyMetricsListen(const std::string& value, std::optional<http::ServerOptions>& server);

// A comma-separated flag value ("v3,mem", "1,2,4", "0.5,1"); empty items are skipped.
// InvalidArgument naming `flag` for an item that is not a number (T = int or double).
template <class T>
Result<std::vector<T>> SplitList(const std::string& text, const char* flag) {
  std::vector<T> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      if constexpr (std::is_same_v<T, std::string>) {
        out.push_back(item);
      } else {
        try {
          size_t used = 0;
          T v;
          if constexpr (std::is_same_v<T, int>) {
            v = std::stoi(item, &used);
          } else {
            v = std::stod(item, &used);
          }
          if (used != item.size()) throw std::invalid_argument(item);
          out.push_back(v);
        } catch (const std::exception&) {
          return InvalidArgument(fmt::format("{}: '{}' is not a number", flag, item));
        }
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace mqlab::cli

#endif  // MQLAB_CLI_FLAGS_H_
