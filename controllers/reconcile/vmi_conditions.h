// The VMI's own conditions, each set from what the decision saw (vmi.cc):
// SoftwareEmulation, NetworkDataMismatch, DataVolumesReady, Ready and
// LiveMigratable. A condition whose state changes may add an Event to the
// decision; an unchanged one keeps its lastTransitionTime.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/pod_summary.h"
#include "controllers/reconcile/vmi.h"

namespace vireo::controllers::internal {

// The Warning Event of a guest the accel probe put under TCG.
inline constexpr char kEventSoftwareEmulation[] = "SoftwareEmulation";

// From the launcher pod (or, before it exists, the configuration it will be
// made with): KVM, TCG, or the launcher's own choice.
void SetEmulationCondition(const LauncherConfig& config, const PodSummary* pod, WallTime now,
                           api::VirtualMachineInstanceStatus* status, VmiDecision* d);

// networkData that names NICs the guest will not have configures nothing:
// the guest would boot without its network and nothing in the pod could see
// that. True (with a Warning Event) while it holds, removed otherwise.
void SetNetworkDataCondition(const api::VirtualMachineInstance& vmi, WallTime now,
                             api::VirtualMachineInstanceStatus* status, VmiDecision* d);

// The DataVolumesReady condition; false when the pod must wait.
bool DataVolumesReady(const api::VirtualMachineInstanceSpec& spec, const Claims& claims,
                      const DataVolumes& dvs, WallTime now,
                      api::VirtualMachineInstanceStatus* status, VmiDecision* d);

// Ready: the guest runs in a ready launcher pod (`primary` of `pods`).
void SetReady(const std::vector<PodSummary>& pods, size_t primary, bool deleting, WallTime now,
              api::VirtualMachineInstanceStatus* status);

// LiveMigratable, as KubeVirt sets it on every VMI: always False here, with
// why, since Vireo does not migrate a running guest.
void SetLiveMigratableCondition(WallTime now, api::VirtualMachineInstanceStatus* status);

}  // namespace vireo::controllers::internal
