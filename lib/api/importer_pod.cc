// The disk sizing rule and exit-code vocabulary of the importer pod contract.
#include "lib/api/importer_pod.h"

namespace vireo::api::importer {
namespace {
constexpr int64_t kMiB = 1LL << 20;
}

std::string_view ReasonForExitCode(int code) {
  switch (code) {
    case kImported:
      return "ImportSucceeded";
    case kUsage:
      return "ImporterUsage";
    case kSourceUnreachable:
      return "ImportSourceUnreachable";
    case kSourceNotFound:
      return "ImportSourceNotFound";
    case kInvalidImage:
      return "ImportInvalidImage";
    case kTooLarge:
      return "ImportImageTooLarge";
    case kTargetUnusable:
      return "ImportTargetUnusable";
    default:
      return "ImportFailed";
  }
}

bool IsTransient(int code) { return code == kSourceUnreachable || code == kFailed; }

int64_t DiskImageBytes(int64_t claim_bytes) {
  if (claim_bytes <= 0) return 0;
  const auto usable =
      static_cast<int64_t>(static_cast<double>(claim_bytes) * (1.0 - kFilesystemOverhead));
  return usable / kMiB * kMiB;
}

int64_t ClaimBytesForDisk(int64_t disk_bytes) {
  if (disk_bytes <= 0) return 0;
  const double exact = static_cast<double>(disk_bytes) / (1.0 - kFilesystemOverhead);
  int64_t claim = (static_cast<int64_t>(exact) + kMiB - 1) / kMiB * kMiB;
  while (DiskImageBytes(claim) < disk_bytes) claim += kMiB;
  return claim;
}

std::optional<int64_t> BlankDiskBytes(std::optional<int64_t> claim_bytes, int64_t available_bytes) {
  const int64_t available = available_bytes / kMiB * kMiB;
  if (!claim_bytes.has_value()) {
    if (available < kMiB) return std::nullopt;
    return available;
  }
  const int64_t wanted = DiskImageBytes(*claim_bytes);
  if (wanted < kMiB) return std::nullopt;
  if (available >= wanted) return wanted;
  const auto least =
      static_cast<int64_t>(static_cast<double>(wanted) * (1.0 - kLessSpaceToleration));
  if (available >= least && available >= kMiB) return available;
  return std::nullopt;
}

}  // namespace vireo::api::importer
