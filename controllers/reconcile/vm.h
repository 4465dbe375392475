// The VirtualMachine reconcile decision: from a VM, its VMI and its PVCs to
// what to create, delete and write, with KubeVirt's runStrategy semantics.
// Pure and level-triggered: the same observation always gives the same
// decision, whatever made the caller look.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "lib/api/types.h"

namespace vireo::controllers {

struct VmObservation {
  // The VM from the informer; nullopt when it is gone (nothing to do: the
  // garbage collector removes what it owned).
  std::optional<api::VirtualMachine> vm;
  // The VMI of the same name and namespace, if any, whoever owns it.
  std::optional<api::VirtualMachineInstance> vmi;
  // The PVCs that exist among ClaimNames(vm.spec.template.spec).
  Claims claims;
  // The DataVolumes that exist among those the template's volumes and
  // spec.dataVolumeTemplates name.
  DataVolumes data_volumes;
  // Why the VM's instance type or preference could not be applied (one is
  // missing, or conflicts with the template); `vm` is then as written.
  // Empty: `vm`'s template is expanded with them (api::ExpandVm), unless
  // `template_expanded` is false.
  std::string template_problem;
  // False when the reconciler did not read them because the decision needs
  // no expanded template (NeedsExpandedTemplate): the live VMI was made from
  // this generation of the VM, so RestartRequired goes.
  bool template_expanded = true;
  WallTime now;
};

// Whether the decision may read the VM's template expanded with its
// instance type and preference, which costs the reconciler a GET of each:
// to make a VMI, or to compare the VMI with the template (RestartRequired).
// Not while a VMI made from the VM's current generation lives: the decision
// neither makes another nor finds the template changed then; an instance
// type edited since is compared once the VM's generation changes
// (docs/controller.md, "Instance types and preferences"). True for a VM
// that names neither: its template is its expanded self, read for nothing.
bool NeedsExpandedTemplate(const VmObservation& observation);

struct VmDecision {
  // Desired metadata.finalizers of the VM (kVmFinalizer added while the VM
  // lives, removed once its VMI is gone); nullopt: unchanged. Write it with a
  // patch guarded by the observed resourceVersion.
  std::optional<std::vector<std::string>> finalizers;
  // The VMI to create (POST), see NewVmiFor. AlreadyExists means a cache
  // that lags: not an error.
  std::optional<Json> create_vmi;
  // DataVolumes to create from spec.dataVolumeTemplates (owned by the VM,
  // so they go with it). AlreadyExists: a lagging cache.
  std::vector<Json> create_data_volumes;
  // The VMI to delete (with its uid as precondition).
  std::optional<Deletion> delete_vmi;
  // The VM status to write through the status subresource with the observed
  // resourceVersion; nullopt when it equals the observed status.
  std::optional<api::VirtualMachineStatus> status;
  std::vector<Event> events;
  // Look again after this long even if nothing changes (start back-off
  // expiry, a missing PVC). nullopt: wait for a change.
  std::optional<std::chrono::seconds> requeue_after;
};

// What to do for one VM: the steps of vm_steps.h in order (the desired
// state, the actions, the status and its events). Apply in this order, stopping at the first
// failure (then requeue with back-off; the next decision starts from fresh state):
//   1. finalizers, 2. status, 3. delete_vmi, 4. create_vmi, then events.
// The status goes before the VMI actions because it carries the bookkeeping
// those actions rely on (start failures, stateChangeRequests), so a crash
// between the two never loses it.
//
// Status writes that wait (the I/O layer, VmReconciler::CanDeferStatus): a
// status that changes no bookkeeping is not written with a VMI create, nor
// while the VM's VMI exists without a phase. Everything in it follows from
// that VMI, and the VMI's first status (written as its start reaches
// Running, or at most 3 s after its pod's creation: reconcile/vmi.h,
// "Writes") brings the VM back: one VM status write carries created, the
// phase the VMI shows and the mirrored conditions, instead of one before
// the create, one when the VMI appears and one when it reports. A failed
// create writes the status at once.
//
// Run strategies (spec.runStrategy; `running: true/false` = Always/Halted):
//   Always          keep a VMI: a final VMI is deleted and made again.
//   RerunOnFailure  a Failed VMI is deleted and made again (a Start request
//                   is queued in status so the new one starts); a Succeeded
//                   one stays: the VM is Stopped.
//   Once            make a VMI once; once it ended it stays as it ended.
//   Manual          make a VMI only on a Start request; delete it only on a
//                   Stop request.
//   Halted          no VMI: delete any; Start requests are dropped with an
//                   event (virtctl start changes the runStrategy instead).
// Always, RerunOnFailure and Once only make a VMI on their own when the VM
// has none, and RerunOnFailure and Once only when status.runStrategy says
// they have not acted yet (a new VM, or a changed runStrategy) or a Start
// request asks for it: a VMI that ended and was removed is not brought back.
//
// status.stateChangeRequests (KubeVirt's format: [{action: Stop, uid: <vmi
// uid>}, {action: Start}]) are handled first in, first out:
//   Stop{uid}  deletes the VMI with that uid; done (removed from the list)
//              once no VMI, or a VMI with another uid, exists. A Stop without
//              uid is dropped.
//   Start      makes a VMI when none exists (any strategy but Halted); done
//              once a VMI exists that is not being deleted. A Start while an
//              ended VMI still exists is done at once: to start again, ask
//              [Stop{uid}, Start], as virtctl start/restart do.
// Restart = [Stop{uid of the running VMI}, Start]: the VMI is deleted, its
// pod drained, then a new VMI (new uid) made.
//
// Start back-off (Always, RerunOnFailure, Once): a VMI that ends without
// ever reaching Running counts as a start failure, recorded once per VMI uid
// in status.startFailure {consecutiveFailCount, lastFailedVMIUID,
// retryAfterTimestamp}. No VMI is made before retryAfterTimestamp; meanwhile
// printableStatus is CrashLoopBackOff. Delay = StartBackoff(count, uid).
// A VMI that reached Running clears it; so do Manual and Halted.
//
// PVCs: while a claim of the template is missing, no VMI is made
// (ErrorPvcNotFound, checked again after a while); an existing VMI is left
// alone.
//
// Deletion: while the VM is being deleted its VMI is deleted; once no VMI of
// this VM exists (or only one owned by someone else), kVmFinalizer is
// removed, so deleting a VM never hangs on a VMI that is already gone.
//
// A VMI of the VM's name that this VM does not control is never touched; the
// VM reports it in a Failure condition.
//
// Status: printableStatus, the first that holds of
//   Terminating       the VM is being deleted
//   Stopping          its VMI has not ended and is being deleted (or is
//                     deleted by this decision)
//   Running           VMI phase Running
//   ErrorPvcNotFound  a claim of the template is missing and the VM wants
//                     to run
//   ErrImagePull, ImagePullBackOff   the VMI's Synchronized condition says so
//   ErrorUnschedulable  the VMI's PodScheduled condition is False/Unschedulable
//   Unknown           VMI phase Unknown
//   Starting          a VMI that has not ended (Pending..Scheduled), or this
//                     decision makes one
//   CrashLoopBackOff  the VM wants to run and waits for its start back-off
//   Stopped           otherwise (no VMI, or one that ended)
// created (a VMI of this VM exists), ready (its Ready condition is True),
// conditions (Ready and PodScheduled follow the VMI's; Failure;
// RestartRequired True while a live VMI's spec is not what the template
// makes now, NewVmiFor; for a VM with an instance type or preference, only
// checked against a VMI of another generation of the VM),
// runStrategy (the one last acted on), desiredGeneration
// (metadata.generation) and observedGeneration (the generation the VMI was
// made from, kVmGenerationAnnotation; metadata.generation when no VMI).
VmDecision DecideVm(const VmObservation& observation);

// The VMI a VM makes: name and namespace of the VM, the template's labels and
// annotations plus kVmGenerationAnnotation, a controller owner reference to
// the VM with blockOwnerDeletion, kVmiFinalizer, and the template's spec with
// api::ApplyVmiDefaults applied (so the firmware UUID is the VM's uid).
Json NewVmiFor(const api::VirtualMachine& vm);

// The DataVolumes of vm.spec.dataVolumeTemplates not in `existing`: each
// template's metadata (name, labels, annotations) and spec, in the VM's
// namespace, controlled by the VM (KubeVirt's behaviour: made as soon as
// the VM exists, whatever its runStrategy, and deleted with it).
std::vector<Json> NewDataVolumesFor(const api::VirtualMachine& vm, const DataVolumes& existing);

// Seconds to wait before start number `consecutive_failures` + 1:
// 10 s doubling per failure, plus up to a quarter more derived from `vmi_uid`
// (spreads VMs that fail together, yet stays a pure function), capped at
// 300 s.
std::chrono::seconds StartBackoff(int64_t consecutive_failures, const std::string& vmi_uid);

}  // namespace vireo::controllers
