// Child, on /bin/sh stand-ins for mqlab servers: the ready line's URL, an early exit reported with
// the log's tail, and what chaos needs: Kill9() and Stop() reap (a reaped PID no longer exists;
// a zombie would), Pause()/Resume() freeze and thaw, Stop() ends a paused child by SIGTERM.
#include "study/child.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"

namespace mqlab::study {
namespace {

namespace fs = std::filesystem;

// A child that prints a ready line and then sleeps as the same PID.
ChildSpec Sleeper(const std::string& name) {
  return {.name = name,
          .args = {"-c", "echo 'x listening on http://127.0.0.1:1/ (test)'; exec sleep 60"}};
}

// The state letter in /proc/<pid>/stat (R, S, T, Z…), '?' when there is none.
char StateOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) return '?';
  return line[line.rfind(')') + 2];
}

bool WaitForState(pid_t pid, bool stopped) {
  for (int i = 0; i < 500; ++i) {
    if ((StateOf(pid) == 'T') == stopped) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ChildTest, StartTakesTheReadyUrlAndKill9Reaps) {
  testing::TempDir dir("child");
  auto c = Child::Start("/bin/sh", Sleeper("a"), dir.path() / "a.log", std::chrono::seconds(10));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ((*c)->url(), "http://127.0.0.1:1/");
  const pid_t pid = (*c)->pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE((*c)->running());
  EXPECT_TRUE((*c)->Sample().alive);
  (*c)->Kill9();
  EXPECT_FALSE((*c)->running());
  EXPECT_EQ((*c)->pid(), -1);
  // Reaped, not a zombie: the PID is gone.
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE((*c)->Sample().alive);
  (*c)->Kill9();                                      // no-op
  EXPECT_EQ((*c)->Stop(std::chrono::seconds(1)), 0);  // not running: nothing to stop
}

TEST(ChildTest, PauseFreezesAndStopEndsAPausedChildBySigterm) {
  testing::TempDir dir("child");
  auto c = Child::Start("/bin/sh", Sleeper("b"), dir.path() / "b.log", std::chrono::seconds(10));
  ASSERT_TRUE(c) << c.error().message;
  const pid_t pid = (*c)->pid();
  (*c)->Pause();
  EXPECT_TRUE(WaitForState(pid, true));
  (*c)->Resume();
  EXPECT_TRUE(WaitForState(pid, false));
  (*c)->Pause();
  ASSERT_TRUE(WaitForState(pid, true));
  EXPECT_EQ((*c)->Stop(std::chrono::seconds(5)), 128 + SIGTERM);
  EXPECT_FALSE((*c)->running());
  EXPECT_EQ(kill(pid, 0), -1);
}

TEST(ChildTest, StartReportsAnEarlyExitWithTheLogsTail) {
  testing::TempDir dir("child");
  auto c = Child::Start("/bin/sh", {.name = "c", .args = {"-c", "echo boom-at-start; exit 3"}},
                        dir.path() / "c.log", std::chrono::seconds(10));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("c exited with 3"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("boom-at-start"), std::string::npos) << c.error().message;
}

TEST(ChildTest, StartGivesUpOnAChildThatNeverGetsReadyAndStopsIt) {
  testing::TempDir dir("child");
  const fs::path pid_file = dir.path() / "pid";
  // Writes its PID, then sleeps without ever printing a ready line.
  auto c = Child::Start(
      "/bin/sh",
      {.name = "mute", .args = {"-c", "echo $$ > " + pid_file.string() + "; exec sleep 60"}},
      dir.path() / "mute.log", std::chrono::milliseconds(1000));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kDeadlineExceeded) << c.error().message;
  EXPECT_NE(c.error().message.find("mute was not ready within 1000 ms"), std::string::npos)
      << c.error().message;
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  // Start stopped and reaped it: the PID no longer exists (a zombie would still answer).
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace mqlab::study
