// Disk preparation for a VMI, as docs/launcher-pod.md lays the pod out:
// every volume of the VMI becomes a DiskSource the conversion can attach.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "launcher/storage/disk_source.h"
#include "lib/api/launcher_pod.h"
#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// Where the pod puts things and which tools to run. The defaults are the
// launcher pod contract; tests point the directories at temp dirs.
struct StorageLayout {
  std::string volumes_dir = api::launcher_pod::kVolumesDir;                 // <vol>/disk.img
  std::string block_dir = api::launcher_pod::kBlockDir;                     // <vol> device
  std::string container_disks_dir = api::launcher_pod::kContainerDisksDir;  // <vol>/source
  std::string state_dir = api::launcher_pod::kStateDir;  // overlays, emptyDisks, cidata ISOs
  // <vol>/userdata/, <vol>/networkdata/: cloud-init Secrets (cloud_init.h)
  std::string cloud_init_secrets_dir = api::launcher_pod::kCloudInitSecretsDir;
  std::string qemu_img = "qemu-img";  // looked up in PATH when not absolute
  std::string xorriso = "xorriso";
};

// Prepares every volume of `vmi` (defaults applied) and returns them by
// name. Per source:
// - persistentVolumeClaim: /dev/vireo/<vol> when that exists (block mode),
//   else /var/run/vireo/volumes/<vol>/disk.img, created sparse (raw) when
//   missing; see PreparePvcVolume.
// - containerDisk: a fresh qcow2 overlay in the state dir over the image's
//   file, read where its container serves it; see PrepareContainerDisk.
// - emptyDisk: a sparse qcow2 of the capacity in the state dir, kept when it
//   already exists (a launcher restart within one pod is the same VMI).
// - cloudInitNoCloud: a `cidata` ISO in the state dir; see cloud_init.h.
// Creates state-dir subfolders as needed. Stops at the first failure: the
// Status (kNotFound: something the pod should provide is missing; kInvalid:
// it is there but unusable; kInternal: a tool or system call failed) names
// the volume, the path and what to do. Not thread-safe for one state dir.
base::Result<DiskSources> PrepareVolumes(const api::VirtualMachineInstance& vmi,
                                         const StorageLayout& layout);

// One persistentVolumeClaim volume. `read_only`: from the volume (claim
// readOnly) — a missing disk.img is then an error rather than created.
// A missing disk.img is created sparse at api::importer::BlankDiskBytes of
// `claim_bytes` (the claim's size when known) and the volume's free space.
// Refuses: neither the device nor the directory present; a disk.img that is
// not a regular file, cannot be opened, or whose size exceeds the
// filesystem's size; a volume too small (BlankDiskBytes: none) or not
// writable to create one; a corrupt qcow2 or a qcow2 with a backing file.
base::Result<DiskSource> PreparePvcVolume(const std::string& volume, bool read_only,
                                          std::optional<int64_t> claim_bytes,
                                          const StorageLayout& layout);

// One containerDisk volume, served in place (container_disk.h): reads what
// its container wrote in container_disks_dir/<vol>/ (an error it reported
// becomes kInvalid; nothing yet, kNotFound: WaitForServedDisks first),
// checks the file, detects its format, and (re)creates
// state_dir/container-disks/<vol>.qcow2 on top of it. The overlay is
// recreated on every call, so guest writes never outlive a start.
base::Result<DiskSource> PrepareContainerDisk(const std::string& volume,
                                              const StorageLayout& layout);

// One emptyDisk volume: state_dir/empty-disks/<vol>.qcow2 of `capacity_bytes`
// (rounded up to 512), created when missing, reused when present.
base::Result<DiskSource> PrepareEmptyDisk(const std::string& volume, int64_t capacity_bytes,
                                          const StorageLayout& layout);

// One cloudInitNoCloud volume: its seed (MakeNoCloudSeed) written by
// WriteNoCloudIso as state_dir/cloud-init/<vol>.iso, rewritten on every call
// so it always matches the VMI. Attached read-only, raw.
base::Result<DiskSource> PrepareCloudInitVolume(const api::VirtualMachineInstance& vmi,
                                                const std::string& volume,
                                                const api::CloudInitNoCloudSource& source,
                                                const StorageLayout& layout);

}  // namespace vireo::launcher
