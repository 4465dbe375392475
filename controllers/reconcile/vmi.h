// The VirtualMachineInstance reconcile decision: from a VMI and its launcher
// pods to the one pod it needs and the status the pods show. Pure and
// level-triggered, like DecideVm.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/launcher_pod.h"
#include "lib/api/types.h"

namespace vireo::controllers {

// Beyond the node controller's own grace (it marks a silent node
// Ready=Unknown after ~40-50 s), how much longer a VMI waits for its node.
inline constexpr std::chrono::seconds kDefaultNodeGrace{30};

struct VmiObservation {
  api::VirtualMachineInstance vmi;
  // core/v1 Pods labelled kCreatedByLabel = vmi uid or controlled by the
  // VMI, in any state. Pods of another uid are ignored.
  std::vector<Json> pods;
  // The PVCs that exist among AllClaimNames(vmi.spec).
  Claims claims;
  // The DataVolumes that exist among DataVolumesToWaitFor(vmi.spec, claims).
  DataVolumes data_volumes;
  LauncherConfig config;
  // The Nodes that exist among those the pods are bound to; nullopt when
  // not observed (then nodes are not judged). A pod's node absent from the
  // map is gone.
  std::optional<Nodes> nodes;
  // The reconciler made or saw a pod of this VMI that its status does not
  // record yet (the first status waits, "Writes" below): that pod's
  // disappearance fails the VMI, as a recorded one's does. Kept in memory
  // only, so a controller started since does not know it.
  bool pod_seen = false;
  // How long a node may stay Ready=Unknown or False before its VMIs fail.
  std::chrono::seconds node_grace{kDefaultNodeGrace};
  WallTime now;
};

struct VmiDecision {
  // Desired metadata.finalizers (kVmiFinalizer added while the VMI lives,
  // removed once its pods are gone) and spec (api::ApplyVmiDefaults applied,
  // for a VMI made without them, e.g. by kubectl); nullopt: unchanged. Write
  // both in one patch guarded by the observed resourceVersion.
  std::optional<std::vector<std::string>> finalizers;
  std::optional<api::VirtualMachineInstanceSpec> spec;
  // The launcher pod to create (RenderLauncherPod). AlreadyExists is success:
  // the name is deterministic (LauncherPodName).
  std::optional<Json> create_pod;
  // Pods to delete, uid as precondition, each with the grace period
  // LauncherPodDeletionGrace gives (not the pod's own, fixed when it was
  // made: `virtctl stop --grace-period N` patches the VMI's first).
  std::vector<Deletion> delete_pods;
  // Status to write through the status subresource; nullopt when it equals
  // the observed one.
  std::optional<api::VirtualMachineInstanceStatus> status;
  // A changed status that is not written yet: a first status waits for
  // Running, the probe's verdict for Running, until requeue_after (see
  // "Writes" below).
  bool status_waits = false;
  std::vector<Event> events;
  std::optional<std::chrono::seconds> requeue_after;
};

// What to do for one VMI. Apply in this order, stopping at the first failure:
//   1. finalizers + spec, 2. delete_pods, 3. create_pod, 4. status, events.
// A decision that writes the spec makes no pod: the pod is rendered from the
// VMI as stored, on the next decision.
//
// Pods: never more than one. With none and the VMI not ended, one is made
// (unless a claim is missing or the VMI is invalid). With several, the one
// named LauncherPodName(vmi) is kept (else the oldest) and the others are
// deleted. A pod is never made twice for one VMI: once a pod was seen (its
// uid is recorded in status.activePods, or the VMI passed Pending), its
// disappearance fails the VMI; so does one the reconciler remembers making
// or seeing (pod_seen), while the VMI's first status waits (below).
//
// Writes: the VMI's first status waits for the Running its start leads to,
// up to 3 s after the pod's creation (Scheduling and Scheduled would each be
// overwritten a moment later, and one write carries them); a failure, an
// Event, a pod the scheduler refuses (PodScheduled False), an image that
// does not pull, a pod being deleted, a creationTimestamp ahead of our clock
// are written at once, and a start still on its way when the wait ends is
// written as it stands (Scheduling, Scheduled). While the status does not
// record the pod, the reconciler remembers it (pod_seen), so the pod's
// disappearance fails the VMI all the same; only a controller restarted, or
// a replica taking over as leader, in those seconds (its memory is new)
// makes another. A status that would
// only bring the accel probe's verdict (SoftwareEmulation) to a Scheduled
// VMI waits up to 4 s after the probe ended for the Running it leads to; its
// Event goes with that write.
//
// Phase (never goes back, except to and from Unknown; Succeeded and Failed
// are final):
//   Pending     no pod seen yet (the pod is being made)
//   Scheduling  the pod exists, no node yet
//   Scheduled   the pod has a node, the launcher is not running and ready
//   Running     the launcher container runs and the pod is Ready (the
//               launcher's probe says the domain runs)
//   Succeeded   the launcher exited 0: the guest powered itself off
//   Failed      the launcher exited non-zero, the pod failed, the pod was
//               deleted or vanished, a claim stayed missing past a short grace period
//               (the PVC informer may lag a VMI made with it), the VMI is
//               invalid, or its pod was refused for good (RefusedPodDecision,
//               applied by the I/O layer); status.reason says which
//   Unknown     the pod's phase is Unknown (its node stopped reporting)
// Also written: nodeName, interfaces[0] ipAddress/ipAddresses from the pod IPs
// (named after the first interface of the spec), phaseTransitionTimestamps,
// launcherContainerImageVersion, activePods {pod uid: node}, and conditions:
//   Ready              True while Running and the pod is Ready
//   PodScheduled       the pod's PodScheduled condition while it is False
//                      (reason Unschedulable: the VM shows ErrorUnschedulable)
//   Synchronized       False with reason ErrImagePull or ImagePullBackOff
//                      while a container image cannot be pulled
//   DataVolumesReady   (only with dataVolume volumes, or claims a
//                      DataVolume fills) False while a
//                      DataVolume is missing or not Succeeded (reason
//                      DataVolumeNotReady, or DataVolumeFailed with the
//                      DataVolume's own words and a Warning Event): no pod is
//                      made until all have Succeeded; then True
//   SoftwareEmulation  True for emulation on, False for off; for auto with
//                      config.kvm_resource_offered the accel-probe init
//                      container's verdict (True NoUsableKvm with a Warning
//                      Event SoftwareEmulation, or False KvmAvailable;
//                      Unknown until it ends), else Unknown NoKvmResource
//
// Nodes (only with observation.nodes): a running VMI fails when Kubernetes
// says its pod's node is lost, and a new VMI may then start elsewhere only
// once the pod is gone (the VMI finalizer waits for it), so a guest that may
// still run on a partitioned node is never booted twice:
//   NodeGone          the Node object was deleted: the pod is force-deleted
//   NodeOutOfService  the node carries kOutOfServiceTaint: force-deleted
//   NodeUnresponsive  Ready Unknown or False for longer than node_grace, or
//                     at once when the pod is also being deleted or has
//                     DisruptionTarget True: the pod is NOT force-deleted
//                     (the node may still run the guest); it goes when
//                     the kubelet comes back or an admin deletes the Node or
//                     taints it out of service
// Until node_grace has passed the decision asks to look again.
//
// Deletion: while the VMI is being deleted its pods are deleted (the
// launcher shuts the guest down within its grace period), a terminating pod
// on a node gone or out of service with grace period 0; once none is left,
// kVmiFinalizer is removed.
VmiDecision DecideVmi(const VmiObservation& observation);

// Whether `status` records that the VMI had a pod (activePods, or a phase
// from Scheduling on, or Unknown): then a pod gone fails the VMI, and the
// reconciler need not remember it (pod_seen).
bool RecordsAPod(const api::VirtualMachineInstanceStatus& status);

// The decision once `decision` is written and the informer shows `pod`, the
// launcher pod it made (as the apiserver returned it): DecideVmi over the
// decision's status and that pod. Its status, when it has one, is what the
// I/O layer writes instead of the decision's, so one write carries both
// (Pending, then Scheduling with the pod in activePods). nullopt status: no
// write is needed at all, or (status_waits) the write waits for the
// Running the start leads to.
VmiDecision DecideVmiAfterPodCreate(const VmiObservation& observation, const VmiDecision& decision,
                                    Json pod);

// The gracePeriodSeconds a launcher pod of `spec` is deleted with: the VMI's
// current spec.terminationGracePeriodSeconds (default
// api::kDefaultTerminationGracePeriodSeconds), which the launcher gives the
// guest, plus config.termination_grace_margin_seconds for the launcher to
// destroy the domain and exit. A pod already terminating keeps the period
// it was deleted with (Kubernetes only lets a later delete shorten it, and
// Vireo sends none).
int64_t LauncherPodDeletionGrace(const api::VirtualMachineInstanceSpec& spec,
                                 const LauncherConfig& config);

// The apiserver or an admission policy refused the launcher pod for good
// (IsPermanentRefusal), with `message`: the VMI fails (reason FailedCreate,
// KubeVirt's Synchronized condition False FailedCreate with the apiserver's
// words, a Warning Event). A VM with runStrategy Always or RerunOnFailure
// then replaces it after its start back-off (CrashLoopBackOff), as for any
// VMI that fails before running. `status` is the status the refused
// decision meant to write (or the observed one); the result has it Failed,
// and the events to record instead of the decision's.
VmiDecision RefusedPodDecision(const api::VirtualMachineInstance& vmi,
                               const api::VirtualMachineInstanceStatus& status,
                               const std::string& message, WallTime now);

}  // namespace vireo::controllers
