// T2: vireo-launcher as the launcher pod runs it, uid and gid 107 with no
// capabilities (docs/launcher-pod.md): libvirt's embedded driver is then
// unprivileged and QEMU runs as 107 too; the containerDisk overlay, the PVC,
// an emptyDisk and the cloud-init ISO work on files the pod's fsGroup made
// the user's. One boot under TCG.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// What a pod's kubelet and runtime would do: the pod's volumes are the pod
// user's (fsGroup; here the owner too, as the launcher creates its files).
void GiveToPodUser(const std::string& path) {
  CommandResult r = RunCommand({"chown", "-R", std::string(kPodUser) + ":" + kPodUser, path});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// "Uid:" of /proc/<pid>/status: real, effective, saved, filesystem.
std::string UidLine(pid_t pid) {
  std::istringstream status(ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("Uid:")) return line;
  }
  return "";
}

TEST(LauncherAsPodUser, BootsWithQemuAs107AndShutsDown) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to uid 107";
  TestPod pod;
  // Served by a process of the pod's user too, as in the pod: the launcher
  // reads the image through its /proc/<pid>/root.
  pod.AddContainerDisk("rootdisk", static_cast<uid_t>(std::stoi(kPodUser)));
  pod.AddPvc("data", 32 << 20);
  pod.WriteVmi(
      "nonroot",
      R"([{"name":"rootdisk","containerDisk":{"image":"t"}},)"
      R"({"name":"data","persistentVolumeClaim":{"claimName":"data"}},)"
      R"({"name":"scratch","emptyDisk":{"capacity":"16Mi"}},)"
      R"({"name":"cloudinit","cloudInitNoCloud":{"userData":)"
      R"("#cloud-config\nruncmd:\n  - echo T2-NONROOT-$((40+2))\n"}}])",
      R"([{"name":"rootdisk","disk":{"bus":"virtio"}},{"name":"data","disk":{"bus":"virtio"}},)"
      R"({"name":"scratch","disk":{"bus":"virtio"}},{"name":"cloudinit","disk":{"bus":"virtio"}}])");
  GiveToPodUser(pod.root() + "/var/run/vireo");
  // As the image's capabilities cache is (images/build.sh); the harness's
  // copy is made by root in a private directory.
  ASSERT_EQ(RunCommand({"chmod", "-R", "a+rX", CapabilitiesCache()}).exit_code, 0);

  TestPod::Launch launch;
  // No capabilities at all, as `drop: [ALL]` leaves the pod.
  launch.prefix = AsPodUser();
  auto launcher = pod.StartLauncher(launch);
  ASSERT_TRUE(pod.WaitReady(*launcher, 180s)) << launcher->Stderr() << "\n--- console ---\n"
                                              << ReadFileOrEmpty(pod.ConsoleLog());

  // libvirt was told no user to switch to. (The harness's capabilities
  // cache is the kvm variant where root opens /dev/kvm, which uid 107 does
  // not: libvirt probes here; images/check.sh checks the image's cache.)
  const std::string conf = ReadFileOrEmpty(pod.StateDir() + "/libvirt/etc/qemu.conf");
  EXPECT_THAT(conf, Not(HasSubstr("user =")));

  const std::vector<pid_t> qemu = QemuProcessesMentioning(pod.root());
  ASSERT_EQ(qemu.size(), 1u);
  EXPECT_EQ(UidLine(qemu[0]), "Uid:\t107\t107\t107\t107");
  EXPECT_EQ(UidLine(launcher->pid()), "Uid:\t107\t107\t107\t107");

  auto console = pod.AttachConsole();
  ASSERT_TRUE(console->WaitForStdout("VIREO-TEST-DISK READY", 240s))
      << ReadFileOrEmpty(pod.ConsoleLog());
  EXPECT_THAT(console->Stdout(), HasSubstr("T2-NONROOT-42"));  // the cloud-init ISO
  // The claim's disk.img is writable by the guest (the test disk mounts it
  // at /mnt/data).
  EXPECT_TRUE(Converse(
      *console, "echo T2-NONROOT-KEPT-$((500+1)) > /mnt/data/kept.txt && sync && echo w-$((1+1))",
      "w-2", 60s))
      << ReadFileOrEmpty(pod.ConsoleLog());

  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(120s), std::optional<int>(0)) << launcher->Stderr();
  EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
  EXPECT_THAT(ReadFileOrEmpty(pod.VolumeDir("data") + "/disk.img"),
              HasSubstr("T2-NONROOT-KEPT-501"));
}

}  // namespace
}  // namespace vireo::t2
