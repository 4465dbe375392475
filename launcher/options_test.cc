// vireo-launcher's command line: subcommands, flags, defaults under a root,
// and errors that name the flag.
#include "launcher/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::launcher {
namespace {

using ::testing::HasSubstr;

TEST(OptionsTest, RunWithThePodFlags) {
  auto options = ParseOptions({"run", "--vmi", "/v.json", "--state-dir=/s", "--emulation=on",
                               "--grace-period-seconds", "45"},
                              {});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->subcommand, Subcommand::kRun);
  EXPECT_EQ(options->vmi_file, "/v.json");
  EXPECT_EQ(options->state_dir, "/s");
  EXPECT_EQ(options->emulation, EmulationMode::kOn);
  EXPECT_EQ(options->grace_period_seconds, 45);
  EXPECT_TRUE(options->libvirt_uri.empty());
}

TEST(OptionsTest, GracePeriodUnboundedLeavesTheDeadlineToTheKubelet) {
  auto options = ParseOptions({"run", "--grace-period-seconds=unbounded"}, {});
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->grace_period_seconds, kGraceUnbounded);
  EXPECT_FALSE(ParseOptions({"run", "--grace-period-seconds=forever"}, {}).ok());
}

TEST(OptionsTest, DefaultsFollowTheRootFromFlagOrEnvironment) {
  auto from_env = ParseOptions({"run"}, {{"VIREO_ROOT", "/tmp/r"}});
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->vmi_file, "/tmp/r/var/run/vireo/vmi/vmi.json");
  EXPECT_EQ(from_env->state_dir, "/tmp/r/var/run/vireo/state");
  EXPECT_EQ(from_env->emulation, EmulationMode::kAuto);
  EXPECT_EQ(from_env->grace_period_seconds, 30);

  auto from_flag = ParseOptions({"probe", "--root", "/tmp/q"}, {{"VIREO_ROOT", "/tmp/r"}});
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->state_dir, "/tmp/q/var/run/vireo/state");
}

TEST(OptionsTest, HelpAfterASubcommand) {
  for (const char* flag : {"--help", "-h"}) {
    auto help = ParseOptions({"run", flag}, {});
    ASSERT_TRUE(help.ok()) << flag;
    EXPECT_EQ(help->subcommand, Subcommand::kRun);
    EXPECT_TRUE(help->help);
  }
}

TEST(OptionsTest, BooleanAndImportFlags) {
  EXPECT_FALSE(ParseOptions({"warm-cache", "--without-kvm=false"}, {})->without_kvm);
  EXPECT_THAT(ParseOptions({"warm-cache", "--without-kvm=maybe"}, {}).status().message(),
              HasSubstr("warm-cache: flag --without-kvm=maybe: expected true or false"));
  auto import = ParseOptions(
      {"import", "--source=http", "--url", "http://h/d.img", "--claim-bytes=1048576"}, {});
  ASSERT_TRUE(import.ok()) << import.status().ToString();
  EXPECT_EQ(import->claim_bytes, 1048576);
  EXPECT_THAT(ParseOptions({"import", "--source=blank", "--claim-bytes=0"}, {}).status().message(),
              HasSubstr("--claim-bytes: expected a positive number of bytes, got \"0\""));
  EXPECT_THAT(ParseOptions({"console", "--wait-seconds=soon"}, {}).status().message(),
              HasSubstr("--wait-seconds: expected a whole number of seconds >= 0, got \"soon\""));
}

TEST(OptionsTest, VncAndForward) {
  auto vnc = ParseOptions({"vnc", "--state-dir", "/s"}, {});
  ASSERT_TRUE(vnc.ok()) << vnc.status().ToString();
  EXPECT_EQ(vnc->subcommand, Subcommand::kVnc);
  EXPECT_EQ(vnc->state_dir, "/s");

  auto forward = ParseOptions({"forward", "--port=22"}, {});
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  EXPECT_EQ(forward->subcommand, Subcommand::kForward);
  EXPECT_EQ(forward->port, 22);
  EXPECT_THAT(ParseOptions({"forward"}, {}).status().message(),
              HasSubstr("forward: --port is required"));
  EXPECT_THAT(ParseOptions({"forward", "--port=65536"}, {}).status().message(),
              HasSubstr("--port: expected a TCP port 1-65535, got \"65536\""));
  EXPECT_THAT(ParseOptions({"forward", "--port=0"}, {}).status().message(),
              HasSubstr("expected a TCP port 1-65535"));
  // forward reaches a port only: the console's flags are refused by name.
  EXPECT_THAT(ParseOptions({"forward", "--port=22", "--wait-seconds=1"}, {}).status().message(),
              HasSubstr("wait-seconds"));
}

TEST(OptionsTest, ConsoleAndWarmCache) {
  auto console = ParseOptions({"console", "--state-dir", "/s", "--wait-seconds=5"}, {});
  ASSERT_TRUE(console.ok());
  EXPECT_EQ(console->subcommand, Subcommand::kConsole);
  EXPECT_EQ(console->wait_seconds, 5);

  auto warm = ParseOptions({"warm-cache", "--without-kvm", "--out", "/o"}, {});
  ASSERT_TRUE(warm.ok());
  EXPECT_TRUE(warm->without_kvm);
  EXPECT_EQ(warm->out_dir, "/o");
}

// The launcher pod's init container (controllers/reconcile/launcher_pod.cc).
TEST(OptionsTest, AccelProbe) {
  auto probe = ParseOptions({"accel-probe", "--state-dir", "/var/run/vireo/state"}, {});
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->subcommand, Subcommand::kAccelProbe);
  EXPECT_EQ(probe->state_dir, "/var/run/vireo/state");
  EXPECT_EQ(probe->termination_log, "/dev/termination-log");
  auto elsewhere =
      ParseOptions({"accel-probe", "--termination-log=/tmp/t"}, {{"VIREO_ROOT", "/r"}});
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere->termination_log, "/tmp/t");
  EXPECT_EQ(elsewhere->state_dir, "/r/var/run/vireo/state");
  EXPECT_FALSE(ParseOptions({"accel-probe", "--emulation=on"}, {}).ok());
  EXPECT_THAT(HelpText(Subcommand::kAccelProbe), HasSubstr("--termination-log"));
  EXPECT_THAT(HelpText(Subcommand::kHelp), HasSubstr("accel-probe"));
}

// The launcher container's postStart hook, and run knowing of it.
TEST(OptionsTest, WaitRunningAndThePostStartHook) {
  auto hook = ParseOptions({"wait-running", "--wait-seconds", "60"}, {{"VIREO_ROOT", "/r"}});
  ASSERT_TRUE(hook.ok()) << hook.status().ToString();
  EXPECT_EQ(hook->subcommand, Subcommand::kWaitRunning);
  EXPECT_EQ(hook->wait_seconds, 60);
  EXPECT_EQ(hook->state_dir, "/r/var/run/vireo/state");
  EXPECT_THAT(ParseOptions({"wait-running", "--wait-seconds", "soon"}, {}).status().message(),
              HasSubstr("--wait-seconds"));
  EXPECT_FALSE(ParseOptions({"wait-running", "--post-start-hook"}, {}).ok());
  EXPECT_FALSE(ParseOptions({"run"}, {})->post_start_hook);
  EXPECT_TRUE(ParseOptions({"run", "--post-start-hook"}, {})->post_start_hook);
  EXPECT_THAT(HelpText(Subcommand::kWaitRunning), HasSubstr("exits 0 in every case"));
  EXPECT_THAT(HelpText(Subcommand::kHelp), HasSubstr("wait-running"));
}

TEST(OptionsTest, HelpAnywhere) {
  EXPECT_EQ(ParseOptions({}, {})->subcommand, Subcommand::kHelp);
  auto sub = ParseOptions({"run", "--help"}, {});
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(sub->help);
  EXPECT_THAT(HelpText(Subcommand::kRun), HasSubstr("--grace-period-seconds"));
  EXPECT_THAT(HelpText(Subcommand::kHelp), HasSubstr("console"));
}

TEST(OptionsTest, ErrorsNameTheProblem) {
  EXPECT_THAT(ParseOptions({"launch"}, {}).status().message(), HasSubstr("unknown subcommand"));
  EXPECT_THAT(ParseOptions({"run", "--emulation=maybe"}, {}).status().message(),
              HasSubstr("--emulation: expected auto, on or off"));
  EXPECT_THAT(ParseOptions({"run", "--grace-period-seconds", "-1"}, {}).status().message(),
              HasSubstr("--grace-period-seconds"));
  EXPECT_THAT(ParseOptions({"run", "--vmi"}, {}).status().message(),
              HasSubstr("run: flag --vmi needs a value (see run --help)"));
  // A flag of another subcommand is refused, not silently ignored.
  EXPECT_THAT(ParseOptions({"probe", "--vmi", "x"}, {}).status().message(),
              HasSubstr("unknown flag --vmi"));
  EXPECT_THAT(ParseOptions({"run", "stray"}, {}).status().message(),
              HasSubstr("unexpected argument"));
}

}  // namespace
}  // namespace vireo::launcher
