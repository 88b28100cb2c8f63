// The subcommands of `mqlab`. Each Add*Command registers its subcommand and flags on `root` and
// returns the function that runs it once parsing succeeded (flag storage lives in the closure).
// Runners return the process exit code: 0 success, 1 failure at run time, 2 misuse.
#ifndef MQLAB_CLI_COMMANDS_H_
#define MQLAB_CLI_COMMANDS_H_

#include <functional>

#include <CLI/CLI.hpp>

namespace mqlab::cli {

using Runner = std::function<int()>;

Runner AddServeCommand(CLI::App& root);
Runner AddApiCommand(CLI::App& root);
Runner AddWorkerCommand(CLI::App& root);
Runner AddServicesCommand(CLI::App& root);
Runner AddOcrServerCommand(CLI::App& root);
Runner AddStudyCommand(CLI::App& root);
Runner AddLoadCommand(CLI::App& root);
Runner AddReportCommand(CLI::App& root);
Runner AddCompareCommand(CLI::App& root);
Runner AddChaosCommand(CLI::App& root);
Runner AddOverloadCommand(CLI::App& root);

// Parses argv and runs the chosen subcommand. Usage errors print one line and return 2.
int Main(int argc, char** argv);

// Prints "mqlab: <message>" on stderr and returns 2 (misuse) — the one place that formats a
// usage error, so that every command says it the same way.
int UsageError(std::string_view message);
// Prints "mqlab <command>: <message>" on stderr and returns 1 (a failure at run time).
int RunError(std::string_view command, std::string_view message);

}  // namespace mqlab::cli

#endif  // MQLAB_CLI_COMMANDS_H_
