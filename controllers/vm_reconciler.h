// The I/O half of the VirtualMachine reconciler; the pure half is
// reconcile/vm.h (DecideVm). Observe reads the shared caches into a
// VmObservation, DecideVm decides, Apply writes the decision in the order
// vm.h prescribes.
#pragma once

#include <string>

#include "controllers/applier.h"
#include "controllers/caches.h"
#include "controllers/reconcile/vm.h"
#include "lib/kube/workqueue.h"

namespace vireo::controllers {

// Thread-safe: Reconcile runs on several workers at once (never two on one
// key, the queue sees to that).
class VmReconciler {
 public:
  // Adds its handlers to `caches`: a VM, its VMI, the claims and
  // DataVolumes its template names. All three must outlive it.
  VmReconciler(Caches* caches, Applier* applier);

  kube::WorkQueue& queue() { return queue_; }
  // One VM key: observe, decide, apply. An error requeues it with backoff.
  base::Status Reconcile(const std::string& key);
  // Whether the decision's status may wait for the VMI's first report
  // (vm.h, "Status writes that wait"). Pure.
  static bool CanDeferStatus(const VmObservation& observation, const VmDecision& decision);

 private:
  // What DecideVm reads of the caches; nullopt when no decision can be made
  // (the VMI of its name cannot be read).
  std::optional<VmObservation> Observe(api::VirtualMachine vm, const std::string& key) const;
  // The VM with its instance type and preference applied (api::ExpandVm),
  // read from the apiserver; `problem` says why they could not be, and
  // then `vm` stays as written. An error: the read failed, try again.
  base::Status Expand(api::VirtualMachine* vm, std::string* problem) const;
  base::Status Apply(const std::string& key, const VmObservation& observation,
                     const VmDecision& decision, base::Json latest);
  // A VM that cannot be read (api::FromJson failed) and is being deleted
  // loses kVmFinalizer, which the apiserver may have set on its creation.
  base::Status ReleaseUnreadable(const std::string& key, const base::Json& cached);

  void AddHandlers();
  void EnqueueVmOf(const base::Json& vmi);
  void EnqueueUsersOfClaim(const base::Json& pvc);
  void EnqueueUsersOfDataVolume(const base::Json& dv);

  Caches* const caches_;
  Applier* const applier_;
  kube::WorkQueue queue_;
};

}  // namespace vireo::controllers
