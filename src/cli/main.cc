#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/logging.h"
#include "common/signals.h"

namespace mqlab::cli {

int UsageError(std::string_view message) {
  fmt::print(stderr, "mqlab: {} (see --help)\n", OneLine(message));
  return 2;
}

int RunError(std::string_view command, std::string_view message) {
  fmt::print(stderr, "mqlab {}: {}\n", command, OneLine(message));
  return 1;
}

int Main(int argc, char** argv) {
  BlockStopSignals();  // before any thread starts: see common/signals.h
  LoadServicesEnv();
  CLI::App root{"mqlab: a lab for asynchronous job processing (one OCR job service, seven "
                "architectures, measured)", "mqlab"};
  root.set_version_flag("--version", MQLAB_VERSION);
  root.require_subcommand(1);
  root.footer("Every flag can also be set by an environment variable: --service-ms is "
              "MQLAB_SERVICE_MS.\nServers started by `mqlab services up` are found through "
              ".mqlab/services.env (or $MQLAB_RUNTIME_DIR).");
  std::map<CLI::App*, Runner> runners;
  auto add = [&](Runner r) { runners[root.get_subcommands({}).back()] = std::move(r); };
  add(AddStudyCommand(root));
  add(AddServeCommand(root));
  add(AddApiCommand(root));
  add(AddWorkerCommand(root));
  add(AddServicesCommand(root));
  add(AddOcrServerCommand(root));
  add(AddLoadCommand(root));
  add(AddReportCommand(root));
  add(AddCompareCommand(root));
  add(AddChaosCommand(root));
  add(AddOverloadCommand(root));
  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    return UsageError(what);
  }
  for (auto& [cmd, run] : runners) {
    if (cmd->parsed()) return run();
  }
  return UsageError("no command given");
}

}  // namespace mqlab::cli
