// The launcher pod's resources (launcher_resources.cc); the pod itself is
// RenderLauncherPod's (launcher_pod.h), which declares the memory request
// too, as the scheduler and the VMI status see it.
#pragma once

#include "controllers/reconcile/launcher_pod.h"
#include "lib/api/types.h"
#include "lib/base/json.h"
#include "lib/base/status.h"

namespace vireo::controllers {

// The launcher container's requests and limits: memory from
// LauncherMemoryRequestBytes (and the VMI's limit plus the same overhead),
// CPU from the VMI or its vCPUs over the allocation ratio, the KVM device
// when the launcher may use it, and the VMI's other resources as given.
base::Result<base::Json> LauncherResources(const api::VirtualMachineInstance& vmi,
                                           const LauncherConfig& config);

// An init container's: small and fixed; limits equal to requests when
// `with_limits` (a Guaranteed pod needs them on every container).
base::Json InitContainerResources(bool with_limits);

// A containerDisk server container's (ServeDiskScript's): a
// shell asleep, so a little CPU and memory; limits equal to requests when
// `with_limits` (with more CPU, for the container's start). A regular
// container's requests add to the pod's.
base::Json DiskServerResources(bool with_limits);

// The accel-probe init container's: as InitContainerResources with room
// for a short QEMU run, and the KVM device.
base::Json AccelProbeResources(bool with_limits, const LauncherConfig& config);

}  // namespace vireo::controllers
