// Logger construction: one line per event on stderr, as text (default) or JSON
// (`--log-format json`: {"ts":…,"level":…,"logger":…,"msg":…}, one object per line, for log
// shippers). Loggers are created here at the edge and injected into components; nothing reads a
// global logger.
#ifndef MQLAB_COMMON_LOGGING_H_
#define MQLAB_COMMON_LOGGING_H_

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "mqlab/common/status.h"

namespace mqlab {

struct LogOptions {
  std::string format = "text";  // "text" or "json". Default: text
  std::string level = "info";   // trace, debug, info, warn, error, off. Default: info
  Status Validate() const;
};

// A logger named `name` writing to stderr. Thread-safe.
std::shared_ptr<spdlog::logger> MakeLogger(std::string name, const LogOptions& options);
// A logger that drops everything (tests).
std::shared_ptr<spdlog::logger> NullLogger();

// `text` on one line: runs of whitespace (newlines and tabs from libpq messages) become one
// space, and the ends are trimmed. For error lines meant for a terminal.
std::string OneLine(std::string_view text);

// Replaces the password of a URL ("postgresql://u:secret@h/db" → "postgresql://u:***@h/db")
// so that URLs can be logged and printed.
std::string RedactUrl(std::string_view url);

}  // namespace mqlab

#endif  // MQLAB_COMMON_LOGGING_H_
