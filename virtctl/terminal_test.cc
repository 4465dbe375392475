#include "virtctl/terminal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

namespace vireo::virtctl {
namespace {

using namespace std::string_literals;

TEST(EscapeTest, TerminalLeavesOnCtrlCloseBracketAndSendsWhatCameBefore) {
  auto scan = ScanForEscape("ls\x1dmore"s, true);
  EXPECT_TRUE(scan.leave);
  EXPECT_EQ(scan.forward, 2u);
  scan = ScanForEscape("\x1d"s, true);
  EXPECT_TRUE(scan.leave);
  EXPECT_EQ(scan.forward, 0u);
  scan = ScanForEscape("echo hi\r"s, true);
  EXPECT_FALSE(scan.leave);
  EXPECT_EQ(scan.forward, 8u);
}

TEST(EscapeTest, PipedInputIsSentWholeEscapeByteIncluded) {
  auto scan = ScanForEscape("a\x1d b"s, false);
  EXPECT_FALSE(scan.leave);
  EXPECT_EQ(scan.forward, 4u);
}

TEST(RawSettingsTest, TurnsOffEchoLineEditingSignalsAndTranslation) {
  termios cooked{};
  cooked.c_iflag = ICRNL | IXON | BRKINT;
  cooked.c_oflag = OPOST | ONLCR;
  cooked.c_lflag = ECHO | ICANON | ISIG | IEXTEN;
  cooked.c_cflag = CS7 | PARENB;
  termios raw = RawSettings(cooked);
  EXPECT_EQ(raw.c_lflag & (ECHO | ICANON | ISIG | IEXTEN), 0u);
  EXPECT_EQ(raw.c_iflag & (ICRNL | IXON | BRKINT), 0u);
  EXPECT_EQ(raw.c_oflag & OPOST, 0u);
  EXPECT_EQ(raw.c_cflag & CSIZE, static_cast<tcflag_t>(CS8));
  EXPECT_EQ(raw.c_cflag & PARENB, 0u);
  EXPECT_EQ(raw.c_cc[VMIN], 1);
  EXPECT_EQ(raw.c_cc[VTIME], 0);
}

// On a real pseudo-terminal: raw while alive, the original settings back
// after, whether by destruction or by an explicit Restore.
TEST(RawTerminalTest, RestoresThePseudoTerminal) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios before{};
  ASSERT_EQ(tcgetattr(slave, &before), 0);
  ASSERT_NE(before.c_lflag & ECHO, 0u);
  {
    RawTerminal raw(slave);
    ASSERT_TRUE(raw.active());
    termios during{};
    ASSERT_EQ(tcgetattr(slave, &during), 0);
    EXPECT_EQ(during.c_lflag & (ECHO | ICANON), 0u);
  }
  termios after{};
  ASSERT_EQ(tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  {
    RawTerminal raw(slave);
    raw.Restore();
    EXPECT_FALSE(raw.active());
    ASSERT_EQ(tcgetattr(slave, &after), 0);
    EXPECT_EQ(after.c_lflag, before.c_lflag);
  }
  close(master);
  close(slave);
}

// A signal that ends the process still leaves the terminal as it was.
TEST(RawTerminalTest, RestoresOnSigterm) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios before{};
  ASSERT_EQ(tcgetattr(slave, &before), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RawTerminal raw(slave);
    if (!raw.active()) _exit(3);
    raise(SIGTERM);
    _exit(4);  // not reached: SIGTERM's default action ends the process
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  termios after{};
  ASSERT_EQ(tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  close(master);
  close(slave);
}

TEST(RawTerminalTest, NotATerminalDoesNothing) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  RawTerminal raw(fds[0]);
  EXPECT_FALSE(raw.active());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace vireo::virtctl
