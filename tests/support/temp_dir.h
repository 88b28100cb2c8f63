// A temporary folder removed with its contents when the object dies.
#ifndef MQLAB_TESTS_SUPPORT_TEMP_DIR_H_
#define MQLAB_TESTS_SUPPORT_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace mqlab::testing {

class TempDir {
 public:
  // Creates a fresh folder under $TMPDIR (or /tmp) named mqlab-<prefix>-XXXXXX.
  explicit TempDir(const std::string& prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace mqlab::testing

#endif  // MQLAB_TESTS_SUPPORT_TEMP_DIR_H_
