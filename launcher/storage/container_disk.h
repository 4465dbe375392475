// A containerDisk served in place: the launcher's side of the contract in
// lib/api/launcher_pod.h (kContainerDisksDir). The volume's image runs as a
// container of the pod, which shares one process namespace; it writes its pid
// and the disk file's path inside its image, and QEMU reads the file as
// /proc/<pid>/root<path>. No copy, so no wait for one and no ephemeral
// storage the size of the image (docs/controller.md, "containerDisk").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/status.h"

namespace vireo::launcher {

// What a containerDisk container wrote in its directory.
struct ServedDisk {
  pid_t pid = 0;
  std::string path;  // absolute, inside the container's image
};

// Parses the source file's text, "<pid> <path>\n".
base::Result<ServedDisk> ParseServedDisk(const std::string& text);

// The directory's source file (nullopt while the container has written
// neither file). The error file becomes kInvalid with its text.
base::Result<std::optional<ServedDisk>> ReadServedDisk(const std::string& dir);

// /proc/<pid>/root<path>, once checked: the process is there, every part of
// the path is a directory or, last, a regular file not on proc or sysfs, and
// none is a symbolic link (through /proc/<pid>/root an absolute link would
// lead into the launcher's own tree; the container resolved them already).
// kNotFound when the process is gone, kInvalid otherwise.
base::Result<std::string> ServedDiskFile(const ServedDisk& disk);

struct ServedDiskWait {
  std::chrono::milliseconds poll{10};           // how often it looks (a stat per directory)
  std::chrono::milliseconds log_every{10'000};  // how often it says what it waits for
  // Called once when the wait has lasted `long_wait` (an image being pulled).
  std::chrono::milliseconds long_wait{1'000};
  std::function<void()> on_long_wait;
};

// Returns once every directory in `dirs` holds a source file, or one holds
// an error file.
// kCancelled, without reading it, when `stop_fd` is readable (a termination
// signal); -1 for none.
base::Status WaitForServedDisks(const std::vector<std::string>& dirs, int stop_fd,
                                const ServedDiskWait& wait);

// Leaves the stop file in each directory of `container_disks_dir`, then
// sends SIGTERM to each containerDisk container's process found in a
// source file that is still there (its file still resolves), so the pod can
// end with the launcher. Returns how many it signalled.
int StopDiskServers(const std::string& container_disks_dir);

}  // namespace vireo::launcher
