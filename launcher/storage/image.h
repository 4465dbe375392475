// Disk image inspection and creation: format detection from the header and
// the qemu-img invocations the launcher needs (check, info, create).
#pragma once

#include <cstdint>
#include <string>

#include "launcher/storage/disk_source.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// The format of the image at `path` (file or block device), read from its
// first bytes: the qcow2 magic "QFI\xfb" means qcow2, anything else raw.
// kNotFound when it does not exist, kInvalid when it cannot be opened or read
// (message: the system's reason).
base::Result<DiskFormat> DetectImageFormat(const std::string& path);

// What `qemu-img info` says of an image.
struct ImageInfo {
  DiskFormat format = DiskFormat::kRaw;
  int64_t virtual_size = 0;  // bytes the guest sees
  std::string backing_file;  // empty when none
};

// `qemu-img info --output=json -f <format>`; kInvalid with qemu-img's own
// message when it refuses the image.
base::Result<ImageInfo> QueryImage(const std::string& qemu_img, const std::string& path,
                                   DiskFormat format);

// For qcow2: `qemu-img check`; kInvalid naming the path and quoting qemu-img
// when the image is corrupt or unreadable. Leaked clusters are not refused
// (harmless, and what a crashed writer leaves). For raw: nothing to check.
base::Status CheckImage(const std::string& qemu_img, const std::string& path, DiskFormat format);

// The same two for any format qemu-img reads, named as qemu-img names it
// ("vmdk", "vhdx", ...): what an import meets. `format` of the result is
// left raw. CheckImageAs passes formats qemu-img cannot check.
base::Result<ImageInfo> QueryImageAs(const std::string& qemu_img, const std::string& path,
                                     const std::string& format);
base::Status CheckImageAs(const std::string& qemu_img, const std::string& path,
                          const std::string& format);

// `qemu-img create -f qcow2 -b <backing> -F <backing_format> <path>`:
// replaces any file at `path`. The backing path is stored as given (absolute).
base::Status CreateOverlay(const std::string& qemu_img, const std::string& path,
                           const std::string& backing, DiskFormat backing_format);

// A sparse image of `size_bytes` (a multiple of 512) at `path`, which must
// not exist. qcow2 goes through qemu-img; raw is an ftruncate'd file.
base::Status CreateSparseImage(const std::string& qemu_img, const std::string& path,
                               DiskFormat format, int64_t size_bytes);

}  // namespace vireo::launcher
