// Confinement of client-supplied paths to the data folder.
//
// A job's inputPath is relative to the data folder. Anything that could reach outside it is
// rejected: an absolute path, a ".." component, a NUL or control byte, and a path whose existing
// prefix resolves (through symlinks) outside the folder. The check is done when the job is
// accepted; the model re-checks before it opens anything, since a symlink can change in between.
#ifndef MQLAB_DOMAIN_INPUT_PATH_H_
#define MQLAB_DOMAIN_INPUT_PATH_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"

namespace mqlab {

// Longest inputPath accepted, in bytes (PATH_MAX-ish, so that nothing downstream truncates).
inline constexpr size_t kMaxInputPathBytes = 1024;

// Returns the normalised relative form of `input_path` ("a/./b" -> "a/b") or kInvalidArgument
// saying why it was refused. `data_dir` need not exist. Thread-safe; touches the file system only
// to resolve symlinks.
Result<std::string> ConfineToDataDir(const std::filesystem::path& data_dir,
                                     std::string_view input_path);

}  // namespace mqlab

#endif  // MQLAB_DOMAIN_INPUT_PATH_H_
