// What disk preparation hands to the domain conversion: for each VMI volume,
// the file or device libvirt opens and how. Plain data, no I/O.
#pragma once

#include <map>
#include <string>

namespace vireo::launcher {

enum class DiskFormat { kRaw, kQcow2 };

// "raw" or "qcow2": the value of libvirt's <driver type=...> and qemu-img -f.
inline const char* DiskFormatName(DiskFormat format) {
  return format == DiskFormat::kQcow2 ? "qcow2" : "raw";
}

// One prepared volume.
struct DiskSource {
  std::string volume;  // the VMI volume name
  std::string path;    // absolute: the image file or the block device QEMU opens
  DiskFormat format = DiskFormat::kRaw;
  bool block = false;     // a block device (libvirt <disk type='block'>), else a file
  bool readonly = false;  // the source must not be written (PVC readOnly, cloud-init seed)
  // containerDisk only: the image under the overlay at `path`, never written.
  // Empty for every other source.
  std::string backing_path;
  DiskFormat backing_format = DiskFormat::kRaw;
};

// Prepared volumes by volume name: ConvertContext::disks.
using DiskSources = std::map<std::string, DiskSource>;

}  // namespace vireo::launcher
