// Tests for image.h against the real qemu-img.
#include "launcher/storage/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "launcher/storage/test_util.h"

namespace vireo::launcher {
namespace {

using base::Status;
using storage_testing::RunTool;
using storage_testing::TempDir;
using storage_testing::WriteFile;
using ::testing::HasSubstr;

TEST(DetectImageFormat, ReadsTheHeader) {
  TempDir dir;
  WriteFile(dir / "raw.img", std::string(4096, 'x'));
  WriteFile(dir / "empty.img", "");
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", dir / "q.qcow2", "1M"});
  EXPECT_EQ(*DetectImageFormat(dir / "raw.img"), DiskFormat::kRaw);
  EXPECT_EQ(*DetectImageFormat(dir / "empty.img"), DiskFormat::kRaw);
  EXPECT_EQ(*DetectImageFormat(dir / "q.qcow2"), DiskFormat::kQcow2);
}

TEST(DetectImageFormat, MissingFileIsNotFound) {
  TempDir dir;
  auto format = DetectImageFormat(dir / "nope.img");
  ASSERT_FALSE(format.ok());
  EXPECT_EQ(format.status().code(), base::Code::kNotFound);
  EXPECT_THAT(format.status().message(), HasSubstr(dir / "nope.img"));
}

TEST(QueryImage, ReportsSizeAndBacking) {
  TempDir dir;
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", dir / "base.qcow2", "3M"});
  ASSERT_TRUE(
      CreateOverlay("qemu-img", dir / "top.qcow2", dir / "base.qcow2", DiskFormat::kQcow2).ok());
  auto info = QueryImage("qemu-img", dir / "top.qcow2", DiskFormat::kQcow2);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->virtual_size, 3 * 1024 * 1024);
  EXPECT_EQ(info->backing_file, dir / "base.qcow2");
}

TEST(CheckImage, AcceptsAHealthyQcow2AndAnyRaw) {
  TempDir dir;
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", dir / "ok.qcow2", "1M"});
  WriteFile(dir / "raw.img", "anything");
  EXPECT_TRUE(CheckImage("qemu-img", dir / "ok.qcow2", DiskFormat::kQcow2).ok());
  EXPECT_TRUE(CheckImage("qemu-img", dir / "raw.img", DiskFormat::kRaw).ok());
}

TEST(CheckImage, RefusesACorruptQcow2NamingThePath) {
  TempDir dir;
  const std::string path = dir / "bad.qcow2";
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", path, "1M"});
  // Point the refcount table (header bytes 48..55) at an unaligned offset.
  std::string bytes = storage_testing::ReadFile(path);
  ASSERT_GT(bytes.size(), 56u);
  bytes.replace(48, 8, std::string("\0\0\0\0\0\0\x01\x23", 8));
  WriteFile(path, bytes);
  Status status = CheckImage("qemu-img", path, DiskFormat::kQcow2);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), base::Code::kInvalid);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("corrupt"));
}

TEST(CreateOverlay, ReplacesAnOldOverlayAndLeavesTheBackingAlone) {
  TempDir dir;
  RunTool({"qemu-img", "create", "-q", "-f", "raw", dir / "base.img", "1M"});
  RunTool({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 4k", dir / "base.img"});
  const std::string before = storage_testing::ReadFile(dir / "base.img");
  const std::string overlay = dir / "top.qcow2";
  ASSERT_TRUE(CreateOverlay("qemu-img", overlay, dir / "base.img", DiskFormat::kRaw).ok());
  RunTool({"qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 4k", overlay});
  EXPECT_EQ(storage_testing::ReadFile(dir / "base.img"), before);
  // A new overlay shows the backing's bytes again, not the earlier write.
  ASSERT_TRUE(CreateOverlay("qemu-img", overlay, dir / "base.img", DiskFormat::kRaw).ok());
  RunTool({"qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 4k", overlay});
}

TEST(CreateOverlay, FailsWithQemuImgsReasonWhenTheBackingIsMissing) {
  TempDir dir;
  Status status = CreateOverlay("qemu-img", dir / "top.qcow2", dir / "gone.img", DiskFormat::kRaw);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(dir / "gone.img"));
}

TEST(CreateSparseImage, RawIsSparseAndExactlySized) {
  TempDir dir;
  const std::string path = dir / "disk.img";
  ASSERT_TRUE(CreateSparseImage("qemu-img", path, DiskFormat::kRaw, 64 << 20).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "not sparse";
  // Never clobbers an existing disk.
  EXPECT_FALSE(CreateSparseImage("qemu-img", path, DiskFormat::kRaw, 1 << 20).ok());
}

TEST(CreateSparseImage, Qcow2HasTheVirtualSize) {
  TempDir dir;
  ASSERT_TRUE(CreateSparseImage("qemu-img", dir / "e.qcow2", DiskFormat::kQcow2, 5 << 20).ok());
  auto info = QueryImage("qemu-img", dir / "e.qcow2", DiskFormat::kQcow2);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->virtual_size, 5 << 20);
}

TEST(CreateSparseImage, RefusesSizesThatAreNotSectorMultiples) {
  TempDir dir;
  EXPECT_EQ(CreateSparseImage("qemu-img", dir / "x", DiskFormat::kRaw, 1000).code(),
            base::Code::kInvalid);
  EXPECT_EQ(CreateSparseImage("qemu-img", dir / "x", DiskFormat::kRaw, 0).code(),
            base::Code::kInvalid);
}

TEST(RunProcess, MissingToolIsNotFound) {
  auto result = storage_internal::RunProcess({"/nonexistent/qemu-img", "info"});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), base::Code::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("/nonexistent/qemu-img"));
}

}  // namespace
}  // namespace vireo::launcher
