// Stop signals for long-running subcommands, handled synchronously.
//
// BlockStopSignals() must run in main() before any thread starts: every thread then inherits a
// mask with SIGINT and SIGTERM blocked, and only the thread that calls WaitForStopSignal()
// receives them (sigwait), so no handler ever runs in an arbitrary thread. After the first
// signal, a second one means "stop now": ArmForcedExit() turns it into _exit(130).
#ifndef MQLAB_COMMON_SIGNALS_H_
#define MQLAB_COMMON_SIGNALS_H_

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

namespace mqlab {

void BlockStopSignals();
// Waits for SIGINT or SIGTERM; returns its number. With a timeout, nullopt when it passed first.
int WaitForStopSignal();
std::optional<int> WaitForStopSignal(std::chrono::milliseconds timeout);
// Starts a detached thread that exits the process with status 130 on the next stop signal.
void ArmForcedExit();
// The stop-signal watcher of a long-running subcommand: a thread that waits for the first stop
// signal, then prints `message` (a line of its own) on stderr, calls stop.request_stop() and
// ArmForcedExit(). Requesting the returned thread's stop (or destroying it) ends it within
// 200 ms when no signal came.
std::jthread WatchStopSignals(std::stop_source stop, std::string message);

}  // namespace mqlab

#endif  // MQLAB_COMMON_SIGNALS_H_
