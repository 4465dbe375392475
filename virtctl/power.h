// What `virtctl start|stop|restart` ask of the apiserver, decided from the VM
// and its VMI as KubeVirt's subresource API decides it, but as plain
// Kubernetes writes (there is no aggregated API server): a JSON patch of the
// VM's spec.runStrategy (or spec.running), a JSON patch appending
// stateChangeRequests to the VM's status, a JSON patch of the VMI's grace
// period, a deletion of the launcher pods. Pure: no I/O.
//
//   start    Halted: runStrategy Always. Manual: [Start] ([Stop{uid}, Start]
//            when the VMI ended). RerunOnFailure: [Start] ([Stop{uid}, Start]
//            when the VMI Succeeded; refused when it Failed, the controller
//            restarts those). Always, Once: refused. A VMI that has not ended
//            and is not being deleted: refused, "already running".
//   stop     Always, Once: runStrategy Halted. Manual, RerunOnFailure:
//            [Stop{uid}]. Halted: only with a grace period shorter than the
//            VMI's ([Stop{uid}]). No VMI, or one that ended: refused, "not
//            running" (except Always and Once, which still become Halted).
//   restart  Always, Manual, RerunOnFailure: [Stop{uid}, Start]. Halted,
//            Once: refused. No VMI: refused, "not running".
// --grace-period N (stop): the VMI's terminationGracePeriodSeconds becomes N
// first. --force (stop, restart): only with --grace-period=0; the launcher
// pods are deleted at once as well.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/base/json.h"
#include "lib/base/status.h"

namespace vireo::virtctl {

enum class PowerAction { kStart, kStop, kRestart };
const char* PowerActionName(PowerAction action);  // "start", "stop", "restart"

struct PowerOptions {
  std::optional<int64_t> grace_period_seconds;
  bool force = false;
};

struct PowerPlan {
  // In this order, each only when set.
  std::optional<base::Json> vmi_patch;        // JSON patch of the VMI
  std::optional<base::Json> vm_patch;         // JSON patch of the VM
  std::optional<base::Json> vm_status_patch;  // JSON patch of the VM's status
  bool delete_launcher_pods = false;          // with grace period 0
  std::string vmi_uid;                        // whose launcher pods
};

// kConflict: the VM is already in the asked state, or its run strategy does
// not take the request (the message says which, in KubeVirt's words).
// kBadRequest: options that do not go together. kInvalid: a VM whose run
// strategy cannot be read. `vmi` is null when the VM has none.
base::Result<PowerPlan> PlanPower(PowerAction action, const base::Json& vm, const base::Json* vmi,
                                  const PowerOptions& options);

}  // namespace vireo::virtctl
