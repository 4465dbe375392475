// PVC helpers shared by the VM and VMI decisions.
#include "controllers/reconcile/common.h"

#include <algorithm>

#include "lib/api/datavolume.h"
#include "lib/api/importer_pod.h"

namespace vireo::controllers {

NodeState NodeStateOf(const Json& node) {
  NodeState state;
  if (const Json* conditions = base::Find(node, "status.conditions");
      conditions != nullptr && conditions->is_array()) {
    for (const Json& c : *conditions) {
      if (base::GetString(c, "type") != "Ready") continue;
      state.ready = base::GetString(c, "status");
      state.ready_since = base::GetString(c, "lastTransitionTime");
    }
  }
  if (const Json* taints = base::Find(node, "spec.taints");
      taints != nullptr && taints->is_array()) {
    for (const Json& t : *taints) {
      if (base::GetString(t, "key") == kOutOfServiceTaint) state.out_of_service = true;
    }
  }
  return state;
}

std::optional<Event> HookSidecarsEvent(const api::StringMap& annotations) {
  if (!annotations.contains(kHookSidecarsAnnotation)) return std::nullopt;
  return Event{kube::EventType::kWarning, "HookSidecarsIgnored",
               std::string("The annotation ") + kHookSidecarsAnnotation +
                   " asks for hook sidecars, which Vireo does not run: the guest starts "
                   "without them"};
}

bool IsPermanentRefusal(const base::Status& status) {
  switch (status.code()) {
    case base::Code::kInvalid:
    case base::Code::kBadRequest:
      return true;
    case base::Code::kForbidden:
      break;
    default:
      return false;
  }
  // The apiserver's words are the only way to tell which admission step
  // refused (metav1.Status says Forbidden for all of them).
  const std::string& m = status.message();
  for (const char* transient :
       {"quota", "because it is being terminated", "cannot create resource"}) {
    if (m.find(transient) != std::string::npos) return false;
  }
  return true;
}

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

std::vector<std::string> AllClaimNames(const api::VirtualMachineInstanceSpec& spec) {
  std::vector<std::string> names = ClaimNames(spec);
  for (const api::Volume& volume : spec.volumes) {
    if (!volume.data_volume.has_value()) continue;
    const std::string& claim = volume.data_volume->name;
    if (claim.empty() || std::find(names.begin(), names.end(), claim) != names.end()) continue;
    names.push_back(claim);
  }
  return names;
}

ClaimInfo ClaimInfoOf(const Json& pvc) {
  ClaimInfo info(VolumeModeOf(pvc));
  info.capacity = base::GetString(pvc, "status.capacity.storage");
  info.request = base::GetString(pvc, "spec.resources.requests.storage");
  if (const Json* owners = base::Find(pvc, "metadata.ownerReferences");
      owners != nullptr && owners->is_array()) {
    for (const Json& owner : *owners) {
      if (base::GetBool(owner, "controller").value_or(false) &&
          base::GetString(owner, "kind") == "DataVolume") {
        info.data_volume = base::GetString(owner, "name");
      }
    }
  }
  if (const Json* modes = base::Find(pvc, "spec.accessModes");
      modes != nullptr && modes->is_array()) {
    for (const Json& mode : *modes) {
      if (mode.is_string()) info.access_modes.push_back(mode.get<std::string>());
    }
  }
  return info;
}

std::vector<api::VolumeStatus> ClaimVolumeStatus(const api::VirtualMachineInstanceSpec& spec,
                                                 const Claims& claims) {
  std::vector<api::VolumeStatus> statuses;
  for (const api::Volume& volume : spec.volumes) {
    std::string claim;
    if (volume.persistent_volume_claim.has_value())
      claim = volume.persistent_volume_claim->claim_name;
    if (volume.data_volume.has_value()) claim = volume.data_volume->name;
    auto it = claims.find(claim);
    if (claim.empty() || it == claims.end()) continue;
    api::VolumeStatus status;
    status.name = volume.name;
    api::PersistentVolumeClaimInfo& info = status.persistent_volume_claim_info.emplace();
    info.claim_name = claim;
    info.access_modes = it->second.access_modes;
    info.volume_mode = it->second.mode == VolumeMode::kBlock ? "Block" : "Filesystem";
    if (!it->second.capacity.empty()) info.capacity["storage"] = it->second.capacity;
    if (!it->second.request.empty()) info.requests["storage"] = it->second.request;
    if (it->second.mode == VolumeMode::kFilesystem) {
      info.filesystem_overhead = api::importer::kFilesystemOverheadText;
    }
    statuses.push_back(std::move(status));
  }
  return statuses;
}

std::vector<std::string> DataVolumesToWaitFor(const api::VirtualMachineInstanceSpec& spec,
                                              const Claims& claims) {
  std::vector<std::string> names = api::DataVolumeNames(spec);
  for (const std::string& claim : ClaimNames(spec)) {
    auto it = claims.find(claim);
    if (it == claims.end() || it->second.data_volume.empty()) continue;
    if (std::find(names.begin(), names.end(), it->second.data_volume) == names.end()) {
      names.push_back(it->second.data_volume);
    }
  }
  return names;
}

VolumeMode VolumeModeOf(const Json& pvc) {
  return base::GetString(pvc, "spec.volumeMode") == "Block" ? VolumeMode::kBlock
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

std::vector<Event> MergeEvents(std::vector<Event> first, const std::vector<Event>& then) {
  for (const Event& e : then) {
    const bool seen = std::any_of(first.begin(), first.end(), [&](const Event& f) {
      return f.type == e.type && f.reason == e.reason && f.message == e.message;
    });
    if (!seen) first.push_back(e);
  }
  return first;
}

}  // namespace vireo::controllers
