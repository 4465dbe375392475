// Image format detection and the qemu-img calls: info, check, create.
#include "launcher/storage/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "launcher/storage/process.h"
#include "lib/base/json.h"

namespace vireo::launcher {

using base::Code;
using base::Result;
using base::Status;
using storage_internal::LastLine;
using storage_internal::ProcessResult;
using storage_internal::RunProcess;

Result<DiskFormat> DetectImageFormat(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return Status(error == ENOENT ? Code::kNotFound : Code::kInvalid,
                  "cannot open " + path + ": " + std::strerror(error));
  }
  unsigned char magic[4] = {};
  ssize_t n;
  do {
    n = ::pread(fd, magic, sizeof magic, 0);
  } while (n < 0 && errno == EINTR);
  const int error = errno;
  ::close(fd);
  if (n < 0) return Status(Code::kInvalid, "cannot read " + path + ": " + std::strerror(error));
  // A raw image shorter than the magic (even an empty one) is still raw.
  const bool qcow2 =
      n == 4 && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' && magic[3] == 0xfb;
  return qcow2 ? DiskFormat::kQcow2 : DiskFormat::kRaw;
}

Result<ImageInfo> QueryImage(const std::string& qemu_img, const std::string& path,
                             DiskFormat format) {
  Result<ImageInfo> info = QueryImageAs(qemu_img, path, DiskFormatName(format));
  if (info.ok()) info->format = format;
  return info;
}

Result<ImageInfo> QueryImageAs(const std::string& qemu_img, const std::string& path,
                               const std::string& format) {
  Result<ProcessResult> run = RunProcess({qemu_img, "info", "--output=json", "-f", format, path});
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return Status(Code::kInvalid,
                  "qemu-img cannot read " + path + " as " + format + ": " + LastLine(run->output));
  }
  Result<base::Json> json = base::ParseJson(run->output, "qemu-img info output");
  if (!json.ok()) return json.status();
  ImageInfo info;
  info.virtual_size = base::GetInt(*json, "virtual-size").value_or(0);
  info.backing_file = base::GetString(*json, "backing-filename");
  return info;
}

Status CheckImage(const std::string& qemu_img, const std::string& path, DiskFormat format) {
  if (format != DiskFormat::kQcow2) return Status::Ok();
  return CheckImageAs(qemu_img, path, "qcow2");
}

Status CheckImageAs(const std::string& qemu_img, const std::string& path,
                    const std::string& format) {
  if (format == "raw") return Status::Ok();
  Result<ProcessResult> run = RunProcess({qemu_img, "check", "-q", "-f", format, path});
  if (!run.ok()) return run.status();
  // qemu-img check: 0 clean, 3 leaked clusters only (space, not data, is
  // lost), 63 a format it cannot check, 2 corruption, 1 not checkable at all.
  if (run->exit_code == 0 || run->exit_code == 3 || run->exit_code == 63) return Status::Ok();
  const std::string why = LastLine(run->output);
  return Status(Code::kInvalid, path + " is a corrupt or unreadable " + format +
                                    " image (qemu-img check: " +
                                    (why.empty() ? "exit " + std::to_string(run->exit_code) : why) +
                                    "); repair it with 'qemu-img check -r all' or replace it");
}

Status CreateOverlay(const std::string& qemu_img, const std::string& path,
                     const std::string& backing, DiskFormat backing_format) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status(Code::kInternal,
                  "cannot remove old overlay " + path + ": " + std::strerror(errno));
  }
  Result<ProcessResult> run = RunProcess({qemu_img, "create", "-q", "-f", "qcow2", "-b", backing,
                                          "-F", DiskFormatName(backing_format), path});
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return Status(Code::kInternal, "qemu-img could not create overlay " + path + " on " + backing +
                                       ": " + LastLine(run->output));
  }
  return Status::Ok();
}

Status CreateSparseImage(const std::string& qemu_img, const std::string& path, DiskFormat format,
                         int64_t size_bytes) {
  if (size_bytes <= 0 || size_bytes % 512 != 0) {
    return Status(Code::kInvalid, "image size " + std::to_string(size_bytes) + " for " + path +
                                      " is not a positive multiple of 512");
  }
  if (format == DiskFormat::kQcow2) {
    Result<ProcessResult> run =
        RunProcess({qemu_img, "create", "-q", "-f", "qcow2", path, std::to_string(size_bytes)});
    if (!run.ok()) return run.status();
    if (run->exit_code != 0) {
      return Status(Code::kInternal,
                    "qemu-img could not create " + path + ": " + LastLine(run->output));
    }
    return Status::Ok();
  }
  // O_EXCL: never truncate a disk that appeared meanwhile.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
  if (fd < 0) return Status(Code::kInternal, "cannot create " + path + ": " + std::strerror(errno));
  if (::ftruncate(fd, size_bytes) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Status(Code::kInternal, "cannot size " + path + " to " + std::to_string(size_bytes) +
                                       " bytes: " + std::strerror(error));
  }
  if (::close(fd) != 0)
    return Status(Code::kInternal, "cannot close " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace vireo::launcher
