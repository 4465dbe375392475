// What a stream of image bytes is, from its first bytes: the compression
// around it (gzip, xz) and the disk format inside (raw, qcow2, vmdk, ...).
// Pure functions, used by `vireo-launcher import` (import.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vireo::launcher {

enum class Compression { kNone, kGzip, kXz, kUnsupported };

// Enough leading bytes for SniffCompression.
inline constexpr size_t kCompressionSniffBytes = 6;

// By magic bytes only (never by file name): gzip 1f 8b, xz fd 37 7a 58 5a 00.
// bzip2 and zstd, which the importer cannot decompress, are kUnsupported
// (`name` says which); anything else is kNone.
Compression SniffCompression(std::string_view head, std::string* name = nullptr);
const char* CompressionName(Compression compression);

// Enough leading bytes for SniffImageFormat (VDI's signature is at 0x40).
inline constexpr size_t kFormatSniffBytes = 512;

// The disk format qemu-img would name, from the first bytes of the
// (decompressed) image: "qcow2", "qcow", "qed", "vmdk", "vdi", "vhdx", "vpc",
// "parallels", or "raw" for anything without a known header (an ISO, a
// partitioned disk). Special values: "html" for what looks like a web page
// (a portal or error page served with 200), "luks" for an encrypted image
// (no key to open it) — both are not importable.
std::string SniffImageFormat(std::string_view head);

}  // namespace vireo::launcher
