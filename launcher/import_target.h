// Where an import writes: the claim's disk.img (under a temporary name until
// it is complete) or its block device, and the writer that keeps it sparse.
// Part of `vireo-launcher import` (import.h).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "launcher/import.h"
#include "launcher/import_status.h"

namespace vireo::launcher {

// Sparse detection granularity, as qemu-img's -S default.
inline constexpr size_t kBlock = 4096;

std::string Errno(int error);

// Where the disk goes: a block claim's device, or disk.img written under a
// temporary name on a filesystem claim.
struct Target {
  bool device = false;
  std::string path;  // the device, or <target_dir>/disk.img
  std::string temp;  // what is written: the device, or disk.img.importing
  int64_t size = 0;  // the disk's size in bytes
  std::string name;  // for messages: "disk.img" or the device path
};

// Appends bytes at increasing offsets; on files, all-zero blocks become
// holes (the result is sparse whatever the source was).
class DiskWriter {
 public:
  ~DiskWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  ImportStatus Open(const std::string& path, bool device, int64_t limit, int no_space_code) {
    path_ = path;
    sparse_ = !device;
    limit_ = limit;
    no_space_code_ = no_space_code;
    fd_ =
        ::open(path.c_str(),
               device ? (O_WRONLY | O_CLOEXEC) : (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC), 0660);
    if (fd_ < 0)
      return ImportError(api::importer::kTargetUnusable,
                         "cannot open " + path + ": " + Errno(errno));
    return ImportStatus::Ok();
  }
  int64_t offset() const { return offset_; }

  ImportStatus Write(const char* data, size_t size) {
    if (limit_ > 0 && offset_ + static_cast<int64_t>(size) > limit_) {
      return ImportError(api::importer::kTooLarge, "");  // the caller words it: it knows the sizes
    }
    size_t i = 0;
    while (i < size) {
      // Up to the next block boundary of the output.
      const size_t room = kBlock - static_cast<size_t>(offset_ % kBlock);
      size_t n = std::min(room, size - i);
      if (sparse_ && IsZero(data + i, n)) {
        offset_ += static_cast<int64_t>(n);
        i += n;
        continue;
      }
      // A run of non-zero blocks in one pwrite.
      size_t run = n;
      while (i + run < size) {
        const size_t next = std::min(kBlock, size - i - run);
        if (sparse_ && IsZero(data + i + run, next)) break;
        run += next;
      }
      if (ImportStatus s = WriteAll(data + i, run, offset_); !s.ok()) return s;
      offset_ += static_cast<int64_t>(run);
      i += run;
    }
    return ImportStatus::Ok();
  }

  // Holes at the end count too: the file is as long as what was written.
  ImportStatus Close() {
    if (fd_ < 0) return ImportStatus::Ok();
    if (sparse_ && ::ftruncate(fd_, offset_) != 0) {
      return ImportError(api::importer::kFailed, "cannot size " + path_ + ": " + Errno(errno));
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      return ImportError(no_space_code_, "cannot write " + path_ + ": " + Errno(errno));
    return ImportStatus::Ok();
  }

 private:
  static bool IsZero(const char* p, size_t n) {
    return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
  }
  ImportStatus WriteAll(const char* p, size_t n, int64_t at) {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd_, p, n, at);
      if (w < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        return ImportError(
            error == ENOSPC ? no_space_code_ : api::importer::kFailed,
            "cannot write " + path_ + " at byte " + std::to_string(at) + ": " + Errno(error) +
                (error == ENOSPC ? "; the volume has less room than it claims" : ""));
      }
      p += w;
      n -= static_cast<size_t>(w);
      at += w;
    }
    return ImportStatus::Ok();
  }

  int fd_ = -1;
  std::string path_;
  bool sparse_ = true;
  int64_t limit_ = 0;
  int64_t offset_ = 0;
  int no_space_code_ = api::importer::kFailed;
};

// The size of a block device (or of a file standing in for one), -1 when
// it cannot be told.
int64_t DeviceSize(int fd);

// Finds the target and checks it can take a disk. `*kept` when disk.img
// already exists: it is never overwritten.
ImportStatus PrepareTarget(const ImportRequest& request, Target* target, bool* kept);

// kTooLarge, with both sizes, when an image of `image_bytes` does not fit.
ImportStatus CheckFits(int64_t image_bytes, const Target& target);

// The last step for a filesystem claim: grow to the target size, fsync,
// rename into place, fsync the directory. For a device: fsync.
ImportStatus Commit(const Target& target);

// `status`, after removing the temporary file of a failed import.
ImportStatus Finalize(ImportStatus status, const Target& target);

}  // namespace vireo::launcher
