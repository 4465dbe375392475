// PVC helpers shared by the VM and VMI decisions.
#include "controllers/reconcile/common.h"

#include <algorithm>

namespace vireo::controllers {

std::vector<std::string> ClaimNames(const api::VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> names;
  for (const api::Volume& volume : spec.volumes) {
    if (!volume.persistent_volume_claim.has_value()) continue;
    const std::string& claim = volume.persistent_volume_claim->claim_name;
    if (claim.empty() || std::find(names.begin(), names.end(), claim) != names.end()) continue;
    names.push_back(claim);
  }
  return names;
}

VolumeMode VolumeModeOf(const Json& pvc) {
  return kube::GetString(pvc, "spec.volumeMode") == "Block" ? VolumeMode::kBlock
                                                            : VolumeMode::kFilesystem;
}

std::vector<std::string> MissingClaims(const api::VirtualMachineInstanceSpec& spec,
                                       const Claims& claims) {
  std::vector<std::string> missing;
  for (const std::string& name : ClaimNames(spec)) {
    if (!claims.contains(name)) missing.push_back(name);
  }
  return missing;
}

}  // namespace vireo::controllers
