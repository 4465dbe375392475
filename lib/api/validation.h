// The checks a CRD schema cannot express: references between disks and
// volumes, interfaces and networks, uniqueness, quantities, and the edges of
// the subset Vireo implements. Every problem found is reported, each as a
// Cause naming its field, so a user can fix them all at once.
#pragma once

#include <string_view>

#include "lib/api/problems.h"
#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::api {

// evictionStrategy: None and LiveMigrateIfPossible let a drain shut the guest
// down (a Vireo VM is never migratable, so KubeVirt would do the same),
// External holds the drain with a PodDisruptionBudget; LiveMigrate would
// promise what Vireo cannot do and is refused with this message (the CRD's
// rule says the same).
inline constexpr std::string_view kEvictionLiveMigrate = "LiveMigrate";
inline constexpr std::string_view kEvictionLiveMigrateRefusal =
    "LiveMigrate: Vireo does not live-migrate VMs, so a drain could never move this one; use "
    "None (the drain shuts the guest down) or External (a PodDisruptionBudget holds the drain "
    "until you stop or move the VM)";

// Ok, or kInvalid listing every problem. They accept a spec before or after
// ApplyVmiSpecDefaults.
base::Status ValidateVirtualMachine(const VirtualMachine& vm);
base::Status ValidateVirtualMachineInstance(const VirtualMachineInstance& vmi);

// Adds the problems of one VMI spec, with field paths under `path`
// ("spec" for a VMI, "spec.template.spec" for a VM).
void ValidateVmiSpec(const VirtualMachineInstanceSpec& spec, std::string_view path,
                     Problems& problems);

}  // namespace vireo::api
