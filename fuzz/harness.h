// What the fuzz targets share: the API of `mqlab serve` (mem version) in memory, called without a
// socket, and a check that aborts (a finding for libFuzzer) when a property does not hold.
//
// ApiHarness builds what EmbeddedApp builds for the HTTP side: an in-memory SQLite job store, the
// memory queue, the metrics registry, a JobService (backpressure off, so that admission does not
// hide the decoding behind 429s), the API routes on a Router, and InstrumentedHandler, the server's
// handler. Call() runs that handler on a private io_context the way a session does; blocking store
// calls go through RunBlocking to a one-thread pool, as in production.
#ifndef MQLAB_FUZZ_HARNESS_H_
#define MQLAB_FUZZ_HARNESS_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.h"

namespace mqlab::fuzz {

// Aborts with a message: libFuzzer saves the input that made the property fail.
#define MQLAB_FUZZ_CHECK(cond, ...)                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "fuzz check failed: %s\n", #cond);         \
      std::fprintf(stderr, "  " __VA_ARGS__);                         \
      std::fprintf(stderr, "\n");                                     \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

class ApiHarness {
 public:
  ApiHarness();
  ~ApiHarness();
  ApiHarness(const ApiHarness&) = delete;
  ApiHarness& operator=(const ApiHarness&) = delete;

  // The response of the API to `request` (what the server's handler returns, before the session
  // sets version and framing).
  http::Response Call(http::Request request);
  // Acknowledges every queued message, so that memory stays flat over millions of inputs.
  void DrainQueue();
  // The data folder; holds one input, "scan.png".
  const std::filesystem::path& data_dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Process-wide harness, built on first use (libFuzzer calls the target millions of times).
ApiHarness& Harness();

// Checks what every API response must satisfy: a status code, an X-Request-Id that is safe to
// log, and for every error (>= 400) a JSON object body {"error": "<code>", "message": "…"}.
// Returns the parsed body's "error" for errors, "" otherwise.
std::string CheckResponse(const http::Response& response);

// A short printable form of bytes for check messages.
std::string Printable(std::string_view bytes, size_t max = 200);

}  // namespace mqlab::fuzz

#endif  // MQLAB_FUZZ_HARNESS_H_
