// PrepareVolumes and the per-source preparation of PVCs, containerDisks and
// emptyDisks (cloud-init lives in cloud_init.cc).
#include "launcher/storage/volumes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "launcher/storage/cloud_init.h"
#include "launcher/storage/container_disk.h"
#include "launcher/storage/image.h"
#include "lib/api/importer_pod.h"
#include "lib/api/launcher_pod.h"
#include "lib/api/quantity.h"

namespace vireo::launcher {

using base::Code;
using base::Result;
using base::Status;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMiB = 1024 * 1024;

Status MakeDirs(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return Status(Code::kInternal, "cannot create " + dir + ": " + error.message());
  return Status::Ok();
}

DiskSource Source(const std::string& volume, const std::string& path, DiskFormat format,
                  bool block = false, bool readonly = false) {
  DiskSource source;
  source.volume = volume;
  source.path = path;
  source.format = format;
  source.block = block;
  source.readonly = readonly;
  return source;
}

// Opening is the only reliable access test (root, ACLs, read-only mounts).
Status CheckOpens(const std::string& path, bool read_only, const std::string& advice) {
  const int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    return Status(Code::kInvalid, "cannot open " + path +
                                      (read_only ? " for reading: " : " for writing: ") +
                                      std::strerror(errno) + "; " + advice);
  }
  ::close(fd);
  return Status::Ok();
}

// Format, consistency, and no backing file: a chain pointing outside the
// volume would reach files the VMI never named.
Result<DiskFormat> InspectImage(const std::string& qemu_img, const std::string& path) {
  Result<DiskFormat> format = DetectImageFormat(path);
  if (!format.ok()) return format.status();
  if (*format != DiskFormat::kQcow2) return format;
  // Backing file first: check would open (and blame) a missing backing file.
  Result<ImageInfo> info = QueryImage(qemu_img, path, *format);
  if (!info.ok()) {
    // An unreadable header: check's verdict says "corrupt" and how to repair.
    Status checked = CheckImage(qemu_img, path, *format);
    return checked.ok() ? info.status() : checked;
  }
  if (!info->backing_file.empty()) {
    return Status(Code::kInvalid, path + " is a qcow2 overlay on '" + info->backing_file +
                                      "'; Vireo needs a self-contained image (flatten it with "
                                      "'qemu-img convert -O qcow2')");
  }
  Status checked = CheckImage(qemu_img, path, *format);
  if (!checked.ok()) return checked;
  return format;
}

Result<DiskSource> PrepareBlockPvc(const std::string& volume, const std::string& device,
                                   bool read_only, const StorageLayout& layout) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) {
    return Status(Code::kInvalid, device +
                                      " exists but is not a block device; a block-mode claim "
                                      "must come as volumeDevices");
  }
  Status opens = CheckOpens(device, read_only, "check the claim's access mode");
  if (!opens.ok()) return opens;
  Result<DiskFormat> format = InspectImage(layout.qemu_img, device);
  if (!format.ok()) return format.status();
  return Source(volume, device, *format, /*block=*/true, read_only);
}

}  // namespace

Result<DiskSource> PreparePvcVolume(const std::string& volume, bool read_only,
                                    std::optional<int64_t> claim_bytes,
                                    const StorageLayout& layout) {
  const std::string device = layout.block_dir + "/" + volume;
  const std::string dir = layout.volumes_dir + "/" + volume;
  if (::access(device.c_str(), F_OK) == 0)
    return PrepareBlockPvc(volume, device, read_only, layout);

  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status(Code::kNotFound, "neither the block device " + device + " nor the directory " +
                                       dir +
                                       " exists; the launcher pod must mount the claim "
                                       "there (volumeMounts or volumeDevices)");
  }
  if (!S_ISDIR(st.st_mode)) return Status(Code::kInvalid, dir + " is not a directory");

  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return Status(Code::kInternal, "statvfs " + dir + ": " + std::strerror(errno));
  }
  const int64_t fs_size = static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize);
  const int64_t available = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);

  const std::string image = dir + "/disk.img";
  if (::lstat(image.c_str(), &st) != 0) {
    if (errno != ENOENT)
      return Status(Code::kInvalid, "cannot stat " + image + ": " + std::strerror(errno));
    if (read_only) {
      return Status(Code::kNotFound, image +
                                         " is missing and the claim is read-only, so it "
                                         "cannot be created; put a disk image there");
    }
    // The claim's size, less the filesystem's overhead, as CDI and KubeVirt
    // size a blank disk.img (lib/api/importer_pod.h): never the volume's free
    // space alone, which on a provisioner handing out host directories is
    // the host's disk. A volume a little smaller than that is tolerated.
    const std::optional<int64_t> size = api::importer::BlankDiskBytes(claim_bytes, available);
    if (!size.has_value()) {
      const std::string wanted = claim_bytes.has_value()
                                     ? std::to_string(api::importer::DiskImageBytes(*claim_bytes)) +
                                           " bytes (the claim's " + std::to_string(*claim_bytes) +
                                           " less 5.5% filesystem overhead)"
                                     : "at least 1 MiB";
      return Status(Code::kInvalid, "no space to create " + image + ": the volume is too small, " +
                                        std::to_string(available) + " bytes free for " + wanted +
                                        "; free space on the volume or use a larger claim");
    }
    if (::access(dir.c_str(), W_OK) != 0) {
      return Status(Code::kInvalid, "cannot create " + image + ": the volume is not writable (" +
                                        std::strerror(errno) +
                                        "); give the launcher write access (the pod's fsGroup)");
    }
    Status created = CreateSparseImage(layout.qemu_img, image, DiskFormat::kRaw, *size);
    if (!created.ok()) return created;
    return Source(volume, image, DiskFormat::kRaw);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kInvalid, image +
                                      " is not a regular file; remove it or replace it with a "
                                      "disk image");
  }
  if (st.st_size > fs_size) {
    return Status(Code::kInvalid, image + " is " + std::to_string(st.st_size) +
                                      " bytes, larger than its volume (" + std::to_string(fs_size) +
                                      " bytes): the guest would fail writing past the end; "
                                      "shrink the image or use a larger claim");
  }
  Status opens =
      CheckOpens(image, read_only, "make it readable and writable by the launcher (fsGroup)");
  if (!opens.ok()) return opens;
  Result<DiskFormat> format = InspectImage(layout.qemu_img, image);
  if (!format.ok()) return format.status();
  return Source(volume, image, *format, /*block=*/false, read_only);
}

Result<DiskSource> PrepareContainerDisk(const std::string& volume, const StorageLayout& layout) {
  const std::string dir = layout.container_disks_dir + "/" + volume;
  Result<std::optional<ServedDisk>> served = ReadServedDisk(dir);
  if (!served.ok()) return served.status();
  if (!served->has_value()) {
    return Status(Code::kNotFound, "no " +
                                       std::string(api::launcher_pod::kContainerDiskSourceFile) +
                                       " file in " + dir +
                                       ": the pod's containerDisk container has not served "
                                       "the image");
  }
  Result<std::string> backing = ServedDiskFile(**served);
  if (!backing.ok()) return backing.status();
  Status opens = CheckOpens(*backing, /*read_only=*/true, "the image file must be readable");
  if (!opens.ok()) return opens;
  Result<DiskFormat> format = InspectImage(layout.qemu_img, *backing);
  if (!format.ok()) return format.status();

  const std::string overlay_dir = layout.state_dir + "/container-disks";
  Status made = MakeDirs(overlay_dir);
  if (!made.ok()) return made;
  const std::string overlay = overlay_dir + "/" + volume + ".qcow2";
  Status created = CreateOverlay(layout.qemu_img, overlay, *backing, *format);
  if (!created.ok()) return created;
  DiskSource source = Source(volume, overlay, DiskFormat::kQcow2);
  source.backing_path = *backing;
  source.backing_format = *format;
  return source;
}

Result<DiskSource> PrepareEmptyDisk(const std::string& volume, int64_t capacity_bytes,
                                    const StorageLayout& layout) {
  if (capacity_bytes <= 0) {
    return Status(Code::kInvalid,
                  "capacity " + std::to_string(capacity_bytes) + " is not positive");
  }
  const std::string dir = layout.state_dir + "/empty-disks";
  Status made = MakeDirs(dir);
  if (!made.ok()) return made;
  const std::string path = dir + "/" + volume + ".qcow2";
  if (::access(path.c_str(), F_OK) == 0) {
    Result<DiskFormat> format = InspectImage(layout.qemu_img, path);
    if (!format.ok()) return format.status();
    if (*format != DiskFormat::kQcow2) {
      return Status(Code::kInvalid, path + " exists but is not qcow2; remove it");
    }
    return Source(volume, path, DiskFormat::kQcow2);
  }
  const int64_t size = (capacity_bytes + 511) / 512 * 512;
  Status created = CreateSparseImage(layout.qemu_img, path, DiskFormat::kQcow2, size);
  if (!created.ok()) return created;
  return Source(volume, path, DiskFormat::kQcow2);
}

Result<DiskSource> PrepareCloudInitVolume(const api::VirtualMachineInstance& vmi,
                                          const std::string& volume,
                                          const api::CloudInitNoCloudSource& source,
                                          const StorageLayout& layout) {
  Result<NoCloudSeed> seed = MakeNoCloudSeed(
      vmi, volume, source, NoCloudSecretDirsUnder(layout.cloud_init_secrets_dir + "/" + volume));
  if (!seed.ok()) return seed.status();
  const std::string dir = layout.state_dir + "/cloud-init";
  Status made = MakeDirs(dir);
  if (!made.ok()) return made;
  const std::string iso = dir + "/" + volume + ".iso";
  Status written = WriteNoCloudIso(*seed, iso, layout.xorriso);
  if (!written.ok()) return written;
  return Source(volume, iso, DiskFormat::kRaw, /*block=*/false, /*readonly=*/true);
}

namespace {

// The claim size the controller saw for `volume` (status.volumeStatus):
// its capacity once bound, else its request.
std::optional<int64_t> ClaimBytesOf(const api::VirtualMachineInstanceStatus& status,
                                    const std::string& volume) {
  for (const api::VolumeStatus& vs : status.volume_status) {
    if (vs.name != volume || !vs.persistent_volume_claim_info.has_value()) continue;
    const api::PersistentVolumeClaimInfo& info = *vs.persistent_volume_claim_info;
    for (const auto* sizes : {&info.capacity, &info.requests}) {
      auto it = sizes->find("storage");
      if (it == sizes->end()) continue;
      if (Result<int64_t> bytes = api::ParseQuantityBytes(it->second); bytes.ok()) return *bytes;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<DiskSources> PrepareVolumes(const api::VirtualMachineInstance& vmi,
                                   const StorageLayout& layout) {
  DiskSources sources;
  for (const api::Volume& volume : vmi.spec.volumes) {
    std::string what = "volume '" + volume.name + "'";
    Result<DiskSource> source = Status(Code::kInvalid,
                                       "has no source Vireo supports "
                                       "(containerDisk, persistentVolumeClaim, dataVolume, "
                                       "emptyDisk, cloudInitNoCloud)");
    if (volume.persistent_volume_claim.has_value()) {
      what += " (persistentVolumeClaim '" + volume.persistent_volume_claim->claim_name + "')";
      source =
          PreparePvcVolume(volume.name, volume.persistent_volume_claim->read_only.value_or(false),
                           ClaimBytesOf(vmi.status, volume.name), layout);
    } else if (volume.data_volume.has_value()) {
      // The DataVolume's claim, populated before the pod was made.
      what += " (dataVolume '" + volume.data_volume->name + "')";
      source = PreparePvcVolume(volume.name, false, ClaimBytesOf(vmi.status, volume.name), layout);
    } else if (volume.container_disk.has_value()) {
      what += " (containerDisk " + volume.container_disk->image + ")";
      source = PrepareContainerDisk(volume.name, layout);
    } else if (volume.empty_disk.has_value()) {
      what += " (emptyDisk)";
      Result<int64_t> capacity = api::ParseQuantityBytes(volume.empty_disk->capacity);
      source = capacity.ok()
                   ? PrepareEmptyDisk(volume.name, *capacity, layout)
                   : Result<DiskSource>(Status(Code::kInvalid, "emptyDisk.capacity '" +
                                                                   volume.empty_disk->capacity +
                                                                   "' is not a quantity"));
    } else if (volume.cloud_init_no_cloud.has_value()) {
      what += " (cloudInitNoCloud)";
      source = PrepareCloudInitVolume(vmi, volume.name, *volume.cloud_init_no_cloud, layout);
    }
    if (!source.ok()) return source.status().WithContext(what);
    sources.emplace(volume.name, std::move(*source));
  }
  return sources;
}

}  // namespace vireo::launcher
