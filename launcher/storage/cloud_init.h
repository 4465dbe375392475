// The cloudInitNoCloud seed: a `cidata` ISO 9660 image with user-data,
// meta-data and network-config, made by xorriso (Debian's package) as a
// child process.
#pragma once

#include <string>

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// The files of a NoCloud seed, as they land on the ISO.
struct NoCloudSeed {
  std::string user_data;       // "user-data" (always written, may be empty)
  std::string meta_data;       // "meta-data"
  std::string network_config;  // "network-config"; omitted from the ISO when empty
};

// Where the launcher pod mounts the Secrets a cloudInitNoCloud volume names:
// secretRef at <volume_dir>/userdata/, networkDataSecretRef at
// <volume_dir>/networkdata/ (docs/launcher-pod.md).
struct NoCloudSecretDirs {
  std::string user_data;
  std::string network_data;
};
NoCloudSecretDirs NoCloudSecretDirsUnder(const std::string& volume_dir);

// The seed for `source` of `vmi`. meta-data carries instance-id (the VMI
// uid, else namespace/name) and local-hostname (spec.hostname, else the VMI
// name). userDataBase64 / networkDataBase64 are decoded; kInvalid naming the
// volume and field when they are not base64. With secretRef /
// networkDataSecretRef the data is the Secret's key `userdata` (or
// `userData`) / `networkdata` (or `networkData`) read from `secrets`;
// kNotFound naming the Secret and the keys when neither is there.
base::Result<NoCloudSeed> MakeNoCloudSeed(const api::VirtualMachineInstance& vmi,
                                          const std::string& volume,
                                          const api::CloudInitNoCloudSource& source,
                                          const NoCloudSecretDirs& secrets = {});

// Writes `seed` as an ISO 9660 image (volume id "cidata", Joliet + Rock
// Ridge) at `iso_path`, replacing any file there. Runs `xorriso`; its files
// are staged in a temporary folder next to `iso_path`, removed afterwards.
// kInternal quoting xorriso when it fails, kNotFound when it is missing.
base::Status WriteNoCloudIso(const NoCloudSeed& seed, const std::string& iso_path,
                             const std::string& xorriso = "xorriso");

}  // namespace vireo::launcher
