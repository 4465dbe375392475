// ChooseAccel, the accel verdict and the KVM probe: --emulation against the
// KVM device the pod offers, and the probe's reading of a QEMU run.
#include "launcher/accel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vireo::launcher {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(AccelTest, OnForcesTcgWithoutLookingAtTheDevice) {
  auto choice = ChooseAccel(EmulationMode::kOn, "/nonexistent/kvm");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->emulation, Emulation::kTcg);
  EXPECT_EQ(choice->reason, "--emulation=on");
}

TEST(AccelTest, AutoFallsBackToTcgAndSaysWhy) {
  auto missing = ChooseAccel(EmulationMode::kAuto, "/nonexistent/kvm");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->emulation, Emulation::kTcg);
  EXPECT_THAT(missing->reason, HasSubstr("No such file or directory"));

  // A device that opens but is not KVM.
  auto not_kvm = ChooseAccel(EmulationMode::kAuto, "/dev/null");
  ASSERT_TRUE(not_kvm.ok());
  EXPECT_EQ(not_kvm->emulation, Emulation::kTcg);
  EXPECT_THAT(not_kvm->reason, HasSubstr("KVM_GET_API_VERSION"));
}

TEST(AccelTest, OffRequiresKvm) {
  auto choice = ChooseAccel(EmulationMode::kOff, "/nonexistent/kvm");
  ASSERT_FALSE(choice.ok());
  EXPECT_THAT(choice.status().message(), HasSubstr("--emulation=off needs KVM"));
}

TEST(AccelVerdictTest, RoundTripsOnOneLine) {
  const std::string text = FormatAccelVerdict({Emulation::kTcg, "no usable KVM:\nreally"});
  EXPECT_EQ(text, "tcg: no usable KVM: really\n");
  auto parsed = ParseAccelVerdict(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->emulation, Emulation::kTcg);
  EXPECT_EQ(parsed->reason, "no usable KVM: really");

  parsed = ParseAccelVerdict("kvm");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->emulation, Emulation::kKvm);
  EXPECT_EQ(parsed->reason, "");

  EXPECT_FALSE(ParseAccelVerdict("").ok());
  EXPECT_FALSE(ParseAccelVerdict("kvmx: fast").ok());
}

TEST(KvmProbeFirmwareTest, IsABiosImageThatJumpsToTheLoop) {
  const std::string rom = KvmProbeFirmware(20, 1'000'000);
  ASSERT_EQ(rom.size(), 65536u);
  // Reset vector F000:FFF0: jmp near to 0xff00 (0xff00 - 0xfff3 = 0xff0d).
  EXPECT_EQ(rom.substr(0xfff0, 3), std::string("\xe9\x0d\xff", 3));
  // mov dx, 0x3f8; mov al, 'S'; out dx, al; mov bx, 20; mov ecx, 1000000
  EXPECT_EQ(rom.substr(0xff00, 15),
            std::string("\xba\xf8\x03\xb0S\xee\xbb\x14\x00\x66\xb9\x40\x42\x0f\x00", 15));
}

KvmProbeConfig Config() {
  KvmProbeConfig config;
  config.chunks = 20;
  config.iterations_per_chunk = 1'000'000;
  config.start_limit = milliseconds(10'000);
  config.run_limit = milliseconds(1'000);
  return config;
}

TEST(KvmProbeProblemTest, TheEndMarkMeansUsable) {
  KvmProbeRun run;
  run.started = milliseconds(400);
  run.chunks_done = 20;
  run.ended = milliseconds(420);
  run.exit_status = 33;
  EXPECT_EQ(KvmProbeProblem(run, Config()), "");
}

TEST(KvmProbeProblemTest, ASlowLoopIsReportedWithItsProgress) {
  // What the project's machines show: ~1.4 million iterations a second.
  KvmProbeRun run;
  run.started = milliseconds(450);
  run.chunks_done = 1;
  run.killed = true;
  EXPECT_EQ(KvmProbeProblem(run, Config()),
            "KVM runs guests far too slowly: the probe guest did 1000000 of 20000000 loop "
            "iterations in 1000 ms (working KVM needs ~10 ms)");
}

TEST(KvmProbeProblemTest, NothingPrintedOrQemuFailing) {
  KvmProbeRun silent;
  silent.killed = true;
  EXPECT_EQ(KvmProbeProblem(silent, Config()),
            "the probe guest printed nothing under KVM within 10000 ms");

  // FACTS.md: -cpu host aborting on one of these machines.
  KvmProbeRun refused;
  refused.exit_status = 1;
  refused.stderr_tail = "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0";
  EXPECT_EQ(KvmProbeProblem(refused, Config()),
            "QEMU could not run a guest under KVM (exit status 1): qemu-system-x86_64: error: "
            "failed to set MSR 0x10a to 0x0");

  KvmProbeRun missing;
  missing.spawned = false;
  missing.spawn_error = "cannot run /nope: No such file or directory";
  EXPECT_THAT(KvmProbeProblem(missing, Config()), HasSubstr("/nope"));
}

TEST(KvmProbeCommandTest, BootsTheFirmwareWithTheHostCpuUnderKvm) {
  auto argv = KvmProbeCommand(Config(), "/state/kvm-probe.rom");
  const std::string joined = testing::PrintToString(argv);
  EXPECT_THAT(joined, HasSubstr("\"q35,accel=kvm\""));
  EXPECT_THAT(joined, HasSubstr("\"-cpu\", \"host\""));
  EXPECT_THAT(joined, HasSubstr("\"-bios\", \"/state/kvm-probe.rom\""));
  EXPECT_THAT(joined, HasSubstr("isa-debug-exit,iobase=0xf4"));
}

// The firmware itself, booted under TCG (which works everywhere QEMU is):
// the marks arrive and QEMU exits through isa-debug-exit. Skipped without
// QEMU.
TEST(KvmProbeRunTest, TheFirmwareRunsUnderTcg) {
  KvmProbeConfig config = Config();
  config.accel = "tcg";
  config.run_limit = milliseconds(10'000);  // TCG on a loaded test machine
  if (access(config.qemu.c_str(), X_OK) != 0) GTEST_SKIP() << config.qemu << " not installed";
  const std::string dir = testing::TempDir() + "/kvm-probe-test";
  std::filesystem::create_directories(dir);
  const std::string rom = dir + "/kvm-probe.rom";
  {
    FILE* f = std::fopen(rom.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string bytes = KvmProbeFirmware(config.chunks, config.iterations_per_chunk);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  KvmProbeRun run = RunKvmProbe(config, rom);
  EXPECT_EQ(KvmProbeProblem(run, config), "") << run.stderr_tail;
  EXPECT_EQ(run.chunks_done, 20);
  EXPECT_EQ(run.exit_status, 33);
  EXPECT_FALSE(run.killed);
  std::filesystem::remove_all(dir);
}

// QEMU refusing KVM (FACTS.md: -cpu host aborting on an MSR) is reported at
// once with its message, not waited for.
TEST(KvmProbeRunTest, QemuFailingIsReportedWithItsMessage) {
  const std::string fake = testing::TempDir() + "/fake-qemu.sh";
  {
    FILE* f = std::fopen(fake.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("#!/bin/sh\necho 'qemu-system-x86_64: error: failed to set MSR 0x10a' >&2\nexit 1\n",
               f);
    std::fclose(f);
  }
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  KvmProbeConfig config = Config();
  config.qemu = fake;
  const auto t0 = std::chrono::steady_clock::now();
  KvmProbeRun run = RunKvmProbe(config, "/nonexistent.rom");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_FALSE(run.killed);
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(KvmProbeProblem(run, config),
            "QEMU could not run a guest under KVM (exit status 1): qemu-system-x86_64: error: "
            "failed to set MSR 0x10a");
  std::remove(fake.c_str());
}

// off is KVM or nothing: a KVM the probe finds unusable fails the start with
// the probe's reason. Needs a /dev/kvm that opens (the fake QEMU does the rest).
TEST(AccelTest, OffFailsOnAKvmTheProbeRejects) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/kvm here";
  auto usable = ChooseAccel(EmulationMode::kOff, "/dev/kvm");
  if (!usable.ok()) GTEST_SKIP() << usable.status().message();
  const std::string dir = testing::TempDir();
  const std::string fake = dir + "/fake-qemu-off.sh";
  {
    FILE* f = std::fopen(fake.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("#!/bin/sh\necho 'qemu-system-x86_64: error: failed to set MSR 0x10a' >&2\nexit 1\n",
               f);
    std::fclose(f);
  }
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  KvmProbeConfig config = Config();
  config.qemu = fake;
  auto off = ChooseAccel(EmulationMode::kOff, "/dev/kvm", dir, config);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.status().code(), base::Code::kUnavailable);
  EXPECT_THAT(off.status().message(),
              HasSubstr("--emulation=off needs KVM, but /dev/kvm opens, but QEMU could not run a "
                        "guest under KVM (exit status 1)"));
  auto on_auto = ChooseAccel(EmulationMode::kAuto, "/dev/kvm", dir, config);
  ASSERT_TRUE(on_auto.ok());
  EXPECT_EQ(on_auto->emulation, Emulation::kTcg);
  std::remove(fake.c_str());
}

// A guest that never finishes is killed at the limit: the probe cannot hang.
TEST(KvmProbeRunTest, AGuestTooSlowIsKilledAtTheLimit) {
  KvmProbeConfig config = Config();
  config.accel = "tcg";
  config.iterations_per_chunk = 0xffffffff;  // minutes under TCG
  config.run_limit = milliseconds(300);
  if (access(config.qemu.c_str(), X_OK) != 0) GTEST_SKIP() << config.qemu << " not installed";
  const std::string rom = testing::TempDir() + "/kvm-probe-slow.rom";
  {
    FILE* f = std::fopen(rom.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string bytes = KvmProbeFirmware(config.chunks, config.iterations_per_chunk);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  const auto t0 = std::chrono::steady_clock::now();
  KvmProbeRun run = RunKvmProbe(config, rom);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(run.killed);
  EXPECT_TRUE(run.started.has_value());
  EXPECT_LT(took, config.start_limit + config.run_limit + std::chrono::seconds(2));
  EXPECT_THAT(KvmProbeProblem(run, config), HasSubstr("far too slowly"));
  std::remove(rom.c_str());
}

TEST(CopyToolsTest, CopiesTheBusyboxExecutableByAll) {
  const std::string dir = testing::TempDir() + "/copy-tools-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/tools");
  const std::string source = dir + "/busybox-in-image";
  { std::ofstream(source) << "#!/bin/sh\necho tool\n"; }
  chmod(source.c_str(), 0700);
  ASSERT_TRUE(CopyTools(source, dir + "/tools").ok());
  struct stat st {};
  ASSERT_EQ(stat((dir + "/tools/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  std::ifstream copied(dir + "/tools/busybox");
  std::string text((std::istreambuf_iterator<char>(copied)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "#!/bin/sh\necho tool\n");
  // Again over the first copy (a restarted init container), then failures.
  EXPECT_TRUE(CopyTools(source, dir + "/tools").ok());
  base::Status missing = CopyTools(dir + "/absent", dir + "/tools");
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), ::testing::HasSubstr(dir + "/absent"));
  EXPECT_FALSE(CopyTools(source, dir + "/no-such-dir").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vireo::launcher
