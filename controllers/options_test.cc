// T0: vireo-controller's flag parsing, defaults, environment fallbacks and
// the messages of bad flags.
#include "controllers/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using ::testing::HasSubstr;

base::Result<Options> Parse(std::vector<std::string> args, Environment env = {}) {
  return ParseOptions(args, env);
}

TEST(OptionsTest, Defaults) {
  auto o = Parse({}, {{"POD_NAME", "ctl-0"}});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kubeconfig, "");
  EXPECT_EQ(o->namespace_name, "");
  EXPECT_EQ(o->emulation, EmulationMode::kAuto);
  EXPECT_FALSE(o->kvm_resource_offered);
  EXPECT_EQ(o->workers, 16);
  EXPECT_EQ(o->import_retry_delay, std::chrono::seconds(10));
  EXPECT_FALSE(o->leader_elect);
  EXPECT_EQ(o->lease_name, "vireo-controller");
  EXPECT_EQ(o->identity, "ctl-0");
  EXPECT_EQ(o->metrics.ToString(), "0.0.0.0:8080");
  EXPECT_EQ(o->health.ToString(), "0.0.0.0:8081");
  EXPECT_EQ(o->log_level, base::LogLevel::kInfo);
  EXPECT_THAT(o->launcher_image, HasSubstr("vireo-launcher:"));
  EXPECT_FALSE(o->help);
}

TEST(OptionsTest, EveryFlagInBothForms) {
  auto o = Parse({"--kubeconfig=/k", "--namespace", "ns1", "--launcher-image=reg/l:1",
                  "--emulation", "on", "--workers=7", "--leader-elect",
                  "--leader-elect-namespace=sys", "--leader-elect-name", "lease",
                  "--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s",
                  "--leader-elect-retry-period=300ms", "--metrics-bind-address=127.0.0.1:9000",
                  "--health-probe-bind-address", "0", "--log-level=debug", "--context=c"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kubeconfig, "/k");
  EXPECT_EQ(o->context, "c");
  EXPECT_EQ(o->namespace_name, "ns1");
  EXPECT_EQ(o->launcher_image, "reg/l:1");
  EXPECT_EQ(o->emulation, EmulationMode::kOn);
  EXPECT_EQ(o->workers, 7);
  EXPECT_TRUE(o->leader_elect);
  EXPECT_EQ(o->lease_namespace, "sys");
  EXPECT_EQ(o->lease_name, "lease");
  EXPECT_EQ(o->lease_duration, std::chrono::seconds(3));
  EXPECT_EQ(o->renew_deadline, std::chrono::seconds(2));
  EXPECT_EQ(o->retry_period, std::chrono::milliseconds(300));
  EXPECT_EQ(o->metrics.host, "127.0.0.1");
  EXPECT_EQ(o->metrics.port, 9000);
  EXPECT_FALSE(o->health.enabled);
  EXPECT_EQ(o->log_level, base::LogLevel::kDebug);
}

TEST(OptionsTest, EnvironmentFallbacks) {
  auto o = Parse({}, {{"VIREO_LAUNCHER_IMAGE", "x/launcher:2"}, {"POD_NAMESPACE", "vireo"}});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->launcher_image, "x/launcher:2");
  EXPECT_EQ(o->lease_namespace, "vireo");
  // Without POD_NAME: the hostname and a suffix that tells two replicas apart.
  auto other = Parse({});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(o->identity, other->identity);
  // Flags win over the environment.
  auto flag = Parse({"--launcher-image=y:3"}, {{"VIREO_LAUNCHER_IMAGE", "x/launcher:2"}});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->launcher_image, "y:3");
}

TEST(OptionsTest, ImportRetryDelay) {
  EXPECT_EQ(Parse({"--import-retry-delay=2s"})->import_retry_delay, std::chrono::seconds(2));
  EXPECT_EQ(Parse({"--import-retry-delay", "1m"})->import_retry_delay, std::chrono::seconds(60));
}

// What the chart passes: --kvm-resource-offered=true|false; bare means true.
TEST(OptionsTest, KvmResourceOffered) {
  EXPECT_TRUE(Parse({"--kvm-resource-offered"})->kvm_resource_offered);
  EXPECT_TRUE(Parse({"--kvm-resource-offered=true"})->kvm_resource_offered);
  EXPECT_FALSE(Parse({"--kvm-resource-offered=false"})->kvm_resource_offered);
  EXPECT_FALSE(Parse({"--kvm-resource-offered=maybe"}).ok());
}

TEST(OptionsTest, LauncherSeccompProfile) {
  EXPECT_EQ(Parse({})->launcher_seccomp_profile, "");
  EXPECT_EQ(Parse({"--launcher-seccomp-profile=vireo/launcher.json"})->launcher_seccomp_profile,
            "vireo/launcher.json");
  EXPECT_EQ(Parse({"--launcher-seccomp-profile", "x..y.json"})->launcher_seccomp_profile,
            "x..y.json");
}

TEST(OptionsTest, LauncherMemoryOverheadMargin) {
  EXPECT_EQ(Parse({})->launcher_memory_overhead_margin, MemoryOverhead{}.margin_bytes);
  EXPECT_EQ(Parse({"--launcher-memory-overhead-margin=64Mi"})->launcher_memory_overhead_margin,
            64LL << 20);
  EXPECT_EQ(Parse({"--launcher-memory-overhead-margin", "0"})->launcher_memory_overhead_margin, 0);
}

TEST(OptionsTest, HelpNamesEveryFlag) {
  auto o = Parse({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_TRUE(Parse({"-h"})->help);
  std::string help = HelpText();
  for (const char* flag :
       {"--kubeconfig", "--namespace", "--launcher-image", "--emulation", "--kvm-resource-offered",
        "--workers", "--import-retry-delay", "--leader-elect", "--leader-elect-namespace",
        "--leader-elect-name", "--leader-elect-lease-duration", "--leader-elect-renew-deadline",
        "--leader-elect-retry-period", "--metrics-bind-address", "--health-probe-bind-address",
        "--log-level", "--context", "--launcher-seccomp-profile",
        "--launcher-memory-overhead-margin"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
}

TEST(OptionsTest, BadFlagsSayWhatIsWrong) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--frobnicate"}, "unknown flag --frobnicate"},
           {{"extra"}, "unexpected argument \"extra\""},
           {{"--emulation=kvm"}, "--emulation=kvm: expected auto, on or off"},
           {{"--workers=0"}, "--workers=0: expected a whole number from 1 to 64"},
           {{"--workers=two"}, "--workers=two"},
           {{"--import-retry-delay=500ms"}, "expected whole seconds, at least 1s"},
           {{"--import-retry-delay=1500ms"}, "expected whole seconds, at least 1s"},
           {{"--leader-elect=maybe"}, "expected true or false"},
           {{"--log-level=loud"}, "expected debug, info, warn or error"},
           {{"--metrics-bind-address=8080"}, "is not host:port"},
           {{"--metrics-bind-address=:99999"}, "no port from 1 to 65535"},
           {{"--leader-elect-lease-duration=soon"}, "expected a positive duration"},
           {{"--kubeconfig"}, "--kubeconfig needs a value"},
           {{"--launcher-image="}, "expected a value"},
           {{"--launcher-seccomp-profile=/var/lib/kubelet/seccomp/l.json"},
            "expected a path relative to the kubelet's seccomp directory"},
           {{"--launcher-seccomp-profile=vireo/../../etc/l.json"}, "without \"..\""},
           {{"--launcher-seccomp-profile=.."}, "without \"..\""},
           {{"--launcher-seccomp-profile="}, "such as vireo/launcher.json"},
           {{"--launcher-memory-overhead-margin=lots"}, "expected a memory quantity"},
           {{"--launcher-memory-overhead-margin=-1Mi"}, "from 0 to 1Ti"},
           {{"--launcher-memory-overhead-margin=2Ti"}, "from 0 to 1Ti"},
           {{"--leader-elect", "--leader-elect-renew-deadline=20s"},
            "--leader-elect-renew-deadline < --leader-elect-lease-duration"},
           {{"--metrics-bind-address=:9000", "--health-probe-bind-address=127.0.0.1:9000"},
            "the same port 9000"},
       }) {
    auto o = Parse(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_EQ(o.status().code(), base::Code::kInvalid);
    EXPECT_THAT(o.status().message(), HasSubstr(c.message));
  }
}

// The shared parser (lib/base/flags.h) keeps what Go's flag package taught
// people: -flag=value, and the shared duration parser's sums.
TEST(OptionsTest, SingleDashAndSummedDurations) {
  auto o = Parse({"-workers=3", "-leader-elect", "-leader-elect-lease-duration", "1m30s"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->workers, 3);
  EXPECT_TRUE(o->leader_elect);
  EXPECT_EQ(o->lease_duration, std::chrono::seconds(90));
  EXPECT_EQ(Parse({"--import-retry-delay=1m30s"})->import_retry_delay, std::chrono::seconds(90));
  auto unknown = Parse({"-frob"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("unknown flag -frob (see vireo-controller --help)"));
}

TEST(OptionsTest, DurationsAndAddresses) {
  EXPECT_EQ(*ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*ParseDuration("15"), std::chrono::seconds(15));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(*ParseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_FALSE(ParseDuration("1d").ok());
  EXPECT_FALSE(ParseDuration("").ok());

  auto all = ParseBindAddress(":8080");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->enabled);
  EXPECT_EQ(all->host, "");
  auto v6 = ParseBindAddress("[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:8443");
  auto off = ParseBindAddress("0");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled);
  EXPECT_EQ(off->ToString(), "0");
}

}  // namespace
}  // namespace vireo::controllers
