#include "mqlab/domain/input_path.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace mqlab {
namespace {

namespace fs = std::filesystem;

TEST(InputPathTest, AcceptsAndNormalisesRelativePaths) {
  testing::TempDir dir;
  EXPECT_EQ(ConfineToDataDir(dir.path(), "a.png").value(), "a.png");
  EXPECT_EQ(ConfineToDataDir(dir.path(), "images/./x/a.png").value(), "images/x/a.png");
  EXPECT_EQ(ConfineToDataDir(dir.path(), "images//a.png").value(), "images/a.png");
  EXPECT_EQ(ConfineToDataDir(dir.path() / "not-yet", "a.png").value(), "a.png");
}

TEST(InputPathTest, RejectsEscapes) {
  testing::TempDir dir;
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", ".", "./",
                          "a/\x01b", "\\abs"}) {
    auto r = ConfineToDataDir(dir.path(), bad);
    EXPECT_FALSE(r) << "accepted '" << bad << "'";
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(ConfineToDataDir(dir.path(), std::string(2000, 'a')));
  EXPECT_FALSE(ConfineToDataDir(dir.path(), std::string("a\0b", 3)));
}

TEST(InputPathTest, RejectsSymlinksLeadingOut) {
  testing::TempDir data, outside;
  fs::create_directories(data.path() / "in");
  fs::create_directory_symlink(outside.path(), data.path() / "escape");
  fs::create_symlink("/etc/passwd", data.path() / "in/passwd");
  fs::create_symlink(data.path() / "in", data.path() / "inner");  // stays inside: fine
  auto r = ConfineToDataDir(data.path(), "escape/secret.png");
  EXPECT_FALSE(r);
  EXPECT_FALSE(ConfineToDataDir(data.path(), "in/passwd"));
  EXPECT_TRUE(ConfineToDataDir(data.path(), "inner/a.png"));
}

TEST(InputPathTest, DataFolderThatIsASymlinkStillWorks) {
  testing::TempDir real, links;
  fs::create_directory_symlink(real.path(), links.path() / "data");
  EXPECT_EQ(ConfineToDataDir(links.path() / "data", "a/b.png").value(), "a/b.png");
}

}  // namespace
}  // namespace mqlab
