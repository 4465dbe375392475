// The launcher pod contract's names: the emulation modes both programs parse
// and the exit codes' names. That a rendered pod is one the launcher accepts
// is tests/contract/.
#include "lib/api/launcher_pod.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace vireo::api::launcher_pod {
namespace {

TEST(LauncherPodContract, EmulationModeNamesRoundTrip) {
  for (EmulationMode mode : {EmulationMode::kAuto, EmulationMode::kOn, EmulationMode::kOff}) {
    EXPECT_EQ(ParseEmulationMode(EmulationModeName(mode)), mode);
  }
  EXPECT_EQ(std::string(EmulationModeName(EmulationMode::kOn)), "on");
  EXPECT_EQ(ParseEmulationMode("kvm"), std::nullopt);
  EXPECT_EQ(ParseEmulationMode("AUTO"), std::nullopt);
  EXPECT_EQ(ParseEmulationMode(""), std::nullopt);
}

TEST(LauncherPodContract, ExitCodesHaveDistinctNames) {
  std::set<std::string> names;
  for (int code = kExitGuestPoweredOff; code <= kExitTerminatedBeforeStart; ++code) {
    const std::string name = ExitCodeName(code);
    EXPECT_NE(name, "unknown") << code;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(std::string(ExitCodeName(kExitGuestPoweredOff)), "guest-powered-off");
  EXPECT_EQ(std::string(ExitCodeName(kExitGraceExpired)), "grace-period-expired");
  EXPECT_EQ(std::string(ExitCodeName(42)), "unknown");
}

TEST(LauncherPodContract, PathsJoinAsTheDocSaysThem) {
  EXPECT_EQ(std::string(kVmiDir) + "/" + kVmiFileName, kVmiFile);
  for (const char* dir : {kVmiDir, kStateDir, kVolumesDir, kBlockDir, kContainerDisksDir,
                          kCloudInitSecretsDir, kToolsDir, kCapabilitiesCacheDir}) {
    const std::string path(dir);
    EXPECT_EQ(path.front(), '/') << path;
    EXPECT_NE(path.back(), '/') << path;
  }
}

}  // namespace
}  // namespace vireo::api::launcher_pod
