#include "services/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace mqlab::services {

Result<std::unique_ptr<FileLock>> FileLock::Acquire(const std::filesystem::path& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Unavailable(fmt::format("cannot open lock file {}: {}", path.string(),
                                   std::strerror(errno)));
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    close(fd);
    return Unavailable(fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
  }
  return std::unique_ptr<FileLock>(new FileLock(fd));
}

FileLock::~FileLock() { close(fd_); }  // closing releases the lock

}  // namespace mqlab::services
