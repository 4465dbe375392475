// ChooseAccel: --emulation against the KVM device the pod offers.
#include "launcher/accel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::launcher {
namespace {

using ::testing::HasSubstr;

TEST(AccelTest, OnForcesTcgWithoutLookingAtTheDevice) {
  auto choice = ChooseAccel(EmulationFlag::kOn, "/nonexistent/kvm");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->emulation, Emulation::kTcg);
  EXPECT_EQ(choice->reason, "--emulation=on");
}

TEST(AccelTest, AutoFallsBackToTcgAndSaysWhy) {
  auto missing = ChooseAccel(EmulationFlag::kAuto, "/nonexistent/kvm");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->emulation, Emulation::kTcg);
  EXPECT_THAT(missing->reason, HasSubstr("No such file or directory"));

  // A device that opens but is not KVM.
  auto not_kvm = ChooseAccel(EmulationFlag::kAuto, "/dev/null");
  ASSERT_TRUE(not_kvm.ok());
  EXPECT_EQ(not_kvm->emulation, Emulation::kTcg);
  EXPECT_THAT(not_kvm->reason, HasSubstr("KVM_GET_API_VERSION"));
}

TEST(AccelTest, OffRequiresKvm) {
  auto choice = ChooseAccel(EmulationFlag::kOff, "/nonexistent/kvm");
  ASSERT_FALSE(choice.ok());
  EXPECT_THAT(choice.status().message(), HasSubstr("--emulation=off needs KVM"));
}

}  // namespace
}  // namespace vireo::launcher
