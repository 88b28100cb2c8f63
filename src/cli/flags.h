// Flag plumbing shared by every subcommand: each flag also reads an environment variable
// (MQLAB_ + the flag's name upper-cased with '-' as '_': --service-ms ↔ MQLAB_SERVICE_MS), and the
// flags every process has (DESIGN.md § Processes) are declared once here.
//
// The typed config is parsed once here at the edge; components receive their own parts.
#ifndef MQLAB_CLI_FLAGS_H_
#define MQLAB_CLI_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "mqlab/common/status.h"
#include "mqlab/model/predictor.h"

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

// Reads KEY=VALUE lines (MQLAB_* only; '#' comments) from the services env file written by
// `mqlab services up` and sets those not already in the environment: an explicit environment
// variable wins over the file. The file is $MQLAB_RUNTIME_DIR/services.env, default
// .mqlab/services.env. A missing file is fine.
void LoadServicesEnv();

}  // namespace mqlab::cli

#endif  // MQLAB_CLI_FLAGS_H_
