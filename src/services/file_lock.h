// An exclusive advisory lock on a file (flock), held for the object's lifetime. Serialises
// `services up`/`down` on one runtime folder, across threads and processes.
#ifndef MQLAB_SERVICES_FILE_LOCK_H_
#define MQLAB_SERVICES_FILE_LOCK_H_

#include <filesystem>
#include <memory>

#include "mqlab/common/status.h"

namespace mqlab::services {

class FileLock {
 public:
  // Creates `path` if needed and blocks until the lock is ours.
  static Result<std::unique_ptr<FileLock>> Acquire(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_FILE_LOCK_H_
