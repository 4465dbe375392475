// Magic-byte sniffing for the importer; see import_format.h.
#include "launcher/import_format.h"

#include <algorithm>
#include <cctype>

namespace vireo::launcher {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Compression SniffCompression(std::string_view head, std::string* name) {
  using namespace std::string_view_literals;
  Compression found = Compression::kNone;
  std::string what;
  if (StartsWith(head, "\x1f\x8b"sv)) {
    found = Compression::kGzip;
  } else if (StartsWith(head, "\xfd\x37\x7a\x58\x5a\x00"sv)) {
    found = Compression::kXz;
  } else if (StartsWith(head, "BZh"sv) && head.size() >= 4 && head[3] >= '1' && head[3] <= '9') {
    found = Compression::kUnsupported;
    what = "bzip2";
  } else if (StartsWith(head, "\x28\xb5\x2f\xfd"sv)) {
    found = Compression::kUnsupported;
    what = "zstd";
  }
  if (name != nullptr) *name = found == Compression::kUnsupported ? what : CompressionName(found);
  return found;
}

const char* CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kXz:
      return "xz";
    case Compression::kUnsupported:
      return "unsupported";
  }
  return "?";
}

std::string SniffImageFormat(std::string_view head) {
  using namespace std::string_view_literals;
  if (StartsWith(head, "QFI\xfb\x00\x00\x00"sv) && head.size() >= 8) {
    // Version 1 is the old qcow; 2 and 3 are qcow2.
    return head[7] == 1 ? "qcow" : "qcow2";
  }
  if (StartsWith(head, "QED\0"sv)) return "qed";
  if (StartsWith(head, "KDMV"sv) || StartsWith(head, "COWD"sv) ||
      StartsWith(head, "# Disk DescriptorFile"sv)) {
    return "vmdk";
  }
  if (head.size() >= 0x44 && head.substr(0x40, 4) == "\x7f\x10\xda\xbe"sv) return "vdi";
  if (StartsWith(head, "vhdxfile"sv)) return "vhdx";
  if (StartsWith(head, "conectix"sv)) return "vpc";
  if (StartsWith(head, "WithoutFreeSpace"sv) || StartsWith(head, "WithouFreSpacExt"sv)) {
    return "parallels";
  }
  if (StartsWith(head, "LUKS\xba\xbe"sv)) return "luks";
  // A web page instead of an image: leading whitespace, then a tag.
  const size_t start = head.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos) {
    const std::string text = Lower(head.substr(start, 64));
    if (StartsWith(text, "<!doctype html") || StartsWith(text, "<html") ||
        StartsWith(text, "<head") || StartsWith(text, "<?xml")) {
      return "html";
    }
  }
  return "raw";
}

}  // namespace vireo::launcher
