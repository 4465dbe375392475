// T2: inputs a launcher pod can get wrong. Each must end the launcher with a
// non-zero code and a message naming the cause, and start no QEMU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRootAndData[] = R"([{"name":"rootdisk","containerDisk":{"image":"t"}},)"
                                R"({"name":"data","persistentVolumeClaim":{"claimName":"data"}}])";
constexpr char kRootAndDataDisks[] = R"([{"name":"rootdisk"},{"name":"data"}])";

// Runs the launcher to its end; returns its exit code, its stderr in `err`.
int RunToEnd(TestPod& pod, std::string* err, const std::vector<std::string>& prefix = {}) {
  TestPod::Launch launch;
  launch.prefix = prefix;
  auto launcher = pod.StartLauncher(launch);
  auto code = launcher->Wait(120s);
  *err = launcher->Stderr();
  return code.value_or(-1);
}

class LauncherInputsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_THAT(QemuProcessesMentioning(pod_.root()), IsEmpty());
    EXPECT_NE(pod_.Probe(), 0);
  }
  // A VMI `name` with one disk, the containerDisk volume rootdisk.
  void WriteContainerDiskVmi(const std::string& name) {
    pod_.WriteVmi(name, R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
                  R"([{"name":"rootdisk"}])");
  }
  TestPod pod_;
};

TEST_F(LauncherInputsTest, MalformedVmiFile) {
  WriteFileOrDie(pod_.VmiFile(), R"({"apiVersion": "kubevirt.io/v1", "spec": )");
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 3);
  EXPECT_THAT(err, AllOf(HasSubstr("invalid-vmi"), HasSubstr(pod_.VmiFile())));
}

TEST_F(LauncherInputsTest, MissingVmiFile) {
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 3);
  EXPECT_THAT(err, AllOf(HasSubstr("read VMI file"), HasSubstr("No such file")));
}

TEST_F(LauncherInputsTest, DiskNamesAVolumeTheVmiLacks) {
  pod_.AddContainerDisk("rootdisk");
  pod_.WriteVmi("novol", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
                R"([{"name":"rootdisk"},{"name":"ghost"}])");
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 3);
  EXPECT_THAT(err, HasSubstr("ghost"));
}

TEST_F(LauncherInputsTest, VolumeThePodDoesNotProvide) {
  pod_.AddContainerDisk("rootdisk");
  pod_.WriteVmi("missing", kRootAndData, kRootAndDataDisks);  // no volumes/data directory
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 4);
  EXPECT_THAT(err, AllOf(HasSubstr("storage"), HasSubstr(pod_.VolumeDir("data"))));
}

TEST_F(LauncherInputsTest, UnreadableDisk) {
  pod_.AddContainerDisk("rootdisk");
  pod_.AddPvc("data", 16 << 20);
  chmod((pod_.VolumeDir("data") + "/disk.img").c_str(), 0);
  pod_.WriteVmi("unreadable", kRootAndData, kRootAndDataDisks);
  std::string err;
  // As in a pod, without the root powers that ignore file modes.
  EXPECT_EQ(
      RunToEnd(pod_, &err, {"setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"}), 4);
  EXPECT_THAT(
      err, AllOf(HasSubstr("cannot open"), HasSubstr("disk.img"), HasSubstr("Permission denied")));
}

TEST_F(LauncherInputsTest, DiskImageLargerThanItsVolume) {
  if (!pod_.MountSmallVolume("data", 8 << 20)) GTEST_SKIP() << "cannot mount a tmpfs here";
  pod_.AddContainerDisk("rootdisk");
  pod_.AddPvc("data", 64 << 20);  // sparse: fits in the 8 MiB tmpfs, claims 64 MiB
  pod_.WriteVmi("toolarge", kRootAndData, kRootAndDataDisks);
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 4);
  EXPECT_THAT(err, HasSubstr("larger than its volume"));
}

// A start that fails lets the pod's postStart hook return before the
// launcher ends: in a container the launcher's end would kill the hook, and
// the kubelet would report the hook failed beside the launcher's message.
TEST_F(LauncherInputsTest, AFailedStartLetsThePostStartHookReturnFirst) {
  pod_.AddContainerDisk("rootdisk");
  pod_.WriteVmi("missing", kRootAndData, kRootAndDataDisks);  // no volumes/data directory
  auto hook = pod_.StartPostStartHook();
  // Waiting already (as a hook the kubelet started before the launcher
  // failed): its record is there.
  const std::string record = pod_.StateDir() + "/wait-running.pid";
  for (int i = 0; i < 500 && !std::filesystem::exists(record); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(std::filesystem::exists(record)) << hook->Stderr();
  TestPod::Launch launch;
  launch.extra_args = {"--post-start-hook"};
  auto launcher = pod_.StartLauncher(launch);
  EXPECT_EQ(launcher->Wait(120s), 4);
  // Ended (a zombie, not reaped yet) before the launcher did.
  EXPECT_EQ(hook->Wait(0ms), 0);
  hook->JoinOutput();
  EXPECT_THAT(hook->Stderr(), HasSubstr("the launcher is exiting"));
}

TEST_F(LauncherInputsTest, CorruptQcow2) {
  // A qcow2 header whose fields are garbage.
  std::string bytes("QFI\xfb\x00\x00\x00\x03", 8);
  bytes += std::string(504, '\xee');
  std::filesystem::create_directories(pod_.root() + "/images");
  WriteFileOrDie(pod_.root() + "/images/disk.qcow2", bytes);
  pod_.ServeContainerDisk("rootdisk", pod_.root() + "/images/disk.qcow2");
  WriteContainerDiskVmi("corrupt");
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 4);
  EXPECT_THAT(err, AllOf(HasSubstr("rootdisk"), HasSubstr("disk.qcow2")));
}

// The containerDisk container's own error (a directory with two files) is
// the launcher's storage failure, with its words.
TEST_F(LauncherInputsTest, AContainerDiskErrorEndsTheStart) {
  std::filesystem::create_directories(pod_.ContainerDiskDir("rootdisk"));
  WriteFileOrDie(pod_.ContainerDiskDir("rootdisk") + "/error",
                 "expected one file in /disk, found 2\n");
  WriteContainerDiskVmi("twofiles");
  std::string err;
  EXPECT_EQ(RunToEnd(pod_, &err), 4);
  EXPECT_THAT(err, AllOf(HasSubstr("rootdisk"), HasSubstr("expected one file in /disk, found 2")));
}

// A containerDisk container that has not answered (its image still pulling):
// the launcher waits, saying so, and a SIGTERM ends the wait.
TEST_F(LauncherInputsTest, TheStartWaitsForTheContainerDiskAndStopsOnSigterm) {
  std::filesystem::create_directories(pod_.ContainerDiskDir("rootdisk"));
  WriteContainerDiskVmi("pulling");
  auto launcher = pod_.StartLauncher();
  ASSERT_TRUE(launcher->WaitForStderr("waiting for the containerDisk containers", 30s))
      << launcher->Stderr();
  EXPECT_FALSE(launcher->Wait(0ms).has_value()) << "it must wait, not fail";
  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(10s), 8) << launcher->Stderr();  // terminated before start
  EXPECT_THAT(launcher->Stderr(), HasSubstr("termination signal arrived while waiting"));
}

TEST_F(LauncherInputsTest, BadFlagIsAUsageError) {
  CommandResult r = RunCommand({LauncherBinary(), "run", "--emulation=sometimes"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--emulation: expected auto, on or off"));
}

TEST_F(LauncherInputsTest, ConsoleWithoutALauncherSaysSo) {
  CommandResult r = RunCommand({LauncherBinary(), "console", "--state-dir", pod_.StateDir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("is the launcher running?"));
}

}  // namespace
}  // namespace vireo::t2
