// The PodDisruptionBudget that holds a drain for a VMI whose
// evictionStrategy is External: the eviction API refuses to evict its
// launcher pod while the budget stands, so the node drain waits until
// another actor stops or moves the VM (KubeVirt's External semantics, without
// its eviction webhook: docs/controller.md, "Eviction").
#pragma once

#include <optional>
#include <string>

#include "lib/api/types.h"
#include "lib/base/json.h"

namespace vireo::controllers {

// "kubevirt-disruption-budget-<vmi>", the prefix KubeVirt's budgets carry;
// shortened with a hash past 253 characters.
std::string DisruptionBudgetName(const std::string& vmi_name);

// The policy/v1 budget for `vmi`, or nullopt when its evictionStrategy is
// not External: minAvailable 1 over the pods labelled
// kubevirt.io/created-by=<vmi uid> (its launcher pods), controlled by the
// VMI so the garbage collector removes it with the VMI. A budget over a VMI
// that has ended selects no running pod and holds nothing.
std::optional<base::Json> RenderDisruptionBudget(const api::VirtualMachineInstance& vmi);

}  // namespace vireo::controllers
