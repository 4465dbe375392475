#include "launcher/storage/container_disk.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "lib/api/launcher_pod.h"
#include "lib/base/file_util.h"
#include "lib/base/log.h"

namespace vireo::launcher {

using base::Code;
using base::Result;
using base::Status;
namespace contract = api::launcher_pod;
namespace fs = std::filesystem;

Result<ServedDisk> ParseServedDisk(const std::string& text) {
  std::string_view line = text;
  if (line.ends_with('\n')) line.remove_suffix(1);
  auto invalid = [&] {
    return Status(Code::kInvalid, "expected \"<pid> <path>\", got \"" + std::string(line) + "\"");
  };
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return invalid();
  // from_chars takes digits and a leading '-' only, and refuses a pid that
  // overflows pid_t; the whole field must be the number.
  const char* pid_end = line.data() + space;
  ServedDisk disk;
  const auto [parsed_to, error] = std::from_chars(line.data(), pid_end, disk.pid);
  disk.path = line.substr(space + 1);
  if (error != std::errc() || parsed_to != pid_end || disk.pid <= 0 ||
      !disk.path.starts_with('/') || disk.path.find('\n') != std::string::npos) {
    return invalid();
  }
  return disk;
}

Result<std::optional<ServedDisk>> ReadServedDisk(const std::string& dir) {
  const std::string error_file = dir + "/" + contract::kContainerDiskErrorFile;
  if (::access(error_file.c_str(), F_OK) == 0) {
    Result<std::string> why = base::ReadFile(error_file);
    std::string text = why.ok() ? *why : why.status().message();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Status(Code::kInvalid, "the containerDisk image: " + text);
  }
  const std::string source_file = dir + "/" + contract::kContainerDiskSourceFile;
  if (::access(source_file.c_str(), F_OK) != 0) return std::optional<ServedDisk>();
  Result<std::string> text = base::ReadFile(source_file);
  if (!text.ok()) return text.status();
  Result<ServedDisk> disk = ParseServedDisk(*text);
  if (!disk.ok()) return disk.status().WithContext(source_file);
  return std::optional<ServedDisk>(std::move(*disk));
}

Result<std::string> ServedDiskFile(const ServedDisk& disk) {
  const std::string root = "/proc/" + std::to_string(disk.pid) + "/root";
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    return Status(Code::kNotFound, "the containerDisk container's process " +
                                       std::to_string(disk.pid) + " is gone or out of reach (" +
                                       root + ": " + std::strerror(errno) + ")");
  }
  std::string path = root;
  const fs::path parts = fs::path(disk.path).relative_path();
  for (auto part = parts.begin(); part != parts.end(); ++part) {
    if (*part == "." || *part == ".." || part->empty()) {
      return Status(Code::kInvalid, "the disk's path " + disk.path + " is not resolved");
    }
    path.push_back('/');
    path.append(part->string());
    if (::lstat(path.c_str(), &st) != 0) {
      return Status(Code::kInvalid,
                    disk.path + " in the containerDisk image: " + std::strerror(errno));
    }
    const bool last = std::next(part) == parts.end();
    if (S_ISLNK(st.st_mode)) {
      return Status(Code::kInvalid, disk.path + " in the containerDisk image goes through a " +
                                        "symbolic link; the container resolves them itself");
    }
    if (last ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)) {
      return Status(Code::kInvalid, disk.path + " in the containerDisk image is not a " +
                                        (last ? "regular file" : "directory path"));
    }
  }
  if (path == root) return Status(Code::kInvalid, "the disk's path is the image's root");
  // The container's /proc and /sys are its own: a file there is a window on
  // the pod's processes, not a disk.
  struct statfs fs_info {};
  if (::statfs(path.c_str(), &fs_info) == 0 &&
      (fs_info.f_type == PROC_SUPER_MAGIC || fs_info.f_type == SYSFS_MAGIC)) {
    return Status(Code::kInvalid,
                  disk.path + " in the containerDisk image is on /proc or /sys, not a disk image");
  }
  return path;
}

Status WaitForServedDisks(const std::vector<std::string>& dirs, int stop_fd,
                          const ServedDiskWait& wait) {
  const auto started = std::chrono::steady_clock::now();
  auto next_log = started + wait.log_every;
  bool long_wait_told = false;
  for (;;) {
    std::vector<std::string> waiting;
    for (const std::string& dir : dirs) {
      // One error fails the start: no need to wait for the others.
      if (::access((dir + "/" + contract::kContainerDiskErrorFile).c_str(), F_OK) == 0) {
        return Status::Ok();
      }
      if (::access((dir + "/" + contract::kContainerDiskSourceFile).c_str(), F_OK) != 0) {
        waiting.push_back(dir);
      }
    }
    if (waiting.empty()) return Status::Ok();
    const auto now = std::chrono::steady_clock::now();
    if (!long_wait_told && now >= started + wait.long_wait) {
      long_wait_told = true;
      if (wait.on_long_wait) wait.on_long_wait();
    }
    if (now >= next_log) {
      std::string names;
      for (const std::string& dir : waiting) names += (names.empty() ? "" : " ") + dir;
      base::LogInfo(
          "waiting for the containerDisk containers (their images may be pulling)",
          {{"dirs", names},
           {"waitedS",
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(now - started).count())}});
      next_log = now + wait.log_every;
    }
    struct pollfd pfd {
      stop_fd, POLLIN, 0
    };
    const int ready = ::poll(&pfd, stop_fd >= 0 ? 1 : 0, static_cast<int>(wait.poll.count()));
    if (ready > 0 && (pfd.revents & POLLIN) != 0) {
      return Status(Code::kCancelled,
                    "a termination signal arrived while waiting for the "
                    "containerDisk containers");
    }
  }
}

int StopDiskServers(const std::string& container_disks_dir) {
  int stopped = 0;
  std::error_code error;
  // First the stop file in each directory: a server that answers after the
  // scan below sees it and ends by itself.
  for (const auto& entry : fs::directory_iterator(container_disks_dir, error)) {
    const std::string stop = entry.path().string() + "/" + contract::kContainerDiskStopFile;
    const int fd = ::open(stop.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
  }
  for (const auto& entry : fs::directory_iterator(container_disks_dir, error)) {
    Result<std::optional<ServedDisk>> disk = ReadServedDisk(entry.path().string());
    if (!disk.ok() || !disk->has_value() || (*disk)->pid == ::getpid()) continue;
    // Only a process that still serves that file: not a pid since reused.
    if (!ServedDiskFile(**disk).ok()) continue;
    if (::kill((*disk)->pid, SIGTERM) == 0) ++stopped;
  }
  return stopped;
}

}  // namespace vireo::launcher
