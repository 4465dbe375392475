// T2: vireo-launcher booting the test disk under TCG in a pod-like tree.
// One VM's two lives cover the console, cloud-init, ACPI shutdown, the PVC's
// persistence and the containerDisk's copy-on-write; shorter boots cover
// the grace period, a QEMU crash and a killed launcher. Guest boots are few
// on purpose: TCG is CPU-heavy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kVolumes[] =
    R"([{"name":"rootdisk","containerDisk":{"image":"vireo/test-disk:t2"}},)"
    R"({"name":"data","persistentVolumeClaim":{"claimName":"data"}},)"
    R"({"name":"cloudinit","cloudInitNoCloud":{"userData":)"
    R"("#cloud-config\nruncmd:\n  - echo T2-CLOUD-INIT-$((40+2))\n"}}])";
constexpr char kDisks[] =
    R"([{"name":"rootdisk","disk":{"bus":"virtio"}},{"name":"data","disk":{"bus":"virtio"}},)"
    R"({"name":"cloudinit","disk":{"bus":"virtio"}}])";
constexpr char kReadyMarker[] = "VIREO-TEST-DISK READY";
// The boot disk's FAT partition (the containerDisk) at /mnt/boot: the test
// disk mounts it itself (README.md), older builds of it did not.
constexpr const char* kMountBoot = kMountTestDiskBoot;

TestPod::Launch WithGrace(int64_t seconds) {
  TestPod::Launch launch;
  launch.grace_seconds = seconds;
  return launch;
}

std::string Diagnostics(Process& launcher, TestPod& pod) {
  return "\n--- launcher stderr ---\n" + launcher.Stderr() + "\n--- guest console log ---\n" +
         ReadFileOrEmpty(pod.ConsoleLog());
}

// The VMI pod.WriteVmi wrote, with `fields` ("\"rng\":{}") added to the
// object that begins with `object` ("\"devices\":{").
void AddToVmi(TestPod& pod, const std::string& object, const std::string& fields) {
  std::string vmi = ReadFileOrEmpty(pod.VmiFile());
  const size_t at = vmi.find(object);
  ASSERT_NE(at, std::string::npos) << vmi;
  vmi.insert(at + object.size(), fields + ",");
  WriteFileOrDie(pod.VmiFile(), vmi);
}

// The guest's `date +%s`, read through the console; -1 if it did not answer.
int64_t GuestEpochSeconds(Process& console) {
  const size_t from = console.Stdout().size();
  if (!Converse(console, "echo epoch-$(date +%s)-$((1+1))end", "-2end")) return -1;
  const std::string out = console.Stdout().substr(from);
  // The echoed command has "epoch-$(", the answer "epoch-<digits>-2end".
  for (size_t at = out.find("epoch-"); at != std::string::npos; at = out.find("epoch-", at + 1)) {
    const size_t end = out.find("-2end", at);
    const std::string digits = out.substr(at + 6, end == std::string::npos ? 0 : end - at - 6);
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoll(digits);
    }
  }
  return -1;
}

TEST(LauncherBootTest, ConsoleCloudInitShutdownPersistenceAndContainerDisk) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.AddPvc("data", 64 << 20);
  pod.WriteVmi("lifecycle", kVolumes, kDisks);
  AddToVmi(pod, R"("devices":{)", R"("rng":{})");
  // The guest's clock a day ahead of the node's; SMM on.
  AddToVmi(pod, R"("domain":{)", R"("clock":{"utc":{"offsetSeconds":86400}})");
  AddToVmi(pod, R"("domain":{)", R"("features":{"acpi":{},"smm":{}})");
  const std::string image = pod.ContainerDiskImage("rootdisk");
  const std::string image_sha = Sha256(image);

  // First life: boot, console, cloud-init, writes, SIGTERM. The pod's
  // postStart hook returns as the domain runs.
  {
    auto hook = pod.StartPostStartHook();
    TestPod::Launch launch = WithGrace(60);
    launch.extra_args.push_back("--post-start-hook");
    auto launcher = pod.StartLauncher(launch);
    ASSERT_EQ(hook->Wait(120s), 0) << Diagnostics(*launcher, pod);
    EXPECT_EQ(pod.Probe(), 0);
    hook->JoinOutput();
    EXPECT_EQ(hook->Stderr(), "");
    ASSERT_TRUE(pod.WaitReady(*launcher)) << Diagnostics(*launcher, pod);
    auto console = pod.AttachConsole();
    ASSERT_TRUE(console->WaitForStdout(kReadyMarker, 120s)) << Diagnostics(*launcher, pod);
    EXPECT_THAT(console->Stdout(), HasSubstr("T2-CLOUD-INIT-42"));
    // QEMU writes the log beside the socket the viewer reads; on a loaded
    // machine its last bytes may land a moment later.
    std::string log = ReadFileOrEmpty(pod.ConsoleLog());
    for (int i = 0; i < 100 && log.find(kReadyMarker) == std::string::npos; ++i) {
      std::this_thread::sleep_for(50ms);
      log = ReadFileOrEmpty(pod.ConsoleLog());
    }
    EXPECT_THAT(log, HasSubstr(kReadyMarker));
    // features.smm: QEMU's machine has SMM on.
    const std::vector<pid_t> qemu = QemuProcessesMentioning(pod.root());
    ASSERT_EQ(qemu.size(), 1u);
    EXPECT_THAT(ReadFileOrEmpty("/proc/" + std::to_string(qemu[0]) + "/cmdline"),
                HasSubstr("smm=on"));

    EXPECT_TRUE(Converse(*console, "echo $((6*7))-answer", "42-answer"));
    // clock.utc.offsetSeconds: the guest read its RTC a day ahead (boot and
    // TCG's slowness allowed for).
    const int64_t guest = GuestEpochSeconds(*console);
    const int64_t node = static_cast<int64_t>(std::time(nullptr));
    EXPECT_NEAR(static_cast<double>(guest - node), 86400.0, 300.0)
        << "guest " << guest << ", node " << node;
    // devices.rng: the guest's hardware RNG is the virtio one, and it gives
    // bytes.
    EXPECT_TRUE(Converse(*console, "sed 's/^/rng-is-/' /sys/class/misc/hw_random/rng_current",
                         "rng-is-virtio_rng.0"));
    EXPECT_TRUE(Converse(*console, "head -c 16 /dev/hwrng | wc -c | sed 's/^ */hwrng-bytes-/'",
                         "hwrng-bytes-16"));
    EXPECT_TRUE(
        Converse(*console, "echo kept-$((1000+1)) > /mnt/data/keep.txt && echo w-$((1+1))", "w-2"));
    EXPECT_TRUE(Converse(*console,
                         std::string(kMountBoot) +
                             " && echo scratch > /mnt/boot/scratch.txt && sync && echo cd-$((2+1))",
                         "cd-3"));

    // A second viewer takes over: the first is told and disconnected, the
    // second is the one whose keys reach the guest.
    auto second = pod.AttachConsole();
    EXPECT_TRUE(console->WaitForStdout("another console session took over", 10s));
    EXPECT_EQ(console->Wait(10s), 0);
    EXPECT_TRUE(Converse(*second, "echo second-$((3*3))", "second-9"));

    launcher->Signal(SIGTERM);
    EXPECT_EQ(launcher->Wait(90s), 0) << Diagnostics(*launcher, pod);
    EXPECT_THAT(launcher->Stderr(), HasSubstr("the guest powered off after the ACPI power button"));
    // The viewer's session ends with the launcher.
    EXPECT_EQ(second->Wait(10s), 0);
    EXPECT_NE(pod.Probe(), 0);
    EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
    // The containerDisk's container ends with the launcher, so the pod does.
    EXPECT_TRUE(pod.ContainerDiskServerStopped("rootdisk", 5s));
  }
  EXPECT_EQ(Sha256(image), image_sha) << "the containerDisk image was written";

  // Second life in a new pod (fresh state dir), same volumes.
  pod.ResetStateDir();
  {
    auto launcher = pod.StartLauncher();
    ASSERT_TRUE(pod.WaitReady(*launcher)) << Diagnostics(*launcher, pod);
    auto console = pod.AttachConsole();
    ASSERT_TRUE(console->WaitForStdout(kReadyMarker, 120s)) << Diagnostics(*launcher, pod);
    EXPECT_TRUE(Converse(*console, "cat /mnt/data/keep.txt", "kept-1001"))
        << "the PVC lost the file";
    EXPECT_TRUE(Converse(*console,
                         std::string(kMountBoot) +
                             " && { cat /mnt/boot/scratch.txt 2>/dev/null || echo no-$((5+5)); }",
                         "no-10"))
        << "a write to the containerDisk outlived the restart";
    // The guest powers itself off: exit 0 without any signal.
    console->Write("poweroff\n");
    EXPECT_EQ(launcher->Wait(90s), 0) << Diagnostics(*launcher, pod);
    EXPECT_THAT(launcher->Stderr(), HasSubstr("the guest powered itself off"));
    EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
  }
  EXPECT_EQ(Sha256(image), image_sha);
}

// firmware.kernelBoot: no disk at all; the firmware loads the kernel and
// initramfs the pod copied out of their image, with the VMI's command line.
TEST(LauncherBootTest, KernelBootWithoutADiskAndHypervFeatures) {
  TestPod pod;
  pod.WriteVmi("kernelboot", "[]", "[]");
  AddToVmi(
      pod, R"("domain":{)",
      R"("firmware":{"kernelBoot":{"kernelArgs":"console=ttyS0,115200 vireo.t2=kernel-boot",)"
      R"("container":{"image":"t","kernelPath":"/boot/vmlinuz","initrdPath":"/boot/initrd"}}})");
  // Before the copy exists: a storage error naming the file.
  auto early = pod.StartLauncher();
  EXPECT_EQ(early->Wait(60s), 4) << early->Stderr();
  EXPECT_THAT(early->Stderr(),
              HasSubstr("firmware.kernelBoot: /boot/vmlinuz of image t is not at"));

  // The Hyper-V enlightenments Vireo takes, and Hyper-V's clock: QEMU gets
  // them under TCG too (a Windows VM's manifest boots anywhere).
  AddToVmi(pod, R"("domain":{)",
           R"("features":{"hyperv":{"relaxed":{},"vapic":{},"runtime":{},"reset":{},)"
           R"("frequencies":{},"reenlightenment":{},"spinlocks":{"spinlocks":8191},)"
           R"("vendorid":{"vendorid":"VireoHv"}}},"clock":{"timer":{"hyperv":{}}})");
  pod.AddKernelBoot();
  pod.ResetStateDir();
  auto launcher = pod.StartLauncher();
  ASSERT_TRUE(pod.WaitReady(*launcher)) << Diagnostics(*launcher, pod);
  const std::vector<pid_t> qemu = QemuProcessesMentioning(pod.root());
  ASSERT_EQ(qemu.size(), 1u);
  std::string cmdline = ReadFileOrEmpty("/proc/" + std::to_string(qemu[0]) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  for (const char* flag :
       {"hv-relaxed=on", "hv-vapic=on", "hv-runtime=on", "hv-reset=on", "hv-frequencies=on",
        "hv-reenlightenment=on", "hv-spinlocks=0x1fff", "hv-vendor-id=VireoHv", "hv-time=on"}) {
    EXPECT_THAT(cmdline, HasSubstr(flag));
  }
  const std::string xml = ReadFileOrEmpty(pod.StateDir() + "/domain.xml");
  EXPECT_THAT(xml, HasSubstr("/var/run/vireo/kernel-boot/kernel</kernel>"));
  EXPECT_THAT(xml, HasSubstr("/var/run/vireo/kernel-boot/initrd</initrd>"));
  auto console = pod.AttachConsole();
  ASSERT_TRUE(console->WaitForStdout(kReadyMarker, 120s)) << Diagnostics(*launcher, pod);
  // The command line the VMI gave, as the guest's kernel got it: the answer
  // starts a line of its own (the echoed command does not).
  EXPECT_TRUE(
      Converse(*console, "cat /proc/cmdline", "\nconsole=ttyS0,115200 vireo.t2=kernel-boot"))
      << console->Stdout();
  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(90s), 0) << Diagnostics(*launcher, pod);
}

// A guest still in its firmware ignores the power button: SIGTERM ends in a
// destroy once the grace period is over.
TEST(LauncherBootTest, GracePeriodExpiryDestroysTheGuest) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("grace", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  auto launcher = pod.StartLauncher(WithGrace(1));
  ASSERT_TRUE(pod.WaitReady(*launcher)) << launcher->Stderr();
  launcher->Signal(SIGTERM);
  EXPECT_EQ(launcher->Wait(60s), 7) << launcher->Stderr();
  EXPECT_THAT(launcher->Stderr(), HasSubstr("did not power off within the grace period of 1 s"));
  EXPECT_NE(pod.Probe(), 0);
  EXPECT_THAT(WaitForNoQemu(pod.root(), 10s), IsEmpty());
}

// In a pod the deadline is the kubelet's (the deletion grace period, which
// `virtctl stop --grace-period` sets): after SIGTERM the launcher keeps the
// guest until the guest powers off or the launcher is killed.
TEST(LauncherBootTest, UnboundedGracePeriodWaitsUntilKilled) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("unbounded", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  auto launcher = pod.StartLauncher(WithGrace(-1));
  ASSERT_TRUE(pod.WaitReady(*launcher)) << launcher->Stderr();
  launcher->Signal(SIGTERM);
  // With a grace period of 1 s the guest above was destroyed by now.
  EXPECT_EQ(launcher->Wait(8s), std::nullopt) << launcher->Stderr();
  EXPECT_THAT(launcher->Stderr(), HasSubstr(R"("gracePeriodSeconds":"unbounded")"));
  EXPECT_EQ(QemuProcessesMentioning(pod.root()).size(), 1u);
  launcher->Signal(SIGKILL);
  EXPECT_EQ(launcher->Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitForNoQemu(pod.root(), 15s), IsEmpty());
}

TEST(LauncherBootTest, QemuCrashEndsTheLauncherWithAClearCode) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("crash", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  auto launcher = pod.StartLauncher();
  ASSERT_TRUE(pod.WaitReady(*launcher)) << launcher->Stderr();
  std::vector<pid_t> qemu = QemuProcessesMentioning(pod.root());
  ASSERT_EQ(qemu.size(), 1u);
  kill(qemu[0], SIGKILL);
  EXPECT_EQ(launcher->Wait(60s), 6) << launcher->Stderr();
  EXPECT_THAT(launcher->Stderr(), HasSubstr("QEMU ended unexpectedly"));
  EXPECT_THAT(launcher->Stderr(), HasSubstr("killed by signal 9"));
  EXPECT_NE(pod.Probe(), 0);
}

// SIGKILL gives the process that runs libvirt no chance to clean up: the
// guardian (the process the pod started) kills QEMU and exits non-zero.
TEST(LauncherBootTest, KilledLibvirtProcessLeavesNoQemu) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("crashed", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  auto launcher = pod.StartLauncher();
  ASSERT_TRUE(pod.WaitReady(*launcher)) << launcher->Stderr();
  ASSERT_EQ(QemuProcessesMentioning(pod.root()).size(), 1u);
  // The ready file names the process running libvirt first.
  pid_t inner = std::stoi(ReadFileOrEmpty(pod.StateDir() + "/ready"));
  ASSERT_NE(inner, launcher->pid());
  kill(inner, SIGKILL);
  EXPECT_EQ(launcher->Wait(30s), 1) << launcher->Stderr();
  EXPECT_THAT(launcher->Stderr(), HasSubstr("killing QEMU"));
  EXPECT_THAT(WaitForNoQemu(pod.root(), 15s), IsEmpty());
  EXPECT_NE(pod.Probe(), 0);
}

// SIGKILL of the pod's process itself (outside a pod's PID namespace, where
// the kernel would do it): the process running libvirt destroys the domain.
TEST(LauncherBootTest, KilledLauncherLeavesNoQemu) {
  TestPod pod;
  pod.AddContainerDisk("rootdisk");
  pod.WriteVmi("killed", R"([{"name":"rootdisk","containerDisk":{"image":"t"}}])",
               R"([{"name":"rootdisk"}])");
  auto launcher = pod.StartLauncher();
  ASSERT_TRUE(pod.WaitReady(*launcher)) << launcher->Stderr();
  ASSERT_EQ(QemuProcessesMentioning(pod.root()).size(), 1u);
  pid_t inner = std::stoi(ReadFileOrEmpty(pod.StateDir() + "/ready"));
  launcher->Signal(SIGKILL);
  EXPECT_EQ(launcher->Wait(10s), 128 + SIGKILL);
  EXPECT_THAT(WaitForNoQemu(pod.root(), 15s), IsEmpty());
  // Then the process that ran libvirt is gone too, and the probe fails.
  for (int i = 0; i < 150 && kill(inner, 0) == 0; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_NE(kill(inner, 0), 0) << "the process running libvirt outlived the launcher";
  EXPECT_NE(pod.Probe(), 0);
}

}  // namespace
}  // namespace vireo::t2
