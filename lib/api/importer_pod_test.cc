// T0: the disk sizing rule of the importer pod contract.
#include "lib/api/importer_pod.h"

#include <gtest/gtest.h>

namespace vireo::api::importer {
namespace {

constexpr int64_t kMiB = 1LL << 20;
constexpr int64_t kGiB = 1LL << 30;

TEST(DiskImageBytesTest, ReservesTheOverheadInWholeMiB) {
  EXPECT_EQ(DiskImageBytes(kGiB), 967 * kMiB);  // 1024 MiB × 0.945 = 967.68
  EXPECT_EQ(DiskImageBytes(10 * kGiB), 9676 * kMiB);
  EXPECT_EQ(DiskImageBytes(0), 0);
  EXPECT_EQ(DiskImageBytes(-5), 0);
}

TEST(ClaimBytesForDiskTest, MakesRoomForTheOverheadSoTheDiskGetsItsSize) {
  for (int64_t disk : {kGiB, 2 * kGiB, 10 * kGiB, 5 * kMiB, 3 * kGiB + 7}) {
    const int64_t claim = ClaimBytesForDisk(disk);
    EXPECT_EQ(claim % kMiB, 0);
    EXPECT_GE(DiskImageBytes(claim), disk) << disk;
    EXPECT_LT(DiskImageBytes(claim - kMiB), disk) << disk;  // and no larger than needed
  }
}

TEST(BlankDiskBytesTest, TakesTheClaimsSizeWhenTheVolumeHasRoom) {
  EXPECT_EQ(BlankDiskBytes(kGiB, 500 * kGiB), 967 * kMiB);
}

TEST(BlankDiskBytesTest, ShrinksWithinTheToleration) {
  EXPECT_EQ(BlankDiskBytes(kGiB, 900 * kMiB + 123), 900 * kMiB);
}

TEST(BlankDiskBytesTest, RefusesAVolumeTooSmall) {
  EXPECT_EQ(BlankDiskBytes(kGiB, 800 * kMiB), std::nullopt);
  EXPECT_EQ(BlankDiskBytes(kMiB / 2, 500 * kGiB), std::nullopt);
}

TEST(BlankDiskBytesTest, UsesTheFreeSpaceWhenTheClaimSizeIsUnknown) {
  EXPECT_EQ(BlankDiskBytes(std::nullopt, 3 * kGiB + 7), 3 * kGiB);
  EXPECT_EQ(BlankDiskBytes(std::nullopt, kMiB - 1), std::nullopt);
}

TEST(ExitCodeTest, OnlyUnreachableAndUnknownFailuresAreRetriedAsTransient) {
  EXPECT_TRUE(IsTransient(kSourceUnreachable));
  EXPECT_TRUE(IsTransient(kFailed));
  EXPECT_FALSE(IsTransient(kSourceNotFound));
  EXPECT_FALSE(IsTransient(kTooLarge));
  EXPECT_EQ(ReasonForExitCode(kInvalidImage), "ImportInvalidImage");
  EXPECT_EQ(ReasonForExitCode(77), "ImportFailed");
}

}  // namespace
}  // namespace vireo::api::importer
