// Preparing and committing an import's target; see import_target.h.
#include "launcher/import_target.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <filesystem>

namespace vireo::launcher {
namespace {

namespace fs = std::filesystem;
using namespace api::importer;  // NOLINT(google-build-using-namespace): the contract's exit codes

constexpr int64_t kMiB = 1LL << 20;

}  // namespace

std::string Errno(int error) { return std::strerror(error); }

int64_t DeviceSize(int fd) {
  uint64_t bytes = 0;
  if (::ioctl(fd, BLKGETSIZE64, &bytes) == 0) return static_cast<int64_t>(bytes);
  const off_t end = ::lseek(fd, 0, SEEK_END);
  return end < 0 ? -1 : static_cast<int64_t>(end);
}

ImportStatus PrepareTarget(const ImportRequest& request, Target* target, bool* kept) {
  const ImportLayout& layout = request.layout;
  struct stat st {};
  if (::stat(layout.target_device.c_str(), &st) == 0) {
    // A regular file stands in for a device in tests (hidden flags).
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
      return ImportError(kTargetUnusable, layout.target_device +
                                              " is not a block device; a block-mode claim "
                                              "must come as volumeDevices");
    }
    const int fd = ::open(layout.target_device.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return ImportError(kTargetUnusable, "cannot open " + layout.target_device +
                                              " for writing: " + Errno(errno) +
                                              "; the importer needs the claim read-write");
    }
    target->size = DeviceSize(fd);
    ::close(fd);
    target->device = true;
    target->path = target->temp = target->name = layout.target_device;
    if (target->size < static_cast<int64_t>(kMiB)) {
      return ImportError(kTargetUnusable, layout.target_device + " holds only " +
                                              std::to_string(target->size) + " bytes");
    }
    return ImportStatus::Ok();
  }

  const std::string& dir = layout.target_dir;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return ImportError(kTargetUnusable, "neither the block device " + layout.target_device +
                                            " nor the directory " + dir +
                                            " exists; the importer pod must mount the claim "
                                            "there (volumeMounts or volumeDevices)");
  }
  target->path = dir + "/" + kDiskImage;
  target->temp = target->path + ".importing";
  target->name = kDiskImage;
  if (::lstat(target->path.c_str(), &st) == 0) {
    *kept = true;
    return ImportStatus::Ok(target->path + " already exists (" + std::to_string(st.st_size) +
                            " bytes); the claim was already populated and disk.img is kept as "
                            "it is");
  }
  if (request.claim_bytes <= 0) {
    return ImportError(kUsage, "--claim-bytes is needed for a filesystem claim");
  }
  // What a failed attempt left: never a disk anyone uses.
  if (::unlink(target->temp.c_str()) != 0 && errno != ENOENT) {
    return ImportError(kTargetUnusable, "cannot remove " + target->temp +
                                            " (left by an earlier attempt): " + Errno(errno) +
                                            "; the importer needs the claim writable");
  }
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return ImportError(kTargetUnusable, "statvfs " + dir + ": " + Errno(errno));
  }
  const int64_t available = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  std::optional<int64_t> size = BlankDiskBytes(request.claim_bytes, available);
  if (!size.has_value()) {
    return ImportError(kTargetUnusable,
                       "the volume at " + dir + " has " + std::to_string(available) +
                           " bytes free, too little for " + kDiskImage + " of " +
                           std::to_string(DiskImageBytes(request.claim_bytes)) +
                           " bytes (the claim's " + std::to_string(request.claim_bytes) +
                           " bytes less 5.5% filesystem overhead, 10% tolerated); free space on "
                           "the volume or use a larger claim");
  }
  target->size = *size;
  const int fd = ::open(target->temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
  if (fd < 0) {
    return ImportError(kTargetUnusable, "cannot create " + target->temp + ": " + Errno(errno) +
                                            "; the claim must be writable by the importer's user "
                                            "(the pod's fsGroup)");
  }
  ::close(fd);
  return ImportStatus::Ok();
}

ImportStatus CheckFits(int64_t image_bytes, const Target& target) {
  if (image_bytes <= target.size) return ImportStatus::Ok();
  return ImportError(kTooLarge, "the image's virtual size is " + std::to_string(image_bytes) +
                                    " bytes (" + HumanBytes(image_bytes) + "), larger than " +
                                    target.name + " (" + std::to_string(target.size) + " bytes, " +
                                    HumanBytes(target.size) + "); use a larger claim");
}

ImportStatus Commit(const Target& target) {
  const int fd = ::open(target.temp.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ImportError(kFailed, "cannot open " + target.temp + ": " + Errno(errno));
  if (!target.device && ::ftruncate(fd, target.size) != 0) {
    const int error = errno;
    ::close(fd);
    return ImportError(kTargetUnusable, "cannot size " + target.temp + " to " +
                                            std::to_string(target.size) +
                                            " bytes: " + Errno(error));
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return ImportError(kTargetUnusable, "fsync " + target.temp + ": " + Errno(error));
  }
  ::close(fd);
  if (target.device) return ImportStatus::Ok();
  if (::rename(target.temp.c_str(), target.path.c_str()) != 0) {
    return ImportError(kTargetUnusable,
                       "cannot rename " + target.temp + " to " + target.path + ": " + Errno(errno));
  }
  const std::string dir = fs::path(target.path).parent_path().string();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return ImportStatus::Ok();
}

ImportStatus Finalize(ImportStatus status, const Target& target) {
  if (!status.ok() && !target.device && !target.temp.empty()) ::unlink(target.temp.c_str());
  return status;
}

}  // namespace vireo::launcher
