// Small file helpers every writer of results and state files uses.
#ifndef MQLAB_COMMON_FILES_H_
#define MQLAB_COMMON_FILES_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"

namespace mqlab {

// Writes `text` to path.tmp, then renames it over `path`: a reader (or a second writer) never sees
// half a file. Unavailable, naming the file, when it cannot be written (path.tmp is removed).
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view text);

// The current UTC time as 20261125T230816Z: a sortable name for an output folder.
std::string UtcFolderStamp();

}  // namespace mqlab

#endif  // MQLAB_COMMON_FILES_H_
