// The steps DecideVm (vm.h) takes, in the order it takes them, each a pure
// function a test can call alone: look at the VMI once (ViewVmi); decide the
// desired state (finalizers, start back-off, what the run strategy wants of
// the VMI, whether a wanted VMI may be made now); then the status
// (printableStatus, conditions) and the Events that tell of it. vm.h states
// the rules; these say which step holds each.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/vm.h"
#include "lib/api/types.h"

namespace vireo::controllers::vm_steps {

// The VM's VMI, looked at once.
struct VmiView {
  // The VMI this VM controls; nullptr: none (absent, or someone else's).
  const api::VirtualMachineInstance* vmi = nullptr;
  bool foreign = false;   // a VMI of the VM's name exists that the VM does not control
  bool deleting = false;  // vmi is being deleted
  api::VmiPhase phase = api::VmiPhase::kUnset;
  bool final = false;  // vmi ended (Succeeded, Failed)
  bool live = false;   // vmi exists and has not ended
};
// REQUIRES: obs.vm.
VmiView ViewVmi(const VmObservation& obs);

// The desired state: what becomes of the VMI, and why.
struct VmPlan {
  bool will_run = false;   // the strategy wants a VMI running
  bool wants_new = false;  // there is no VMI and one should be made
  bool backoff = false;    // a start waits for the start back-off
  bool create = false;     // make the VMI now
  std::string why_delete;  // delete the VMI, for this reason; empty: keep it
  std::string failure;     // the Failure condition's message; empty: none
  std::optional<std::chrono::seconds> requeue_after;
};

// metadata.finalizers wanted: kVmFinalizer added while the VM lives (with a
// valid run strategy), removed once it is being deleted and has no VMI;
// nullopt: unchanged.
std::optional<std::vector<std::string>> DecideFinalizers(const api::VirtualMachine& vm,
                                                         const VmiView& vmi, bool strategy_valid);

// Drops the requests at the head of status.stateChangeRequests that are
// done (vm.h says when), so the head is the request still to act on, if
// any; a Start under Halted is dropped with a Warning Event.
void DropDoneRequests(const VmiView& vmi, api::RunStrategy strategy,
                      std::vector<api::StateChangeRequest>* requests, std::vector<Event>* events);

// What the plan is for a VM being deleted: its VMI goes.
VmPlan PlanDeletion(const VmiView& vmi);

// The start back-off bookkeeping in status.startFailure (`status_extra`):
// a VMI that ended without running counts once per uid; one that ran, or a
// strategy that keeps no record (Manual, Halted), clears it. Returns how long
// until a start may be made (0: now).
std::chrono::seconds UpdateStartFailure(api::RunStrategy strategy, const VmiView& vmi, WallTime now,
                                        Json* status_extra);

// What the run strategy and the head of status.stateChangeRequests (done
// requests already dropped) want of the VMI: will_run, wants_new,
// why_delete, and the failure of a VMI the VM does not control. A
// RerunOnFailure VMI that failed queues a Start in `status`.
VmPlan DecideVmiAction(const api::VirtualMachine& vm, const VmiView& vmi, api::RunStrategy strategy,
                       api::VirtualMachineStatus* status);

// Whether a wanted VMI is made now: not while a claim is `missing` (look
// again later), not while `template_problem` says its instance type or
// preference cannot be applied (failure; look again later), not from an
// invalid template (failure), not before the
// start back-off's `wait` ends (look again then). Sets create,
// requeue_after, failure.
void GateNewVmi(const api::VirtualMachine& vm, const std::vector<std::string>& missing,
                const std::string& template_problem, std::chrono::seconds wait, VmPlan* plan);

// The DataVolumes the template's volumes name, judged.
struct DataVolumeVerdict {
  std::string failed;   // "DataVolume x failed: why" for one that Failed; empty: none
  std::string waiting;  // one not Succeeded yet; empty: none
};
DataVolumeVerdict JudgeDataVolumes(const api::VirtualMachine& vm, const DataVolumes& dvs);

// printableStatus: the first row of vm.h's table that holds.
// `deleting_vmi`: the VMI is being deleted or this decision deletes it.
std::string PrintableStatusOf(bool vm_deleting, const VmiView& vmi, const VmPlan& plan,
                              bool deleting_vmi, bool claims_missing, const DataVolumeVerdict& dvs);

// The Warning Event that tells why printableStatus became `status` (with
// its startFailure already written), if it is one that needs telling.
std::optional<Event> PrintableStatusEvent(const api::VirtualMachineStatus& status,
                                          const VmiView& vmi,
                                          const std::vector<std::string>& missing,
                                          const DataVolumeVerdict& dvs);

// The Failure condition from plan.failure, with a Warning Event when its
// message is new since `before`. With no failure it goes, except while the
// decision creates a VMI (`creating`): one the apiserver refused stays told
// (VmReconciler::Apply) until a create passes.
void DecideFailureCondition(const std::string& failure, bool creating,
                            const api::VirtualMachineStatus& before, WallTime now,
                            api::VirtualMachineStatus* status, std::vector<Event>* events);

// Ready and PodScheduled mirror the VMI's.
void MirrorVmiConditions(const api::VirtualMachineInstance* vmi, WallTime now,
                         std::vector<api::Condition>* conditions);

// RestartRequired while a live VMI not being stopped was made from another
// template than the VM's now, with a Normal Event when it appears.
void DecideRestartRequired(const api::VirtualMachine& vm, const VmiView& vmi, bool deleting_vmi,
                           WallTime now, api::VirtualMachineStatus* status,
                           std::vector<Event>* events);

// The VM generation the VMI was made from (kVmGenerationAnnotation), else
// the VM's own metadata.generation.
int64_t ObservedGeneration(const api::VirtualMachine& vm, const api::VirtualMachineInstance* vmi);
// The generation of its VM the VMI was made from (kVmGenerationAnnotation);
// nullopt when it carries none, or none readable.
std::optional<int64_t> MadeFromGeneration(const api::VirtualMachineInstance& vmi);

}  // namespace vireo::controllers::vm_steps
