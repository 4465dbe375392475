// The VMI decision: one launcher pod per VMI, and the VMI status read back
// from it. See vmi.h for the rules; comments here say why.
#include "controllers/reconcile/vmi.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <tuple>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/pod_summary.h"
#include "controllers/reconcile/vmi_conditions.h"
#include "controllers/reconcile/vmi_waits.h"
#include "lib/api/codec.h"
#include "lib/api/datavolume.h"
#include "lib/api/defaults.h"
#include "lib/api/network_data.h"
#include "lib/api/validation.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using internal::DataVolumesReady;
using internal::kFalse;
using internal::kTrue;
using internal::PodSummary;
using internal::SetEmulationCondition;
using internal::SetLiveMigratableCondition;
using internal::SetNetworkDataCondition;
using internal::SetReady;

// A VMI made together with its PVC (one `kubectl apply`) may be seen before
// the PVC informer shows the claim: only fail once a claim stays missing.
constexpr std::chrono::seconds kMissingClaimGrace{10};

constexpr char kActivePods[] = "activePods";

// Phases in the order a VMI moves through them; Unknown stands aside.
int Rank(VmiPhase phase) {
  switch (phase) {
    case VmiPhase::kUnset:
      return 0;
    case VmiPhase::kPending:
      return 1;
    case VmiPhase::kScheduling:
      return 2;
    case VmiPhase::kScheduled:
      return 3;
    case VmiPhase::kRunning:
      return 4;
    case VmiPhase::kSucceeded:
    case VmiPhase::kFailed:
      return 5;
    case VmiPhase::kUnknown:
      return -1;
  }
  return 0;
}

// The phase never goes back: a pod that stops being ready does not make a
// Running VMI Scheduled again (its Ready condition says so instead).
VmiPhase Advance(VmiPhase old_phase, VmiPhase seen) {
  if (api::IsFinal(old_phase)) return old_phase;
  if (seen == VmiPhase::kUnknown || old_phase == VmiPhase::kUnknown) return seen;
  return Rank(seen) > Rank(old_phase) ? seen : old_phase;
}

bool HasFinalizer(const api::ObjectMeta& meta, const char* finalizer) {
  return std::find(meta.finalizers.begin(), meta.finalizers.end(), finalizer) !=
         meta.finalizers.end();
}

bool HasActivePods(const api::VirtualMachineInstanceStatus& status) {
  return status.extra.is_object() && status.extra.contains(kActivePods) &&
         status.extra.at(kActivePods).is_object() && status.extra.at(kActivePods).size() > 0;
}

// The pod that stays when there are several: the one this controller names
// (LauncherPodName), else the oldest, so every decision picks the same one.
size_t PrimaryPod(const std::vector<PodSummary>& pods, const std::string& wanted_name) {
  size_t best = 0;
  for (size_t i = 0; i < pods.size(); ++i) {
    if (pods[i].name == wanted_name) return i;
    const auto key = [&](size_t j) { return std::tie(pods[j].creation_timestamp, pods[j].name); };
    if (key(i) < key(best)) best = i;
  }
  return best;
}

// What the pod says about the VMI's phase, and for a failure why.
VmiPhase PhaseFromPod(const PodSummary& pod, std::string* reason, std::string* message) {
  if (pod.launcher_exit_code.has_value()) {
    if (*pod.launcher_exit_code == api::launcher_pod::kExitGuestPoweredOff) {
      return VmiPhase::kSucceeded;
    }
    *reason = "LauncherFailed";
    *message = "the launcher in pod " + pod.name + " exited with code " +
               std::to_string(*pod.launcher_exit_code);
    if (!pod.launcher_exit_reason.empty()) *message += " (" + pod.launcher_exit_reason + ")";
    if (!pod.launcher_exit_message.empty()) *message += ": " + pod.launcher_exit_message;
    return VmiPhase::kFailed;
  }
  // A containerDisk's server that ended before the domain ran, without an
  // answer the launcher would report (killed, or its start failed): the
  // launcher would wait for it for ever. Once the domain runs, QEMU holds
  // the file and the server's end changes nothing.
  if (!pod.failed_container.empty() && !pod.launcher_ready) {
    *reason = "ContainerDiskFailed";
    *message = "container " + pod.failed_container + " of pod " + pod.name + " failed" +
               (pod.failed_container_message.empty() ? "" : ": " + pod.failed_container_message);
    return VmiPhase::kFailed;
  }
  if (pod.phase == "Failed") {
    *reason = pod.reason.empty() ? "PodFailed" : pod.reason;
    if (!pod.failed_init_container.empty()) {
      *message = "init container " + pod.failed_init_container + " of pod " + pod.name + " failed" +
                 (pod.failed_init_message.empty() ? "" : ": " + pod.failed_init_message);
    } else {
      *message = "pod " + pod.name + " failed" + (pod.message.empty() ? "" : ": " + pod.message);
    }
    return VmiPhase::kFailed;
  }
  if (pod.phase == "Succeeded") return VmiPhase::kSucceeded;
  if (pod.phase == "Unknown") return VmiPhase::kUnknown;
  if (pod.node_name.empty()) return VmiPhase::kScheduling;
  if (pod.phase == "Running" && pod.launcher_running && pod.ready) return VmiPhase::kRunning;
  return VmiPhase::kScheduled;
}

// What Kubernetes says of the node a pod is bound to (vmi.h, "Nodes").
struct NodeVerdict {
  bool lost = false;   // the VMI fails
  bool force = false;  // the guest cannot run there any more: force-delete the pod
  std::string reason;
  std::string message;
  std::optional<std::chrono::seconds> recheck;  // look again then
};

NodeVerdict JudgeNode(const PodSummary& pod, const VmiObservation& obs) {
  NodeVerdict v;
  if (!obs.nodes.has_value() || pod.node_name.empty()) return v;
  const std::string& name = pod.node_name;
  auto it = obs.nodes->find(name);
  if (it == obs.nodes->end()) {
    v.lost = v.force = true;
    v.reason = "NodeGone";
    v.message = "node " + name + " of launcher pod " + pod.name + " was deleted";
    return v;
  }
  const NodeState& node = it->second;
  if (node.out_of_service) {
    v.lost = v.force = true;
    v.reason = "NodeOutOfService";
    v.message = "node " + name + " of launcher pod " + pod.name + " is tainted " +
                kOutOfServiceTaint + ": it was shut down";
    return v;
  }
  if (node.ready.empty() || node.ready == kTrue) return v;
  v.reason = "NodeUnresponsive";
  const std::string state =
      "Ready=" + node.ready + (node.ready_since.empty() ? "" : " since " + node.ready_since);
  const std::string what_to_do =
      "; the guest may still run there, so its pod is not force-deleted: once the node is down, "
      "delete the Node or taint it " +
      std::string(kOutOfServiceTaint) + "=nodeshutdown:NoExecute";
  if (pod.deleting || pod.disruption_target) {
    v.lost = true;
    v.message = "launcher pod " + pod.name +
                (pod.disruption_target ? " is to be terminated (" + pod.disruption_reason + ")"
                                       : " is being deleted") +
                " and its node " + name + " is " + state + what_to_do;
    return v;
  }
  const std::optional<WallTime> since = base::ParseMicroTime(node.ready_since);
  const WallTime::duration silent = since.has_value() ? obs.now - *since : obs.node_grace;
  if (silent < obs.node_grace) {
    v.recheck =
        std::chrono::ceil<std::chrono::seconds>(obs.node_grace - silent) + std::chrono::seconds(1);
    return v;
  }
  v.lost = true;
  v.message = "node " + name + " of launcher pod " + pod.name + " is " + state + ", longer than " +
              std::to_string(obs.node_grace.count()) + " s" + what_to_do;
  return v;
}

// A pod being deleted on a node that stopped reporting stays Terminating,
// and the VMI's finalizer with it, until the node returns or Kubernetes says
// it is down. Once the node has been silent for the grace (the deletion is
// the VMI's own, so it is no disruption: a node's blip during an ordinary
// stop says nothing), the VMI's Synchronized condition and a Warning Event
// say what holds it and what the admin does; when the node is back, the
// condition goes. The phase stays what the pod says: the guest may still
// run there. A VMI that ended for another reason keeps its own words.
void SayWhatHoldsTheDeletion(const PodSummary& pod, const VmiObservation& obs,
                             api::VirtualMachineInstanceStatus* status, VmiDecision* d) {
  static const std::string kWaits = "the VMI's deletion waits for launcher pod ";
  PodSummary judged = pod;
  judged.deleting = false;
  const NodeVerdict node = JudgeNode(judged, obs);
  if (node.recheck.has_value()) d->requeue_after = *node.recheck;
  const api::Condition* said = api::FindCondition(status->conditions, kConditionSynchronized);
  if (!node.lost || node.force) {
    if (said != nullptr && said->message.starts_with(kWaits)) {
      internal::RemoveCondition(&status->conditions, kConditionSynchronized);
    }
    return;
  }
  if (api::IsFinal(status->phase) && status->reason != node.reason) return;
  const std::string message = kWaits + pod.name + ": " + node.message;
  if (said != nullptr && said->reason == node.reason && said->message == message) return;
  internal::SetCondition(&status->conditions, kConditionSynchronized, internal::kFalse, node.reason,
                         message, obs.now);
  d->events.push_back({kube::EventType::kWarning, node.reason, message});
}

// The reason goes to status.reason, the words to an Event and, so that
// `kubectl describe` keeps them after the Event expires, to the
// Synchronized condition (KubeVirt's home for why a VMI could not be made
// to run).
void Fail(WallTime now, api::VirtualMachineInstanceStatus* status, const std::string& reason,
          const std::string& message, VmiDecision* d) {
  status->phase = VmiPhase::kFailed;
  status->reason = reason;
  internal::SetCondition(&status->conditions, kConditionSynchronized, internal::kFalse, reason,
                         message, now);
  d->events.push_back({kube::EventType::kWarning, reason, message});
}

void ApplyPodToStatus(const PodSummary& pod, const api::VirtualMachineInstanceSpec& spec,
                      WallTime now, api::VirtualMachineInstanceStatus* status) {
  if (!pod.node_name.empty()) status->node_name = pod.node_name;
  if (!pod.launcher_image.empty()) status->launcher_container_image_version = pod.launcher_image;
  Json active = Json::object();
  active[pod.uid] = Json(pod.node_name);
  if (!status->extra.is_object()) status->extra = Json::object();
  status->extra[kActivePods] = std::move(active);

  // The guest's NIC sits behind the pod IP (masquerade), so the pod IP is
  // the address users reach the VM at.
  if (!pod.pod_ip.empty() && !spec.domain.devices.interfaces.empty()) {
    const std::string& name = spec.domain.devices.interfaces.front().name;
    auto it = std::find_if(status->interfaces.begin(), status->interfaces.end(),
                           [&](const api::VmiNetworkInterfaceStatus& s) { return s.name == name; });
    if (it == status->interfaces.end()) {
      status->interfaces.insert(status->interfaces.begin(), api::VmiNetworkInterfaceStatus{});
      it = status->interfaces.begin();
      it->name = name;
    }
    it->ip_address = pod.pod_ip;
    it->ip_addresses = pod.pod_ips;
  }

  if (pod.unschedulable) {
    internal::SetCondition(&status->conditions, kConditionPodScheduled, kFalse,
                           pod.scheduled_reason, pod.scheduled_message, now);
  } else {
    internal::RemoveCondition(&status->conditions, kConditionPodScheduled);
  }
  if (!pod.image_pull_reason.empty()) {
    internal::SetCondition(&status->conditions, kConditionSynchronized, kFalse,
                           pod.image_pull_reason, pod.image_pull_message, now);
  } else {
    internal::RemoveCondition(&status->conditions, kConditionSynchronized);
  }
}

void NotePhaseChange(VmiPhase before, const api::VirtualMachineInstanceStatus& status, WallTime now,
                     api::VirtualMachineInstanceStatus* out, VmiDecision* d) {
  if (status.phase == before) return;
  api::PhaseTransitionTimestamp ts;
  ts.phase = status.phase;
  ts.phase_transition_timestamp = internal::Timestamp(now);
  out->phase_transition_timestamps.push_back(std::move(ts));
  if (status.phase == VmiPhase::kRunning) {
    d->events.push_back({kube::EventType::kNormal, "Started",
                         "VirtualMachineInstance started on node " + status.node_name});
  } else if (status.phase == VmiPhase::kSucceeded) {
    d->events.push_back({kube::EventType::kNormal, "Stopped", "The guest powered itself off"});
  }
}

}  // namespace

VmiDecision DecideVmi(const VmiObservation& obs) {
  VmiDecision d;
  const api::VirtualMachineInstance& vmi = obs.vmi;
  const std::string& uid = vmi.metadata.uid;
  const bool deleting = !vmi.metadata.deletion_timestamp.empty();

  // Only this VMI's pods count: a pod of an earlier VMI of the same name has
  // another uid and is the garbage collector's business.
  std::vector<PodSummary> pods;
  for (const Json& json : obs.pods) {
    PodSummary pod = internal::SummarizePod(json);
    if (pod.created_by == uid || pod.controller_uid == uid) pods.push_back(std::move(pod));
  }
  const std::string pod_name = LauncherPodName(vmi);
  const size_t primary = PrimaryPod(pods, pod_name);

  api::VirtualMachineInstanceStatus status = vmi.status;
  const VmiPhase before = status.phase;
  const int64_t grace = LauncherPodDeletionGrace(vmi.spec, obs.config);

  if (deleting) {
    for (const PodSummary& pod : pods) {
      const NodeVerdict node = JudgeNode(pod, obs);
      if (node.force) {
        // Kubernetes says the guest cannot run there any more; no kubelet
        // will ever finish a graceful deletion.
        d.delete_pods.push_back({pod.name, pod.uid, 0});
        d.events.push_back({kube::EventType::kWarning, "ForceDelete",
                            "Force-deleting launcher pod " + pod.name + ": " + node.message});
        continue;
      }
      if (pod.deleting) continue;
      d.delete_pods.push_back({pod.name, pod.uid, grace});
      d.events.push_back({kube::EventType::kNormal, "SuccessfulDelete",
                          "Deleting launcher pod " + pod.name + ": the VMI is being deleted"});
    }
    if (pods.empty() && HasFinalizer(vmi.metadata, kVmiFinalizer)) {
      std::vector<std::string> finalizers = vmi.metadata.finalizers;
      std::erase(finalizers, kVmiFinalizer);
      d.finalizers = std::move(finalizers);
    }
    if (!pods.empty()) {
      std::string reason, message;
      status.phase = Advance(status.phase, PhaseFromPod(pods[primary], &reason, &message));
      if (status.phase == VmiPhase::kFailed && before != VmiPhase::kFailed) status.reason = reason;
      SayWhatHoldsTheDeletion(pods[primary], obs, &status, &d);
    }
  } else {
    if (!HasFinalizer(vmi.metadata, kVmiFinalizer)) {
      std::vector<std::string> finalizers = vmi.metadata.finalizers;
      finalizers.push_back(kVmiFinalizer);
      d.finalizers = std::move(finalizers);
    }

    if (api::IsFinal(status.phase)) {
      // An ended VMI keeps its pod (for its logs) and never gets another.
    } else if (!pods.empty()) {
      for (size_t i = 0; i < pods.size(); ++i) {
        if (i == primary || pods[i].deleting) continue;
        d.delete_pods.push_back({pods[i].name, pods[i].uid, grace});
        d.events.push_back({kube::EventType::kWarning, "DuplicatePod",
                            "Deleting launcher pod " + pods[i].name + ": " + pods[primary].name +
                                " is this VMI's launcher pod"});
      }
      const PodSummary& pod = pods[primary];
      ApplyPodToStatus(pod, vmi.spec, obs.now, &status);
      // The pod was made only once every DataVolume had succeeded; said
      // here too, as the status of the decision that made it may not have
      // been written (it waited for Running).
      if (!DataVolumesToWaitFor(vmi.spec, obs.claims).empty()) {
        internal::SetCondition(&status.conditions, kConditionDataVolumesReady, kTrue,
                               "AllDataVolumesReady", "", obs.now);
      }
      std::string reason, message;
      VmiPhase seen = PhaseFromPod(pod, &reason, &message);
      if (seen == VmiPhase::kSucceeded && pod.deleting) {
        // Someone deleted the pod (a drain, kubectl): the guest was shut down
        // from outside, it did not power itself off. Seen a moment later the
        // pod would be gone (PodVanished); it fails either way.
        seen = VmiPhase::kFailed;
        reason = "PodDeleted";
        message = "launcher pod " + pod.name + " was deleted while the VMI was running";
      }
      if (const NodeVerdict node = JudgeNode(pod, obs); !api::IsFinal(seen)) {
        if (node.lost) {
          seen = VmiPhase::kFailed;
          reason = node.reason;
          message = node.message;
        }
        if (node.force) {
          d.delete_pods.push_back({pod.name, pod.uid, 0});
          d.events.push_back({kube::EventType::kWarning, "ForceDelete",
                              "Force-deleting launcher pod " + pod.name + ": " + node.message});
        }
        if (node.recheck.has_value()) d.requeue_after = *node.recheck;
      }
      status.phase = Advance(status.phase, seen);
      if (status.phase == VmiPhase::kFailed) Fail(obs.now, &status, reason, message, &d);
    } else if (RecordsAPod(status) || obs.pod_seen) {
      // A pod was seen and is gone: the guest is gone with it. Making a new
      // pod would boot the VM twice from one VMI, which KubeVirt never does.
      Fail(obs.now, &status, "PodVanished",
           "the launcher pod of VirtualMachineInstance " + vmi.metadata.name + " disappeared", &d);
    } else {
      if (status.phase == VmiPhase::kUnset) status.phase = VmiPhase::kPending;
      api::VirtualMachineInstance defaulted = vmi;
      api::ApplyVmiDefaults(&defaulted);
      const std::vector<std::string> missing = MissingClaims(defaulted.spec, obs.claims);
      const auto created = base::ParseMicroTime(vmi.metadata.creation_timestamp);
      const WallTime::duration age =
          created.has_value() ? obs.now - *created : WallTime::duration(kMissingClaimGrace);
      if (!missing.empty() && age < kMissingClaimGrace) {
        d.requeue_after = std::chrono::ceil<std::chrono::seconds>(kMissingClaimGrace - age);
      } else if (!missing.empty()) {
        std::string names;
        for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
        Fail(obs.now, &status, "PvcNotFound", "PersistentVolumeClaim " + names + " not found", &d);
      } else if (base::Status valid = api::ValidateVirtualMachineInstance(defaulted); !valid.ok()) {
        Fail(obs.now, &status, "InvalidSpec", valid.message(), &d);
      } else if (!DataVolumesReady(defaulted.spec, obs.claims, obs.data_volumes, obs.now, &status,
                                   &d)) {
        // Waits: each DataVolume's change brings the VMI back.
      } else if (api::ToJson(defaulted.spec) != api::ToJson(vmi.spec)) {
        // Store what runs first, then render the pod from the stored VMI.
        d.spec = defaulted.spec;
      } else if (base::Result<Json> pod = RenderLauncherPod(vmi, obs.config, obs.claims);
                 !pod.ok()) {
        Fail(obs.now, &status, "InvalidSpec", pod.status().message(), &d);
      } else {
        d.create_pod = std::move(*pod);
        d.events.push_back(
            {kube::EventType::kNormal, "SuccessfulCreate", "Created launcher pod " + pod_name});
        if (std::optional<Event> e = HookSidecarsEvent(vmi.metadata.annotations)) {
          d.events.push_back(std::move(*e));
        }
      }
    }
    SetEmulationCondition(obs.config, pods.empty() ? nullptr : &pods[primary], obs.now, &status,
                          &d);
    SetNetworkDataCondition(vmi, obs.now, &status, &d);
  }

  if (status.phase != VmiPhase::kFailed) status.reason.clear();
  SetReady(pods, primary, deleting, obs.now, &status);
  SetLiveMigratableCondition(obs.now, &status);
  NotePhaseChange(before, status, obs.now, &status, &d);
  if (api::ToJson(status) != api::ToJson(vmi.status)) {
    std::optional<internal::StatusWait> wait;
    if (!deleting) {
      wait = internal::StatusWaitFor(vmi.status, status, pods, primary, d.events, obs.now);
    }
    if (wait.has_value()) {
      d.status_waits = true;
      d.requeue_after = std::min(d.requeue_after.value_or(wait->after), wait->after);
      if (wait->events_wait) d.events.clear();
    } else {
      d.status = std::move(status);
    }
  }
  return d;
}

bool RecordsAPod(const api::VirtualMachineInstanceStatus& status) {
  return HasActivePods(status) || Rank(status.phase) >= Rank(VmiPhase::kScheduling) ||
         status.phase == VmiPhase::kUnknown;
}

VmiDecision DecideVmiAfterPodCreate(const VmiObservation& observation, const VmiDecision& decision,
                                    Json pod) {
  VmiObservation after = observation;
  if (decision.status.has_value()) after.vmi.status = *decision.status;
  after.pods.push_back(std::move(pod));
  VmiDecision next = DecideVmi(after);
  // The pod changes nothing more: the decision's own status is written,
  // unless the status waits for Running.
  if (!next.status.has_value() && !next.status_waits) next.status = decision.status;
  return next;
}

int64_t LauncherPodDeletionGrace(const api::VirtualMachineInstanceSpec& spec,
                                 const LauncherConfig& config) {
  return spec.termination_grace_period_seconds.value_or(
             api::kDefaultTerminationGracePeriodSeconds) +
         config.termination_grace_margin_seconds;
}

VmiDecision RefusedPodDecision(const api::VirtualMachineInstance& vmi,
                               const api::VirtualMachineInstanceStatus& status,
                               const std::string& message, WallTime now) {
  VmiDecision d;
  api::VirtualMachineInstanceStatus failed = status;
  Fail(now, &failed, "FailedCreate",
       "launcher pod " + LauncherPodName(vmi) + " was refused: " + message, &d);
  SetReady({}, 0, !vmi.metadata.deletion_timestamp.empty(), now, &failed);
  SetLiveMigratableCondition(now, &failed);
  NotePhaseChange(vmi.status.phase, failed, now, &failed, &d);
  d.status = std::move(failed);
  return d;
}

}  // namespace vireo::controllers
