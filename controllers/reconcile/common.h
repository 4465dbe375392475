// Vocabulary shared by the VM and VMI decisions and the launcher pod
// rendering: the names Vireo writes on objects (KubeVirt's where KubeVirt has
// one), events and deletions as a decision states them, and PVC helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/api/launcher_pod.h"
#include "lib/api/types.h"
#include "lib/base/clock.h"
#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/kube/events.h"

namespace vireo::controllers {

using base::Json;
using WallTime = base::Clock::WallTime;

// ----------------------------------------------------------------- names

// On a VM: held until its VMI is gone, so deleting a VM stops the guest first.
inline constexpr char kVmFinalizer[] = "kubevirt.io/virtualMachineControllerFinalize";
// On a VMI: held until its launcher pods are gone, so a VMI (and a VM's
// restart, which makes a new VMI of the same name) never overlaps a guest
// that is still shutting down on the same disks. (KubeVirt's is the bare
// "foregroundDeleteVirtualMachine", which the apiserver warns about as not
// domain-qualified.)
inline constexpr char kVmiFinalizer[] = "kubevirt.io/foregroundDeleteVirtualMachine";

// Launcher pod labels (KubeVirt's). The I/O layer finds a VMI's pods by
// kCreatedByLabel = VMI uid (or the controller owner reference).
inline constexpr char kAppLabel[] = "kubevirt.io";  // value kAppLabelLauncher
inline constexpr char kAppLabelLauncher[] = "virt-launcher";
using api::launcher_pod::kCreatedByLabel;
inline constexpr char kVmNameLabel[] = "vm.kubevirt.io/name";

// Pod annotation holding the VMI JSON the launcher reads: the launcher pod
// contract's (lib/api/launcher_pod.h).
using api::launcher_pod::kVmiAnnotation;
// On a VMI made by a VM: the VM's metadata.generation it was made from.
inline constexpr char kVmGenerationAnnotation[] = "kubevirt.io/vm-generation";

// The launcher container's name (`virtctl console` execs into it) and the
// init container that decides KVM or TCG, whose termination message is the
// verdict "kvm: <why>" or "tcg: <why>" (launcher/accel.h): the contract's.
using api::launcher_pod::kAccelProbeContainer;
using api::launcher_pod::kLauncherContainer;

// Condition types written by the decisions.
inline constexpr char kConditionReady[] = "Ready";
inline constexpr char kConditionPodScheduled[] = "PodScheduled";
// False with reason ErrImagePull / ImagePullBackOff while an image of the
// launcher pod cannot be pulled (KubeVirt's "Synchronized" condition).
inline constexpr char kConditionSynchronized[] = "Synchronized";
// VMI only: True when the launcher runs the guest under TCG (--emulation=on),
// False when it must use KVM (--emulation=off), Unknown when the launcher
// chooses at start (--emulation=auto): the controller cannot see its choice.
inline constexpr char kConditionSoftwareEmulation[] = "SoftwareEmulation";
// VMI only, and only while it holds: True when the cloud-init networkData
// names NICs the guest will not have (api::NetworkDataProblems), so the
// guest would boot without the network it asks for.
inline constexpr char kConditionNetworkDataMismatch[] = "NetworkDataMismatch";
// VMI (and mirrored on the VM): whether the DataVolumes its volumes name
// have all Succeeded (KubeVirt's condition).
inline constexpr char kConditionDataVolumesReady[] = "DataVolumesReady";
// VMI (KubeVirt's, on every VMI): always False, reason NotMigratable; `kubectl
// get vmi -o wide` shows it as LIVE-MIGRATABLE.
inline constexpr char kConditionLiveMigratable[] = "LiveMigratable";
// VM only (KubeVirt's): True while the running VMI was made from another
// spec.template than the VM's current one, until the VMI is restarted.
inline constexpr char kConditionRestartRequired[] = "RestartRequired";
// VM only: True while the VM cannot make its VMI (invalid template, a VMI of
// that name owned by someone else).
inline constexpr char kConditionFailure[] = "Failure";

// ----------------------------------------------------------------- results

// An Event to record about the object the decision is for. Decisions are
// made often, so they only emit events for what changes: an action taken or a
// status that moves (e.g. printableStatus entering ErrorPvcNotFound). Record
// them after the decision's writes succeeded; if a write fails, drop them:
// the next decision emits them again.
struct Event {
  kube::EventType type = kube::EventType::kNormal;
  std::string reason;   // UpperCamelCase, e.g. "SuccessfulCreate"
  std::string message;  // for people; names the objects involved
};

// KubeVirt's hook sidecars (containers that rewrite the domain before it
// starts), asked for by this annotation on a VMI or a VM's template. Vireo
// runs none: the guest starts without them, with this Warning Event
// (HookSidecarsIgnored) on the VMI when its pod is made and on the VM when
// it makes the VMI; nullopt without the annotation.
inline constexpr char kHookSidecarsAnnotation[] = "hooks.kubevirt.io/hookSidecars";
std::optional<Event> HookSidecarsEvent(const api::StringMap& annotations);

// `first` then those of `then` it lacks (same type, reason and message):
// the events of a decision and of the one its own writes lead to.
std::vector<Event> MergeEvents(std::vector<Event> first, const std::vector<Event>& then);

// A delete to issue, with `preconditions.uid = uid` so that an object of the
// same name made meanwhile (a restarted VM's new VMI) is never hit, and the
// grace period the decision wants. NotFound means done.
struct Deletion {
  Deletion(std::string name_, std::string uid_,
           std::optional<int64_t> grace_period_seconds_ = std::nullopt)
      : name(std::move(name_)), uid(std::move(uid_)), grace_period_seconds(grace_period_seconds_) {}
  std::string name;
  std::string uid;
  // DeleteOptions.gracePeriodSeconds; nullopt: the object's own.
  std::optional<int64_t> grace_period_seconds;
};

// ----------------------------------------------------------------- nodes

// The taint with which an admin tells Kubernetes a node is shut down (and
// will not come back with its pods running): its pods may be force-deleted.
inline constexpr char kOutOfServiceTaint[] = "node.kubernetes.io/out-of-service";

// What the VMI decision reads of a core/v1 Node (the Node cache keeps just
// what this needs).
struct NodeState {
  std::string ready;            // the Ready condition's status: True, False, Unknown ("": none)
  std::string ready_since;      // its lastTransitionTime
  bool out_of_service = false;  // tainted kOutOfServiceTaint
};
NodeState NodeStateOf(const Json& node);
// The Nodes that exist, by name.
using Nodes = std::map<std::string, NodeState>;

// ----------------------------------------------------------------- refusals

// Whether the apiserver refused a create for good: the same object sent
// again would be refused again, so retrying only hides the reason. Invalid
// (422: a 64-character name, an annotation over 256 KiB) and BadRequest are;
// so is Forbidden (403) from admission (PodSecurity, a webhook, a
// ValidatingAdmissionPolicy, a LimitRange), but not the Forbidden of an
// exceeded or unevaluated ResourceQuota (freed when other pods go), of a
// namespace being deleted, or of our own RBAC (fixed by the admin, and then
// every object recovers). Everything else (timeouts, 5xx, 429) is
// transient.
bool IsPermanentRefusal(const base::Status& status);

// ----------------------------------------------------------------- PVCs

enum class VolumeMode { kFilesystem, kBlock };

// The claims a VMI spec refers to (persistentVolumeClaim volumes), in volume
// order, without repeats: what must exist before a VMI is made.
std::vector<std::string> ClaimNames(const api::VirtualMachineInstanceSpec& spec);
// Those and the claims of its dataVolume volumes (CDI names a DataVolume's
// claim after the DataVolume): what the I/O layer looks up in its PVC store
// for the launcher pod.
std::vector<std::string> AllClaimNames(const api::VirtualMachineInstanceSpec& spec);

// A core/v1 PersistentVolumeClaim's spec.volumeMode: kBlock for "Block",
// kFilesystem otherwise (Kubernetes' default).
VolumeMode VolumeModeOf(const Json& pvc);

// What the decisions read of a PVC (the PVC cache keeps just this).
struct ClaimInfo {
  ClaimInfo() = default;
  ClaimInfo(VolumeMode m) : mode(m) {}  // NOLINT(google-explicit-constructor): tests' shorthand
  VolumeMode mode = VolumeMode::kFilesystem;
  std::vector<std::string> access_modes;
  std::string capacity;  // status.capacity.storage ("" while unbound)
  std::string request;   // spec.resources.requests.storage
  // The DataVolume that controls the claim (it fills it), "" for none.
  std::string data_volume;
};
ClaimInfo ClaimInfoOf(const Json& pvc);

// The PVCs that exist among those a spec names: claimName -> what we know.
// A claim the spec names that is absent from the map is missing.
using Claims = std::map<std::string, ClaimInfo>;

// status.volumeStatus for the claims of a VMI's persistentVolumeClaim and
// dataVolume volumes that exist in `claims` (KubeVirt's shape, with the
// filesystem overhead the launcher sizes a blank disk.img by).
std::vector<api::VolumeStatus> ClaimVolumeStatus(const api::VirtualMachineInstanceSpec& spec,
                                                 const Claims& claims);

// What the VM and VMI decisions read of a DataVolume (by name).
struct DataVolumeState {
  std::string phase;         // status.phase ("" : not yet reconciled)
  std::string progress;      // status.progress
  std::string message;       // the Running condition's message (why it waits or failed)
  bool owned_by_vm = false;  // controlled by the VM being decided (VM decision only)
};
using DataVolumes = std::map<std::string, DataVolumeState>;

// The DataVolumes a VMI must wait for: those its dataVolume volumes name,
// and those that fill the claims its persistentVolumeClaim volumes name
// (as KubeVirt, a claim being imported is not booted blank), in volume
// order, without repeats.
std::vector<std::string> DataVolumesToWaitFor(const api::VirtualMachineInstanceSpec& spec,
                                              const Claims& claims);

// Claims of `spec` absent from `claims`, in volume order.
std::vector<std::string> MissingClaims(const api::VirtualMachineInstanceSpec& spec,
                                       const Claims& claims);

}  // namespace vireo::controllers
