// `vireo-launcher import`: populates a DataVolume's claim in the importer
// pod, as lib/api/importer_pod.h and docs/importer-pod.md lay it out. The
// result is always a raw disk: disk.img (sparse, sized by DiskImageBytes) on
// a filesystem claim, or the bytes of a block claim's device.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "launcher/import_status.h"
#include "lib/api/importer_pod.h"

namespace vireo::launcher {

// The importer pod's paths; the defaults are the contract's, tests point
// them at temp dirs (hidden flags of `import`).
struct ImportLayout {
  std::string target_dir = api::importer::kTargetDir;
  std::string target_device = api::importer::kTargetDevice;
  std::string source_dir = api::importer::kSourceDir;
  std::string source_device = api::importer::kSourceDevice;
  std::string scratch_dir = api::importer::kScratchDir;
  std::string image_dir = api::importer::kImageDir;
  std::string qemu_img = "qemu-img";
};

struct ImportRequest {
  std::string source;  // api::importer::kSourceHttp, ...
  std::string url;     // http
  int64_t claim_bytes = 0;
  ImportLayout layout;
  // http: this long without a byte is a failure (kSourceUnreachable).
  std::chrono::milliseconds stall_timeout = std::chrono::seconds(30);
};

// Runs the import. Prints progress lines ("msg":"import progress") on stdout
// and logs on stderr. The status's message is the termination message: one
// line, what happened, in words a user can act on (a summary on success).
// Never overwrites an existing disk.img: it is kept, kImported.
ImportStatus RunImport(const ImportRequest& request);

// "9.45 GiB" (two decimals, binary units), for messages.
std::string HumanBytes(int64_t bytes);

}  // namespace vireo::launcher
