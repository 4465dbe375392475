// The ready file, and the postStart hook's wait on it: what ends the wait,
// and the launcher letting a waiting hook go before it exits.
#include "launcher/readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "launcher/orphan_guard.h"

namespace vireo::launcher {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class ReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vireo-readiness-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  bool Exists(const std::string& path) { return std::filesystem::exists(path); }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // A child that ends after `life` (a zombie then: nobody reaps it until
  // Reap).
  pid_t Child(milliseconds life) {
    const pid_t pid = fork();
    if (pid == 0) {
      std::this_thread::sleep_for(life);
      _exit(0);
    }
    return pid;
  }
  void Reap(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  // As the hook records itself: "<pid> <start time>".
  void RecordWaiter(pid_t pid, unsigned long long start) {
    std::ofstream(state().WaiterFile()) << pid << " " << start << "\n";
  }
  void RecordWaiter(pid_t pid) { RecordWaiter(pid, ProcessStartTime(pid)); }

  StateFiles state() const { return StateFiles(dir_); }
  std::string dir_;
};

TEST_F(ReadinessTest, ReadyWhileBothProcessesLive) {
  const std::string ready = state().ReadyFile();
  EXPECT_EQ(CheckReady(ready).code(), base::Code::kNotFound);
  ASSERT_TRUE(MarkReady(ready, getpid(), getpid()).ok());
  EXPECT_TRUE(CheckReady(ready).ok());
  const pid_t qemu = Child(milliseconds(0));
  Reap(qemu);
  ASSERT_TRUE(MarkReady(ready, getpid(), qemu).ok());
  EXPECT_NE(CheckReady(ready).message().find("QEMU"), std::string::npos);
  ClearReady(ready);
  EXPECT_FALSE(Exists(ready));
}

TEST_F(ReadinessTest, WaitEndsWhenTheDomainRuns) {
  std::thread launcher([&] {
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(MarkReady(state().ReadyFile(), getpid(), getpid()).ok());
  });
  const Clock::time_point start = Clock::now();
  const base::Status waited = WaitReady(state(), milliseconds(10000));
  launcher.join();
  EXPECT_TRUE(waited.ok()) << waited.ToString();
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  // It said who it is, for the launcher's exit.
  EXPECT_EQ(Read(state().WaiterFile()),
            std::to_string(getpid()) + " " + std::to_string(ProcessStartTime(getpid())) + "\n");
}

TEST_F(ReadinessTest, WaitEndsWhenTheLauncherExits) {
  std::thread launcher([&] {
    std::this_thread::sleep_for(milliseconds(100));
    ReleaseWaiter(state(), /*hook=*/false, milliseconds(0));
  });
  const base::Status waited = WaitReady(state(), milliseconds(10000));
  launcher.join();
  EXPECT_EQ(waited.code(), base::Code::kCancelled) << waited.ToString();
}

// The start waits on a containerDisk image being pulled: the hook returns
// so the kubelet can go on (it starts nothing else of the pod meanwhile).
TEST_F(ReadinessTest, WaitEndsWhenTheStartWaitsForItsDisks) {
  std::thread launcher([&] {
    std::this_thread::sleep_for(milliseconds(100));
    MarkWaitingForDisks(state());
  });
  const base::Status waited = WaitReady(state(), milliseconds(10000));
  launcher.join();
  EXPECT_EQ(waited.code(), base::Code::kCancelled) << waited.ToString();
  EXPECT_THAT(waited.message(), ::testing::HasSubstr("containerDisk"));
  // An earlier launcher's mark goes as the next one starts.
  ClearStaleWaiterFiles(state());
  EXPECT_FALSE(Exists(state().WaitingForDisksFile()));
}

TEST_F(ReadinessTest, WaitEndsAtItsLimit) {
  const Clock::time_point start = Clock::now();
  const base::Status waited = WaitReady(state(), milliseconds(200));
  EXPECT_EQ(waited.code(), base::Code::kTimeout);
  EXPECT_NE(waited.message().find("not running"), std::string::npos) << waited.message();
  EXPECT_GE(Clock::now() - start, milliseconds(200));
}

TEST_F(ReadinessTest, ExitWithoutAHookDoesNotWait) {
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/false, milliseconds(2000));
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(Exists(state().ExitingFile()));
}

TEST_F(ReadinessTest, ExitWaitsForAHookNotSeenYetUpToTheLimit) {
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(300));
  EXPECT_GE(Clock::now() - start, milliseconds(300));
}

TEST_F(ReadinessTest, ExitWaitsUntilTheHookIsGone) {
  const pid_t hook = Child(milliseconds(200));
  RecordWaiter(hook);
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(5000));
  const auto took = Clock::now() - start;
  Reap(hook);
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, milliseconds(4000));
}

TEST_F(ReadinessTest, ExitStopsWaitingForAHookAtTheLimit) {
  const pid_t hook = Child(milliseconds(10000));
  RecordWaiter(hook);
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(300));
  const auto took = Clock::now() - start;
  Reap(hook);
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(5000));
}

TEST_F(ReadinessTest, AHookThatEndedLongAgoCostsNothing) {
  const pid_t hook = Child(milliseconds(0));
  const unsigned long long started = ProcessStartTime(hook);
  Reap(hook);
  RecordWaiter(hook, started);
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(2000));
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST_F(ReadinessTest, ExitWaitsForAHookThatRecordsItselfLate) {
  const pid_t hook = Child(milliseconds(400));
  std::thread kubelet([&] {
    std::this_thread::sleep_for(milliseconds(100));
    RecordWaiter(hook);
  });
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(5000));
  const auto took = Clock::now() - start;
  kubelet.join();
  Reap(hook);
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(4000));
}

// A pid taken over by another process is not the hook.
TEST_F(ReadinessTest, ARecordWithAnotherStartTimeIsNotTheHook) {
  RecordWaiter(getpid(), ProcessStartTime(getpid()) + 1);
  const Clock::time_point start = Clock::now();
  ReleaseWaiter(state(), /*hook=*/true, milliseconds(2000));
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

// What an earlier launcher on the same state dir left: its exit does not
// end a new hook's wait, and its hook's record goes.
TEST_F(ReadinessTest, AnEarlierLaunchersFilesDoNotCount) {
  const pid_t earlier = Child(milliseconds(0));
  const unsigned long long started = ProcessStartTime(earlier);
  Reap(earlier);
  std::ofstream(state().ExitingFile()) << earlier << " " << started << "\n";
  EXPECT_EQ(WaitReady(state(), milliseconds(200)).code(), base::Code::kTimeout);

  RecordWaiter(earlier, started);
  ClearStaleWaiterFiles(state());
  EXPECT_FALSE(Exists(state().ExitingFile()));
  EXPECT_FALSE(Exists(state().WaiterFile()));
  // A hook alive and recorded stays.
  RecordWaiter(getpid());
  ClearStaleWaiterFiles(state());
  EXPECT_TRUE(Exists(state().WaiterFile()));
}

}  // namespace
}  // namespace vireo::launcher
