// `vireo-launcher import`; see import.h. One pipeline for every source:
// bytes (an HTTP body or a local file) → gzip/xz decompression when the
// magic says so → format sniffing → raw bytes straight onto the claim, or
// another format into scratch space and `qemu-img convert` onto the claim.
#include "launcher/import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/iostreams/concepts.hpp>
#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filter/lzma.hpp>
#include <boost/iostreams/filtering_streambuf.hpp>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "launcher/import_format.h"
#include "launcher/import_http.h"
#include "launcher/import_target.h"
#include "launcher/storage/image.h"
#include "launcher/storage/process.h"
#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

namespace io = boost::iostreams;
namespace fs = std::filesystem;
using namespace api::importer;
using Clock = std::chrono::steady_clock;


// Progress lines on stdout: JSON log lines the controller reads from the
// pod's log (lib/api/importer_pod.h), at most about once a second.
class Progress {
 public:
  void SetTotal(std::optional<uint64_t> total) { total_ = total; }
  void Update(uint64_t done, bool force = false) {
    if (!total_.has_value() || *total_ == 0) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    Print(100.0 * static_cast<double>(std::min(done, *total_)) / static_cast<double>(*total_));
  }
  void Percent(double percent) {
    const auto now = Clock::now();
    if (percent < 100.0 && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    Print(percent);
  }

 private:
  static void Print(double percent) {
    char ts[64];
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1000000;
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long>(micros));
    std::printf(R"({"ts":"%s","level":"info","msg":"%s","progress":"%.2f%%"})"
                "\n",
                ts, kProgressMessage, percent);
    std::fflush(stdout);
  }
  std::optional<uint64_t> total_;
  Clock::time_point last_{};
};

// The streaming part of the pipeline (an HTTP body or a compressed local
// file): decompression by magic bytes, then raw bytes onto the target, any
// other format into the scratch dir.
class ImageStream : public HttpSink {
 public:
  ImageStream(const Target& target, const ImportLayout& layout, Progress* progress)
      : target_(target), layout_(layout), progress_(progress) {}

  ImportStatus OnResponse(const Url& url, std::optional<uint64_t> content_length) override {
    url_ = url.ToString();
    length_ = content_length;
    progress_->SetTotal(content_length);
    return ImportStatus::Ok();
  }

  ImportStatus OnData(const char* data, size_t size) override {
    received_ += size;
    progress_->Update(received_);
    if (!compression_known_) {
      head_.append(data, size);
      if (head_.size() < kCompressionSniffBytes) return ImportStatus::Ok();
      if (ImportStatus s = StartDecompression(); !s.ok()) return s;
      std::string head;
      head.swap(head_);
      return Decompress(head.data(), head.size());
    }
    return Decompress(data, size);
  }

  // The input ended: flush the decompressor and the output.
  ImportStatus Finish() {
    if (!compression_known_) {
      if (ImportStatus s = StartDecompression(); !s.ok()) return s;
      std::string head;
      head.swap(head_);
      if (ImportStatus s = Decompress(head.data(), head.size()); !s.ok()) return s;
    }
    if (decompressor_) {
      try {
        decompressor_->pubsync();
        io::close(*decompressor_);
        decompressor_.reset();
      } catch (const Abort&) {
        return failure_;
      } catch (const std::exception& e) {
        return CorruptStream(e);
      }
    }
    if (!format_known_) {
      if (ImportStatus s = DecideFormat(); !s.ok()) return s;
    }
    if (image_bytes_ == 0) {
      return ImportError(
          kInvalidImage,
          "the image is empty (0 bytes" +
              std::string(compression_ == Compression::kNone ? "" : " after decompression") + ")");
    }
    progress_->Update(received_, /*force=*/true);
    return writer_.Close();
  }

  Compression compression() const { return compression_; }
  const std::string& format() const { return format_; }
  int64_t image_bytes() const { return image_bytes_; }
  // For a format other than raw: the file in the scratch dir.
  const std::string& scratch_file() const { return scratch_file_; }

 private:
  struct Abort {};
  // Boost.Iostreams sink: the decompressed bytes go on into Feed.
  struct Forward {
    using char_type = char;
    using category = io::sink_tag;
    ImageStream* stream;
    std::streamsize write(const char* s, std::streamsize n) {
      ImportStatus status = stream->Feed(s, static_cast<size_t>(n));
      if (!status.ok()) {
        stream->failure_ = std::move(status);
        throw Abort{};
      }
      return n;
    }
  };

  ImportStatus StartDecompression() {
    compression_known_ = true;
    std::string name;
    compression_ = SniffCompression(head_, &name);
    if (compression_ == Compression::kUnsupported) {
      return ImportError(kInvalidImage, "the image is compressed with " + name +
                                            ", which the importer cannot decompress; "
                                            "use gzip or xz, or no compression");
    }
    if (compression_ == Compression::kNone) return ImportStatus::Ok();
    decompressor_ = std::make_unique<io::filtering_ostreambuf>();
    if (compression_ == Compression::kGzip) {
      decompressor_->push(io::gzip_decompressor());
    } else {
      decompressor_->push(io::lzma_decompressor());
    }
    decompressor_->push(Forward{this});
    return ImportStatus::Ok();
  }

  ImportStatus Decompress(const char* data, size_t size) {
    if (!decompressor_) return Feed(data, size);
    try {
      const auto n = static_cast<std::streamsize>(size);
      if (decompressor_->sputn(data, n) != n) {
        return ImportError(kInvalidImage, std::string("the ") + CompressionName(compression_) +
                                              " stream is corrupt");
      }
    } catch (const Abort&) {
      return failure_;
    } catch (const std::exception& e) {
      return CorruptStream(e);
    }
    return ImportStatus::Ok();
  }

  ImportStatus CorruptStream(const std::exception& e) {
    return ImportError(kInvalidImage, std::string("the ") + CompressionName(compression_) +
                                          " stream is corrupt or truncated after " +
                                          std::to_string(received_) + " compressed bytes (" +
                                          e.what() + ")");
  }

  // Decompressed bytes.
  ImportStatus Feed(const char* data, size_t size) {
    if (!format_known_) {
      format_head_.append(data, size);
      if (format_head_.size() < kFormatSniffBytes) return ImportStatus::Ok();
      if (ImportStatus s = DecideFormat(); !s.ok()) return s;
      return ImportStatus::Ok();
    }
    return Write(data, size);
  }

  ImportStatus Write(const char* data, size_t size) {
    ImportStatus s = writer_.Write(data, size);
    if (s.code == kTooLarge) {
      return ImportError(kTooLarge, "the image is larger than the claim holds: more than " +
                                        std::to_string(target_.size) + " bytes (" +
                                        HumanBytes(target_.size) + "), " + target_.name +
                                        "'s size; use a larger claim");
    }
    if (s.ok()) image_bytes_ += static_cast<int64_t>(size);
    return s;
  }

  ImportStatus DecideFormat() {
    format_known_ = true;
    format_ = SniffImageFormat(format_head_);
    if (format_ == "html") {
      return ImportError(kInvalidImage, "the source is a web page, not a disk image" +
                                            (url_.empty() ? "" : " (" + url_ + ")") +
                                            "; check the URL");
    }
    if (format_ == "luks") {
      return ImportError(kInvalidImage,
                         "the image is LUKS-encrypted; the importer has no key to open it");
    }
    if (format_ == "raw") {
      if (compression_ == Compression::kNone && length_.has_value() &&
          static_cast<int64_t>(*length_) > target_.size) {
        return ImportError(kTooLarge, "the image is " + std::to_string(*length_) + " bytes (" +
                                          HumanBytes(static_cast<int64_t>(*length_)) +
                                          "), larger than " + target_.name + " (" +
                                          std::to_string(target_.size) + " bytes, " +
                                          HumanBytes(target_.size) + "); use a larger claim");
      }
      if (ImportStatus s =
              writer_.Open(target_.temp, target_.device, target_.size, kTargetUnusable);
          !s.ok()) {
        return s;
      }
    } else {
      std::error_code error;
      fs::create_directories(layout_.scratch_dir, error);
      scratch_file_ = layout_.scratch_dir + "/download." + format_;
      if (ImportStatus s = writer_.Open(scratch_file_, /*device=*/false, /*limit=*/0, kFailed);
          !s.ok()) {
        return ImportError(kFailed,
                           s.message + " (the scratch space, needed to convert " + format_ + ")");
      }
    }
    std::string head;
    head.swap(format_head_);
    return Write(head.data(), head.size());
  }

  const Target& target_;
  const ImportLayout& layout_;
  Progress* progress_;
  std::string url_;
  std::optional<uint64_t> length_;
  uint64_t received_ = 0;
  std::string head_;
  bool compression_known_ = false;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<io::filtering_ostreambuf> decompressor_;
  std::string format_head_;
  bool format_known_ = false;
  std::string format_;
  std::string scratch_file_;
  DiskWriter writer_;
  int64_t image_bytes_ = 0;
  ImportStatus failure_;
};

// qemu-img info's virtual size, refusing backing files; qemu-img check for
// formats that can be checked.
ImportStatus Inspect(const std::string& qemu_img, const std::string& path,
                     const std::string& format, ImageInfo* info) {
  base::Result<ImageInfo> queried = QueryImageAs(qemu_img, path, format);
  if (!queried.ok()) {
    if (queried.status().code() != base::Code::kInvalid) {
      return ImportError(kFailed, queried.status().message());
    }
    return ImportError(kInvalidImage, "the image is corrupt or not a valid " + format + " image (" +
                                          queried.status().message() + ")");
  }
  *info = *queried;
  if (!info->backing_file.empty()) {
    return ImportError(kInvalidImage, "the " + format + " image has a backing file ('" +
                                          info->backing_file +
                                          "'); import a self-contained image (qemu-img convert "
                                          "flattens it)");
  }
  base::Status checked = CheckImageAs(qemu_img, path, format);
  if (!checked.ok()) {
    return ImportError(checked.code() == base::Code::kInvalid ? kInvalidImage : kFailed,
                       "the " + format + " image is corrupt (" + checked.message() + ")");
  }
  return ImportStatus::Ok();
}

// `qemu-img convert` of a local image onto the target, sparse, with
// progress from -p.
ImportStatus Convert(const std::string& qemu_img, const std::string& source,
                     const std::string& format, const Target& target, Progress* progress) {
  std::vector<std::string> argv = {qemu_img, "convert", "-p", "-f", format, "-O", "raw"};
  if (target.device) argv.push_back("-n");  // the device exists; write onto it
  argv.push_back(source);
  argv.push_back(target.temp);
  std::string pending;
  auto run = storage_internal::RunProcess(argv, [&](std::string_view text) {
    // "    (45.20/100%)\r"
    pending.append(text);
    const size_t end = pending.rfind("/100%)");
    if (end == std::string::npos) return;
    const size_t open = pending.rfind('(', end);
    if (open != std::string::npos) {
      try {
        progress->Percent(std::stod(pending.substr(open + 1, end - open - 1)));
      } catch (const std::exception&) {
      }
    }
    pending.erase(0, end + 6);
  });
  if (!run.ok()) return ImportError(kFailed, run.status().message());
  if (run->exit_code != 0) {
    const std::string why = storage_internal::LastLine(run->output);
    return ImportError(
        why.find("No space left") != std::string::npos ? kTargetUnusable : kFailed,
        "qemu-img convert " + format + " → raw onto " + target.name + " failed: " + why);
  }
  return ImportStatus::Ok();
}

// What the summary line says of the image.
struct Imported {
  std::string from;  // the URL or the source path
  std::string format;
  Compression compression = Compression::kNone;
  int64_t bytes = 0;  // the image's virtual size
};

// Streams `sink` input from an open file (a compressed local image).
ImportStatus StreamFile(const std::string& path, ImageStream* stream, Progress* progress) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ImportError(kSourceNotFound, "cannot open " + path + ": " + Errno(errno));
  const int64_t size = DeviceSize(fd);
  ::lseek(fd, 0, SEEK_SET);
  progress->SetTotal(size > 0 ? std::optional<uint64_t>(size) : std::nullopt);
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return ImportError(kFailed, "cannot read " + path + ": " + Errno(error));
    }
    if (n == 0) break;
    if (ImportStatus s = stream->OnData(buf.data(), static_cast<size_t>(n)); !s.ok()) {
      ::close(fd);
      return s;
    }
  }
  ::close(fd);
  return stream->Finish();
}

// After a stream: raw is on the target already; another format is in the
// scratch dir and is checked and converted.
ImportStatus AfterStream(const ImageStream& stream, const ImportRequest& request,
                         const Target& target, Progress* progress, Imported* imported) {
  imported->format = stream.format();
  imported->compression = stream.compression();
  if (stream.format() == "raw") {
    imported->bytes = stream.image_bytes();
    return ImportStatus::Ok();
  }
  ImageInfo info;
  ImportStatus s = Inspect(request.layout.qemu_img, stream.scratch_file(), stream.format(), &info);
  if (s.ok()) s = CheckFits(info.virtual_size, target);
  if (s.ok()) {
    base::LogInfo("converting to raw", {{"format", stream.format()}, {"target", target.name}});
    s = Convert(request.layout.qemu_img, stream.scratch_file(), stream.format(), target, progress);
  }
  ::unlink(stream.scratch_file().c_str());
  imported->bytes = info.virtual_size;
  return s;
}

// registry and pvc: an image file (or device) already in the pod.
ImportStatus ImportLocal(const std::string& path, const ImportRequest& request,
                         const Target& target, Progress* progress, Imported* imported) {
  std::string head(kFormatSniffBytes, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ImportError(kSourceNotFound, "cannot open " + path + ": " + Errno(errno));
  const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  if (n < 0) return ImportError(kFailed, "cannot read " + path + ": " + Errno(errno));
  head.resize(static_cast<size_t>(n));
  if (head.empty()) return ImportError(kInvalidImage, path + " is empty");
  if (SniffCompression(head) != Compression::kNone) {
    ImageStream stream(target, request.layout, progress);
    if (ImportStatus s = StreamFile(path, &stream, progress); !s.ok()) return s;
    return AfterStream(stream, request, target, progress, imported);
  }
  imported->format = SniffImageFormat(head);
  if (imported->format == "html" || imported->format == "luks") {
    return ImportError(kInvalidImage, path + " is not a disk image the importer can read (" +
                                          imported->format + ")");
  }
  ImageInfo info;
  if (ImportStatus s = Inspect(request.layout.qemu_img, path, imported->format, &info); !s.ok()) {
    return s;
  }
  imported->bytes = info.virtual_size;
  if (ImportStatus s = CheckFits(info.virtual_size, target); !s.ok()) return s;
  progress->Percent(0.0);
  return Convert(request.layout.qemu_img, path, imported->format, target, progress);
}

ImportStatus FindRegistryImage(const std::string& dir, std::string* path) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file()) found.push_back(entry.path().string());
  }
  if (error) {
    return ImportError(kSourceNotFound, "cannot read " + dir + ": " + error.message() +
                                            "; the init container copies the containerDisk's "
                                            "disk file there");
  }
  if (found.empty()) {
    return ImportError(kSourceNotFound, "no disk file in " + dir +
                                            "; the container image must ship one under /disk/");
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::string names;
    for (const std::string& f : found) names += (names.empty() ? "" : ", ") + f;
    return ImportError(kInvalidImage, "several files in " + dir + " (" + names +
                                          "); the container image must ship one disk file");
  }
  *path = found[0];
  return ImportStatus::Ok();
}

ImportStatus Run(const ImportRequest& request, const Clock::time_point start) {
  const std::string& source = request.source;
  if (source != kSourceHttp && source != kSourceRegistry && source != kSourcePvc &&
      source != kSourceBlank) {
    return ImportError(kUsage,
                       "--source: expected http, registry, pvc or blank, got \"" + source + "\"");
  }
  if (source == kSourceHttp && request.url.empty()) {
    return ImportError(kUsage, "--source=http needs --url");
  }
  Target target;
  bool kept = false;
  if (ImportStatus s = PrepareTarget(request, &target, &kept); !s.ok() || kept) return s;
  base::LogInfo(
      "importing",
      {{"source", source}, {"target", target.path}, {"size", std::to_string(target.size)}});

  Progress progress;
  Imported imported;
  ImportStatus status;
  if (source == kSourceBlank) {
    imported.from = "blank";
  } else if (source == kSourceHttp) {
    imported.from = request.url;
    ImageStream stream(target, request.layout, &progress);
    HttpOptions options;
    options.stall_timeout = request.stall_timeout;
    status = HttpGet(request.url, stream, options);
    if (status.ok()) status = stream.Finish();
    if (status.ok()) status = AfterStream(stream, request, target, &progress, &imported);
    if (!status.ok() && !stream.scratch_file().empty()) ::unlink(stream.scratch_file().c_str());
  } else if (source == kSourceRegistry) {
    std::string path;
    status = FindRegistryImage(request.layout.image_dir, &path);
    imported.from = path;
    if (status.ok()) status = ImportLocal(path, request, target, &progress, &imported);
  } else {
    struct stat st {};
    std::string path = request.layout.source_device;
    if (::stat(path.c_str(), &st) != 0) {
      path = request.layout.source_dir + "/" + kDiskImage;
      if (::stat(path.c_str(), &st) != 0) {
        status = ImportError(kSourceNotFound, "neither the device " + request.layout.source_device +
                                                  " nor " + path +
                                                  " exists; the source claim holds no disk");
      }
    }
    imported.from = path;
    if (status.ok()) status = ImportLocal(path, request, target, &progress, &imported);
  }
  if (status.ok()) status = Commit(target);
  if (!status.ok()) return Finalize(status, target);
  if (source != kSourceBlank) progress.Percent(100.0);

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f s", seconds);
  std::string what = imported.format;
  if (imported.compression != Compression::kNone) {
    what += std::string(", ") + CompressionName(imported.compression);
  }
  const std::string size_text = target.name + " is " + HumanBytes(target.size);
  if (source == kSourceBlank) {
    return ImportStatus::Ok("created a blank disk in " + std::string(elapsed) + "; " + size_text);
  }
  return ImportStatus::Ok("imported " + std::to_string(imported.bytes) + " bytes from " +
                          imported.from + " (" + what + ") in " + elapsed + "; " + size_text);
}

}  // namespace

std::string HumanBytes(int64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char text[64];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%" PRId64 " bytes", bytes);
  } else {
    std::snprintf(text, sizeof text, "%.2f %s", value, kUnits[unit]);
  }
  return text;
}

ImportStatus RunImport(const ImportRequest& request) {
  const auto start = Clock::now();
  try {
    return Run(request, start);
  } catch (const std::exception& e) {
    return ImportError(kFailed, std::string("internal error: ") + e.what());
  }
}

}  // namespace vireo::launcher
