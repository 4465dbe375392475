// Tests for volume preparation on temp-dir pod layouts, with real qemu-img,
// qemu-io and xorriso. Volume sizes come from small tmpfs mounts (root only).
#include "launcher/storage/volumes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "launcher/storage/image.h"
#include "launcher/storage/test_util.h"

namespace vireo::launcher {
namespace {

using base::Code;
using storage_testing::ReadFile;
using storage_testing::RunTool;
using storage_testing::TempDir;
using storage_testing::WriteFile;
using ::testing::HasSubstr;

constexpr int64_t kMiB = 1024 * 1024;

class VolumesTest : public ::testing::Test {
 protected:
  VolumesTest() {
    layout_.volumes_dir = dir_ / "volumes";
    layout_.block_dir = dir_ / "dev";
    layout_.container_disks_dir = dir_ / "container-disks";
    layout_.state_dir = dir_ / "state";
  }
  ~VolumesTest() override {
    for (const std::string& mount : mounts_) ::umount2(mount.c_str(), MNT_DETACH);
  }

  // A PVC directory that is a tmpfs of `size`, so its capacity is known.
  // false (and the test skips) when mounting is not allowed.
  bool MountVolume(const std::string& volume, const std::string& size, bool read_only = false) {
    const std::string path = layout_.volumes_dir + "/" + volume;
    std::filesystem::create_directories(path);
    const std::string options = "size=" + size;
    if (::mount("tmpfs", path.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, options.c_str()) != 0) {
      skip_reason_ = std::string("cannot mount a tmpfs (") + std::strerror(errno) + "), needs root";
      return false;
    }
    mounts_.push_back(path);
    return true;
  }

  TempDir dir_;
  StorageLayout layout_;
  std::vector<std::string> mounts_;
  std::string skip_reason_;
};

TEST_F(VolumesTest, PvcCreatesSparseRawDiskImgFromTheVolumesSpace) {
  if (!MountVolume("data", "8m")) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  const std::string image = layout_.volumes_dir + "/data/disk.img";
  EXPECT_EQ(source->path, image);
  EXPECT_EQ(source->format, DiskFormat::kRaw);
  EXPECT_FALSE(source->block);
  EXPECT_FALSE(source->readonly);
  struct stat st {};
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8 * kMiB);  // an empty tmpfs has all of its size free
  EXPECT_EQ(st.st_blocks, 0) << "disk.img should be sparse";
  // Prepared again, the same image is used, data intact.
  RunTool({"qemu-io", "-f", "raw", "-c", "write -P 0x42 0 4k", image});
  ASSERT_TRUE(PreparePvcVolume("data", false, std::nullopt, layout_).ok());
  RunTool({"qemu-io", "-f", "raw", "-c", "read -P 0x42 0 4k", image});
}

TEST_F(VolumesTest, PvcRefusesWhenThereIsNoSpace) {
  if (!MountVolume("tiny", "512k")) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("tiny", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("no space to create"));
  EXPECT_THAT(source.status().message(), HasSubstr("tiny/disk.img"));
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST_F(VolumesTest, PvcOfAKnownClaimSizeGetsTheClaimLessOverheadNotTheFreeSpace) {
  // A provisioner handing out host directories: far more free than claimed.
  if (!MountVolume("data", "64m")) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("data", false, 16 * kMiB, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  // 16 MiB × 0.945 = 15.12 MiB, whole MiB.
  EXPECT_EQ(FileSize(layout_.volumes_dir + "/data/disk.img"), 15 * kMiB);
}

TEST_F(VolumesTest, PvcALittleSmallerThanItsClaimIsToleratedAndFilled) {
  // 17 MiB claim → 16 MiB wanted; 15 MiB free is within 10% less.
  if (!MountVolume("data", "15m")) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("data", false, 17 * kMiB, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(FileSize(layout_.volumes_dir + "/data/disk.img"), 15 * kMiB);
}

TEST_F(VolumesTest, PvcMuchSmallerThanItsClaimIsRefused) {
  if (!MountVolume("data", "8m")) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("data", false, 17 * kMiB, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("too small"));
  EXPECT_THAT(source.status().message(), HasSubstr("16777216 bytes"));  // what it wanted
  EXPECT_EQ(FileSize(layout_.volumes_dir + "/data/disk.img"), -1);
}

TEST_F(VolumesTest, PvcThatIsNotWritableSaysSo) {
  if (!MountVolume("data", "8m", /*read_only=*/true)) GTEST_SKIP() << skip_reason_;
  auto source = PreparePvcVolume("data", false, 4 * kMiB, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("not writable"));
  EXPECT_THAT(source.status().message(), HasSubstr("data/disk.img"));
}

TEST_F(VolumesTest, PvcRefusesADiskImgLargerThanTheVolume) {
  if (!MountVolume("data", "4m")) GTEST_SKIP() << skip_reason_;
  const std::string image = layout_.volumes_dir + "/data/disk.img";
  WriteFile(image, "");
  ASSERT_EQ(::truncate(image.c_str(), 6 * kMiB), 0);  // sparse: fits, but could not be filled
  auto source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("larger than its volume"));
  EXPECT_THAT(source.status().message(), HasSubstr(image));
}

TEST_F(VolumesTest, PvcUsesAnExistingQcow2AndRefusesACorruptOne) {
  const std::string image = layout_.volumes_dir + "/data/disk.img";
  std::filesystem::create_directories(layout_.volumes_dir + "/data");
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", image, "16M"});
  auto source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(source->format, DiskFormat::kQcow2);

  std::string bytes = ReadFile(image);
  bytes.replace(48, 8, std::string("\0\0\0\0\0\0\x01\x23", 8));  // refcount table offset
  WriteFile(image, bytes);
  source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("corrupt"));
  EXPECT_THAT(source.status().message(), HasSubstr(image));
}

TEST_F(VolumesTest, PvcRefusesAQcow2WithABackingFile) {
  std::filesystem::create_directories(layout_.volumes_dir + "/data");
  RunTool({"qemu-img", "create", "-q", "-f", "raw", dir_ / "base.img", "1M"});
  const std::string image = layout_.volumes_dir + "/data/disk.img";
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", "-b", dir_ / "base.img", "-F", "raw", image});
  auto source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("self-contained"));
}

TEST_F(VolumesTest, PvcMissingEverywhereIsNotFoundNamingBothPlaces) {
  auto source = PreparePvcVolume("ghost", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr(layout_.block_dir + "/ghost"));
  EXPECT_THAT(source.status().message(), HasSubstr(layout_.volumes_dir + "/ghost"));
}

TEST_F(VolumesTest, ReadOnlyPvcWithoutDiskImgIsNotCreated) {
  std::filesystem::create_directories(layout_.volumes_dir + "/ro");
  auto source = PreparePvcVolume("ro", true, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(layout_.volumes_dir + "/ro/disk.img"));
}

TEST_F(VolumesTest, ReadOnlyPvcIsMarkedReadOnly) {
  WriteFile(layout_.volumes_dir + "/ro/disk.img", std::string(4096, '\0'));
  auto source = PreparePvcVolume("ro", true, std::nullopt, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE(source->readonly);
}

TEST_F(VolumesTest, DiskImgThatIsADirectoryIsRefused) {
  std::filesystem::create_directories(layout_.volumes_dir + "/data/disk.img");
  auto source = PreparePvcVolume("data", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("not a regular file"));
}

TEST_F(VolumesTest, BlockPathThatIsNotADeviceIsRefused) {
  WriteFile(layout_.block_dir + "/blk", "not a device");
  auto source = PreparePvcVolume("blk", false, std::nullopt, layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("not a block device"));
}

// What a containerDisk container writes for `volume` (container_disk.h):
// this process stands in for it, its root being the test's own.
void Serve(const StorageLayout& layout, const std::string& volume, const std::string& image) {
  WriteFile(layout.container_disks_dir + "/" + volume + "/source",
            std::to_string(getpid()) + " " + std::filesystem::canonical(image).string() + "\n");
}

TEST_F(VolumesTest, ContainerDiskGetsAnOverlayAndTheImageStaysUnchanged) {
  const std::string image = dir_ / "image/disk/os.qcow2";
  std::filesystem::create_directories(dir_ / "image/disk");
  RunTool({"qemu-img", "create", "-q", "-f", "qcow2", image, "8M"});
  const std::string before = ReadFile(image);
  Serve(layout_, "root", image);

  auto source = PrepareContainerDisk("root", layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(source->path, layout_.state_dir + "/container-disks/root.qcow2");
  EXPECT_EQ(source->format, DiskFormat::kQcow2);
  // Read where the container serves it: through its process's root.
  EXPECT_EQ(source->backing_path, "/proc/" + std::to_string(getpid()) + "/root" +
                                      std::filesystem::canonical(image).string());
  EXPECT_EQ(source->backing_format, DiskFormat::kQcow2);

  RunTool({"qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 64k", source->path});
  EXPECT_EQ(ReadFile(image), before);
  // The next start begins from the image again.
  source = PrepareContainerDisk("root", layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  RunTool({"qemu-io", "-f", "qcow2", "-c", "read -P 0 0 64k", source->path});
}

TEST_F(VolumesTest, ContainerDiskReportsWhatItsContainerSaid) {
  // The container's own error, as it wrote it.
  WriteFile(layout_.container_disks_dir + "/two/error", "expected one file in /disk, found 2\n");
  auto source = PrepareContainerDisk("two", layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalid);
  EXPECT_THAT(source.status().message(), HasSubstr("expected one file in /disk, found 2"));
  // Nothing written yet: the caller did not wait.
  std::filesystem::create_directories(layout_.container_disks_dir + "/none");
  source = PrepareContainerDisk("none", layout_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr(layout_.container_disks_dir + "/none"));
}

TEST_F(VolumesTest, EmptyDiskIsCreatedOnceThenKept) {
  auto source = PrepareEmptyDisk("scratch", 3 * kMiB + 100, layout_);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ(source->path, layout_.state_dir + "/empty-disks/scratch.qcow2");
  auto info = QueryImage("qemu-img", source->path, DiskFormat::kQcow2);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->virtual_size, 3 * kMiB + 512);  // rounded up to a sector
  RunTool({"qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 4k", source->path});
  ASSERT_TRUE(PrepareEmptyDisk("scratch", 3 * kMiB + 100, layout_).ok());
  RunTool({"qemu-io", "-f", "qcow2", "-c", "read -P 0x33 0 4k", source->path});
}

api::VirtualMachineInstance VmiWithVolumes() {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "vm1";
  vmi.metadata.uid = "6f1c1a9e-0d7b-4b8f-a1f6-0a0b0c0d0e0f";
  api::Volume root;
  root.name = "root";
  root.container_disk.emplace().image = "example/disk:1";
  api::Volume scratch;
  scratch.name = "scratch";
  scratch.empty_disk.emplace().capacity = "1Mi";
  api::Volume seed;
  seed.name = "seed";
  seed.cloud_init_no_cloud.emplace().user_data = "#cloud-config\n";
  vmi.spec.volumes = {root, scratch, seed};
  return vmi;
}

TEST_F(VolumesTest, PrepareVolumesPreparesEverySource) {
  WriteFile(dir_ / "image/disk.img", std::string(1 << 20, '\0'));
  Serve(layout_, "root", dir_ / "image/disk.img");
  auto sources = PrepareVolumes(VmiWithVolumes(), layout_);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  ASSERT_EQ(sources->size(), 3u);
  EXPECT_EQ(sources->at("root").format, DiskFormat::kQcow2);
  EXPECT_EQ(sources->at("scratch").path, layout_.state_dir + "/empty-disks/scratch.qcow2");
  const DiskSource& seed = sources->at("seed");
  EXPECT_EQ(seed.path, layout_.state_dir + "/cloud-init/seed.iso");
  EXPECT_TRUE(seed.readonly);
  EXPECT_EQ(ReadFile(seed.path).substr(0x8001, 5), "CD001");
}

TEST_F(VolumesTest, PrepareVolumesSizesBlankClaimsFromTheVolumeStatus) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "vm1";
  api::Volume data;
  data.name = "data";
  data.persistent_volume_claim.emplace().claim_name = "data-claim";
  api::Volume imported;
  imported.name = "root";
  imported.data_volume.emplace().name = "debian";
  vmi.spec.volumes = {data, imported};
  api::VolumeStatus data_status;
  data_status.name = "data";
  data_status.persistent_volume_claim_info.emplace().requests["storage"] = "64Mi";
  api::VolumeStatus root_status;
  root_status.name = "root";
  root_status.persistent_volume_claim_info.emplace().capacity["storage"] = "32Mi";
  root_status.persistent_volume_claim_info->requests["storage"] = "16Mi";
  vmi.status.volume_status = {data_status, root_status};
  std::filesystem::create_directories(layout_.volumes_dir + "/data");
  std::filesystem::create_directories(layout_.volumes_dir + "/root");
  auto sources = PrepareVolumes(vmi, layout_);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  // 64 MiB less 5.5% is 60.48 MiB: 60 MiB; a bound claim's capacity wins.
  EXPECT_EQ(std::filesystem::file_size(layout_.volumes_dir + "/data/disk.img"), 60 * kMiB);
  EXPECT_EQ(std::filesystem::file_size(layout_.volumes_dir + "/root/disk.img"), 30 * kMiB);
  EXPECT_EQ(sources->at("root").path, layout_.volumes_dir + "/root/disk.img");
}

TEST_F(VolumesTest, PrepareVolumesNamesTheFailingVolume) {
  // No container-disks/root directory: the first volume fails.
  auto sources = PrepareVolumes(VmiWithVolumes(), layout_);
  ASSERT_FALSE(sources.ok());
  EXPECT_THAT(sources.status().message(),
              HasSubstr("volume 'root' (containerDisk example/disk:1)"));

  api::VirtualMachineInstance vmi;
  api::Volume odd;
  odd.name = "odd";  // e.g. a dataVolume, kept in extra
  vmi.spec.volumes = {odd};
  sources = PrepareVolumes(vmi, layout_);
  ASSERT_FALSE(sources.ok());
  EXPECT_THAT(sources.status().message(), HasSubstr("volume 'odd'"));
  EXPECT_THAT(sources.status().message(), HasSubstr("no source Vireo supports"));
}

}  // namespace
}  // namespace vireo::launcher
