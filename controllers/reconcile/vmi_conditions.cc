// The VMI's conditions; see vmi_conditions.h.
#include "controllers/reconcile/vmi_conditions.h"

#include "controllers/reconcile/conditions.h"
#include "lib/api/datavolume.h"
#include "lib/api/network_data.h"

namespace vireo::controllers::internal {

using api::VmiPhase;

namespace {

// With emulation auto and a KVM device plugin, the accel-probe init
// container's verdict ("kvm: <why>" / "tcg: <why>", launcher/accel.h).
void SetProbedEmulationCondition(const std::optional<std::string>& verdict, WallTime now,
                                 api::VirtualMachineInstanceStatus* status, VmiDecision* d) {
  if (!verdict.has_value()) {
    SetCondition(&status->conditions, kConditionSoftwareEmulation, kUnknown, "LauncherChooses",
                 "the launcher pod's accel-probe init container has not finished", now);
    return;
  }
  const std::string text = verdict->substr(0, verdict->find('\n'));
  const size_t colon = text.find(':');
  const std::string mode = text.substr(0, colon);
  std::string why = colon == std::string::npos ? "" : text.substr(colon + 1);
  why.erase(0, why.find_first_not_of(' '));
  if (mode == "kvm") {
    SetCondition(&status->conditions, kConditionSoftwareEmulation, kFalse, "KvmAvailable",
                 "the guest runs under KVM: " + why, now);
  } else if (mode == "tcg") {
    if (!HasCondition(status->conditions, kConditionSoftwareEmulation, kTrue, "NoUsableKvm")) {
      d->events.push_back({kube::EventType::kWarning, kEventSoftwareEmulation,
                           "The guest runs under software emulation (TCG), much slower than "
                           "KVM: " +
                               why});
    }
    SetCondition(&status->conditions, kConditionSoftwareEmulation, kTrue, "NoUsableKvm",
                 "the guest runs under TCG: " + why, now);
  } else {
    SetCondition(&status->conditions, kConditionSoftwareEmulation, kUnknown, "LauncherChooses",
                 "the accel-probe init container said \"" + text + "\"", now);
  }
}

}  // namespace

void SetEmulationCondition(const LauncherConfig& config, const PodSummary* pod, WallTime now,
                           api::VirtualMachineInstanceStatus* status, VmiDecision* d) {
  // The pod says how it was made (the flags may have changed since); before
  // it exists, the configuration it will be made with.
  if (pod != nullptr ? pod->has_accel_probe
                     : config.emulation == EmulationMode::kAuto && config.kvm_resource_offered) {
    SetProbedEmulationCondition(pod != nullptr ? pod->accel_verdict : std::nullopt, now, status, d);
    return;
  }
  switch (config.emulation) {
    case EmulationMode::kOn:
      SetCondition(&status->conditions, kConditionSoftwareEmulation, kTrue, "EmulationOn",
                   "the guest runs under TCG (--emulation=on)", now);
      break;
    case EmulationMode::kOff:
      SetCondition(&status->conditions, kConditionSoftwareEmulation, kFalse, "KvmOnly",
                   "the guest runs under KVM (--emulation=off)", now);
      break;
    case EmulationMode::kAuto:
      SetCondition(
          &status->conditions, kConditionSoftwareEmulation, kUnknown, "NoKvmResource",
          "no KVM device plugin is declared (vireo-controller --kvm-resource-offered=false), so "
          "the pod asks for no " +
              config.kvm_resource +
              ": the launcher uses TCG unless /dev/kvm "
              "works in the pod anyway",
          now);
      break;
  }
}

void SetNetworkDataCondition(const api::VirtualMachineInstance& vmi, WallTime now,
                             api::VirtualMachineInstanceStatus* status, VmiDecision* d) {
  const std::vector<std::string> problems = api::NetworkDataProblems(vmi.spec);
  if (problems.empty()) {
    RemoveCondition(&status->conditions, kConditionNetworkDataMismatch);
    return;
  }
  std::string message;
  for (const std::string& problem : problems) message += (message.empty() ? "" : "; ") + problem;
  if (!HasCondition(status->conditions, kConditionNetworkDataMismatch, kTrue, "UnknownInterface")) {
    d->events.push_back({kube::EventType::kWarning, "NetworkDataMismatch",
                         "The guest's network will not be configured: " + message});
  }
  SetCondition(&status->conditions, kConditionNetworkDataMismatch, kTrue, "UnknownInterface",
               message, now);
}

bool DataVolumesReady(const api::VirtualMachineInstanceSpec& spec, const Claims& claims,
                      const DataVolumes& dvs, WallTime now,
                      api::VirtualMachineInstanceStatus* status, VmiDecision* d) {
  const std::vector<std::string> names = DataVolumesToWaitFor(spec, claims);
  if (names.empty()) return true;
  std::string reason, message;
  for (const std::string& name : names) {
    auto it = dvs.find(name);
    if (it == dvs.end()) {
      reason = "DataVolumeNotReady";
      message = "DataVolume " + name + " not found";
      break;
    }
    const DataVolumeState& dv = it->second;
    if (dv.phase == api::dv_phase::kFailed) {
      reason = "DataVolumeFailed";
      message = "DataVolume " + name + " failed: " + dv.message;
      break;
    }
    if (dv.phase != api::dv_phase::kSucceeded && reason.empty()) {
      reason = "DataVolumeNotReady";
      message = "DataVolume " + name + " is " + (dv.phase.empty() ? "new" : dv.phase) +
                (dv.progress.empty() || dv.progress == "N/A" ? "" : " (" + dv.progress + ")");
    }
  }
  if (reason.empty()) {
    SetCondition(&status->conditions, kConditionDataVolumesReady, kTrue, "AllDataVolumesReady", "",
                 now);
    return true;
  }
  if (reason == "DataVolumeFailed" &&
      !HasCondition(status->conditions, kConditionDataVolumesReady, kFalse, reason)) {
    d->events.push_back({kube::EventType::kWarning, reason, message});
  }
  // The message follows the progress without a new transition.
  SetCondition(&status->conditions, kConditionDataVolumesReady, kFalse, reason, message, now);
  return false;
}

void SetReady(const std::vector<PodSummary>& pods, size_t primary, bool deleting, WallTime now,
              api::VirtualMachineInstanceStatus* status) {
  std::string reason;
  if (deleting) {
    reason = "Terminating";
  } else if (pods.empty()) {
    reason = "PodNotExists";
  } else if (status->phase != VmiPhase::kRunning || !pods[primary].ready) {
    reason = api::IsFinal(status->phase) ? "GuestNotRunning" : "PodNotReady";
  }
  if (reason.empty()) {
    SetCondition(&status->conditions, kConditionReady, kTrue, "", "", now);
  } else {
    SetCondition(&status->conditions, kConditionReady, kFalse, reason, "", now);
  }
}

void SetLiveMigratableCondition(WallTime now, api::VirtualMachineInstanceStatus* status) {
  SetCondition(&status->conditions, kConditionLiveMigratable, kFalse, "NotMigratable",
               "Vireo does not live-migrate: draining the node stops the guest (a VM with "
               "runStrategy Always or RerunOnFailure starts it again on another node)",
               now);
}

}  // namespace vireo::controllers::internal
