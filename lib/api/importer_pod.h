// The importer pod contract: what vireo-controller (which renders one pod per
// DataVolume that needs populating) and `vireo-launcher import` (which runs in
// it) agree on, and the disk sizing rule both sides and the launcher's blank
// PVC path share. docs/importer-pod.md explains each item.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vireo::api::importer {

// The claim being populated: a filesystem claim is mounted at kTargetDir and
// the disk is kDiskImage in it; a block claim is the device kTargetDevice.
inline constexpr char kTargetDir[] = "/var/run/vireo/target";
inline constexpr char kTargetDevice[] = "/dev/vireo/target";
// source.pvc (clone): the source claim, read-only, the same two ways.
inline constexpr char kSourceDir[] = "/var/run/vireo/source";
inline constexpr char kSourceDevice[] = "/dev/vireo/source";
// An emptyDir for what must be converted before it reaches the claim (a
// downloaded qcow2, a decompressed stream that turned out to be qcow2).
inline constexpr char kScratchDir[] = "/var/run/vireo/scratch";
// source.registry: an init container running the containerDisk image copies
// the image's disk file (its /disk/ folder's single file) into this folder.
inline constexpr char kImageDir[] = "/var/run/vireo/scratch/image";
// The disk file on a filesystem claim (KubeVirt's and CDI's name).
inline constexpr char kDiskImage[] = "disk.img";

// `vireo-launcher import` flags. One of the --source values, then:
//   http:     --url=URL
//   registry: (reads kImageDir)
//   pvc:      (reads kSourceDevice when present, else kSourceDir/disk.img)
//   blank:    nothing more
// and always --claim-bytes=N, the claim's size (status.capacity when bound,
// else spec.resources.requests.storage).
inline constexpr char kSourceHttp[] = "http";
inline constexpr char kSourceRegistry[] = "registry";
inline constexpr char kSourcePvc[] = "pvc";
inline constexpr char kSourceBlank[] = "blank";

// How `vireo-launcher import` ends. The container's termination message
// (/dev/termination-log, one line) says what happened in words a user can act
// on; the controller copies it into the DataVolume's condition and Event.
enum ExitCode : int {
  kImported = 0,            // the disk is in place (or was already: never overwritten)
  kFailed = 1,              // anything else (a tool failed, an internal error)
  kUsage = 2,               // bad flags: a controller/launcher mismatch
  kSourceUnreachable = 10,  // DNS, connect, TLS, a timeout, an HTTP 5xx: may pass on retry
  kSourceNotFound = 11,     // HTTP 404/403/401/410, no file in the image, no disk.img on the source
  kInvalidImage = 12,       // corrupt, truncated, not a disk image, a backing file
  kTooLarge = 13,           // the image's virtual size exceeds what the claim holds
  kTargetUnusable = 14,     // the claim is missing, not writable, or has no room
};
// A short CamelCase reason for an exit code ("ImportSourceUnreachable", ...),
// used as the DataVolume condition reason and the Event reason.
std::string_view ReasonForExitCode(int code);
// Whether another attempt may succeed (only kSourceUnreachable and kFailed).
bool IsTransient(int code);

// Progress lines: the importer prints, on stdout, JSON log lines; the ones
// with "msg": kProgressMessage carry "progress": "45.20%" (CDI's format), and
// the controller reads the last one from the pod's log.
inline constexpr char kProgressMessage[] = "import progress";

// Part of a filesystem claim kept free for the filesystem's own overhead
// (CDI's default, which KubeVirt also applies to blank claims): disk.img is
// claim × (1 − 0.055), rounded down to whole MiB.
inline constexpr double kFilesystemOverhead = 0.055;
// The same as VMI status.volumeStatus[].persistentVolumeClaimInfo writes it.
inline constexpr char kFilesystemOverheadText[] = "0.055";
// A volume may offer less than that size (thin provisioning, a filesystem
// that counts differently): up to this fraction less is tolerated and
// disk.img shrinks to fit (KubeVirt's lessPVCSpaceToleration, 10%).
inline constexpr double kLessSpaceToleration = 0.10;

// The size disk.img gets on a filesystem claim of `claim_bytes`.
int64_t DiskImageBytes(int64_t claim_bytes);

// The smallest claim (whole MiB) whose disk.img holds `disk_bytes`: what a
// DataVolume's spec.storage asks for, as CDI does, so the guest gets the
// size the user wrote.
int64_t ClaimBytesForDisk(int64_t disk_bytes);

// The size a blank disk.img gets given the claim's size (if known) and the
// bytes available on the volume: DiskImageBytes(claim) when that fits, else
// the available bytes (whole MiB) when within the toleration, else nullopt
// (the volume is too small). Unknown claim size: the available bytes.
std::optional<int64_t> BlankDiskBytes(std::optional<int64_t> claim_bytes, int64_t available_bytes);

}  // namespace vireo::api::importer
