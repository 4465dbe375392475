// The steps of DecideVm (vm_steps.h): KubeVirt's run strategies, state
// change requests, start back-off and printableStatus, one step at a time.
// vm.h has the rules; comments here say why.
#include "controllers/reconcile/vm_steps.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "lib/api/codec.h"
#include "lib/api/datavolume.h"
#include "lib/api/validation.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers::vm_steps {
namespace {

using api::RunStrategy;
using api::StateChangeAction;
using api::VmiPhase;
namespace ps = api::printable_status;

// A missing PVC may appear without the VM changing: look again now and then.
constexpr std::chrono::seconds kMissingClaimRecheck{15};

constexpr char kStartFailure[] = "startFailure";

// status.startFailure, KubeVirt's record of VMIs that ended before running.
struct StartFailure {
  int64_t count = 0;
  std::string last_failed_uid;
  std::string retry_after;  // metav1.Time
};

std::optional<StartFailure> ReadStartFailure(const Json& extra) {
  if (!extra.is_object() || !extra.contains(kStartFailure)) return std::nullopt;
  const Json& json = extra.at(kStartFailure);
  if (!json.is_object()) return std::nullopt;
  StartFailure out;
  out.count = base::GetInt(json, "consecutiveFailCount").value_or(0);
  out.last_failed_uid = base::GetString(json, "lastFailedVMIUID");
  out.retry_after = base::GetString(json, "retryAfterTimestamp");
  return out;
}

void WriteStartFailure(const std::optional<StartFailure>& failure, Json* extra) {
  if (!failure.has_value()) {
    if (extra->is_object() && extra->contains(kStartFailure)) extra->erase(kStartFailure);
    return;
  }
  if (!extra->is_object()) *extra = Json::object();
  Json json = Json::object();
  json["consecutiveFailCount"] = Json(failure->count);
  json["lastFailedVMIUID"] = Json(failure->last_failed_uid);
  json["retryAfterTimestamp"] = Json(failure->retry_after);
  (*extra)[kStartFailure] = std::move(json);
}

bool ControlledBy(const api::VirtualMachineInstance& vmi, const std::string& vm_uid) {
  for (const api::OwnerReference& owner : vmi.metadata.owner_references) {
    if (owner.controller.value_or(false)) return owner.uid == vm_uid;
  }
  return false;
}

// A VMI that reached Running proved the VM can start: its end is no start
// failure.
bool EverRan(const api::VirtualMachineInstance& vmi) {
  if (vmi.status.phase == VmiPhase::kRunning) return true;
  return std::any_of(
      vmi.status.phase_transition_timestamps.begin(), vmi.status.phase_transition_timestamps.end(),
      [](const api::PhaseTransitionTimestamp& t) { return t.phase == VmiPhase::kRunning; });
}

bool HasFinalizer(const api::ObjectMeta& meta) {
  return std::find(meta.finalizers.begin(), meta.finalizers.end(), kVmFinalizer) !=
         meta.finalizers.end();
}

// Manual and Halted never start on their own, so they keep no record.
bool CountsStartFailures(RunStrategy strategy) {
  return strategy != RunStrategy::kManual && strategy != RunStrategy::kHalted;
}

std::chrono::seconds Until(const std::string& timestamp, WallTime now) {
  const std::optional<WallTime> when = base::ParseMicroTime(timestamp);
  if (!when.has_value() || *when <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(*when - now);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Whether the VMI's spec is not what the VM's template makes now (both with
// KubeVirt's defaults, as NewVmiFor applies them).
bool TemplateDiffers(const api::VirtualMachine& vm, const api::VirtualMachineInstance& vmi) {
  const Json wanted = NewVmiFor(vm);
  const Json* wanted_spec = base::Find(wanted, "spec");
  const Json running = api::ToJson(vmi);
  const Json* running_spec = base::Find(running, "spec");
  if (wanted_spec == nullptr || running_spec == nullptr) return false;
  return *wanted_spec != *running_spec;
}

}  // namespace

VmiView ViewVmi(const VmObservation& obs) {
  VmiView view;
  if (!obs.vmi.has_value()) return view;
  if (!ControlledBy(*obs.vmi, obs.vm->metadata.uid)) {
    view.foreign = true;
    return view;
  }
  view.vmi = &*obs.vmi;
  view.deleting = !obs.vmi->metadata.deletion_timestamp.empty();
  view.phase = obs.vmi->status.phase;
  view.final = api::IsFinal(view.phase);
  view.live = !view.final;
  return view;
}

std::optional<std::vector<std::string>> DecideFinalizers(const api::VirtualMachine& vm,
                                                         const VmiView& vmi, bool strategy_valid) {
  const bool has = HasFinalizer(vm.metadata);
  std::vector<std::string> finalizers = vm.metadata.finalizers;
  if (!vm.metadata.deletion_timestamp.empty()) {
    // Deleting a VM never waits on a VMI that is already gone.
    if (vmi.vmi != nullptr || !has) return std::nullopt;
    std::erase(finalizers, kVmFinalizer);
    return finalizers;
  }
  if (!strategy_valid || has) return std::nullopt;
  finalizers.push_back(kVmFinalizer);
  return finalizers;
}

VmPlan PlanDeletion(const VmiView& vmi) {
  VmPlan plan;
  if (vmi.vmi != nullptr && !vmi.deleting) plan.why_delete = "the VirtualMachine is being deleted";
  return plan;
}

void DropDoneRequests(const VmiView& vmi, RunStrategy strategy,
                      std::vector<api::StateChangeRequest>* requests, std::vector<Event>* events) {
  while (!requests->empty()) {
    const api::StateChangeRequest& head = requests->front();
    bool done = false;
    if (head.action == StateChangeAction::kStop) {
      done = vmi.vmi == nullptr || !head.uid.has_value() || *head.uid != vmi.vmi->metadata.uid;
    } else if (vmi.vmi != nullptr && !vmi.deleting) {
      done = true;
    } else if (strategy == RunStrategy::kHalted) {
      done = true;
      events->push_back({kube::EventType::kWarning, "IgnoredStartRequest",
                         "Start request dropped: runStrategy is Halted (change the "
                         "runStrategy to start the VM)"});
    }
    if (!done) break;
    requests->erase(requests->begin());
  }
}

std::chrono::seconds UpdateStartFailure(RunStrategy strategy, const VmiView& vmi, WallTime now,
                                        Json* status_extra) {
  std::optional<StartFailure> start_failure = ReadStartFailure(*status_extra);
  if (!CountsStartFailures(strategy) || (vmi.vmi != nullptr && EverRan(*vmi.vmi))) {
    start_failure.reset();
  } else if (vmi.final && (!start_failure.has_value() ||
                           start_failure->last_failed_uid != vmi.vmi->metadata.uid)) {
    const int64_t count = start_failure.has_value() ? start_failure->count + 1 : 1;
    const std::chrono::seconds delay = StartBackoff(count, vmi.vmi->metadata.uid);
    start_failure = StartFailure{count, vmi.vmi->metadata.uid, internal::Timestamp(now + delay)};
  }
  WriteStartFailure(start_failure, status_extra);
  return start_failure.has_value() ? Until(start_failure->retry_after, now)
                                   : std::chrono::seconds(0);
}

VmPlan DecideVmiAction(const api::VirtualMachine& vm, const VmiView& vmi, RunStrategy strategy,
                       api::VirtualMachineStatus* status) {
  VmPlan plan;
  const auto& requests = status->state_change_requests;
  const bool stop_requested =
      !requests.empty() && requests.front().action == StateChangeAction::kStop;
  const bool start_requested =
      !requests.empty() && requests.front().action == StateChangeAction::kStart;
  if (vmi.vmi != nullptr) {
    switch (strategy) {
      case RunStrategy::kAlways:
        plan.will_run = true;
        break;
      case RunStrategy::kRerunOnFailure:
        plan.will_run = vmi.phase != VmiPhase::kSucceeded;
        break;
      case RunStrategy::kManual:
        plan.will_run = !stop_requested && vmi.live;
        break;
      case RunStrategy::kOnce:
        plan.will_run = vmi.live;
        break;
      case RunStrategy::kHalted:
        break;
    }
    if (vmi.deleting) return plan;
    if (stop_requested) {
      plan.why_delete = "a stop was requested";
    } else if (strategy == RunStrategy::kHalted) {
      plan.why_delete = "runStrategy is Halted";
    } else if (vmi.final && strategy == RunStrategy::kAlways) {
      plan.why_delete = std::string("it ended (") + api::VmiPhaseName(vmi.phase) +
                        ") and runStrategy Always starts a new one";
    } else if (vmi.phase == VmiPhase::kFailed && strategy == RunStrategy::kRerunOnFailure) {
      plan.why_delete = "it failed and runStrategy RerunOnFailure starts a new one";
      // The queued Start makes the next decision start the new VMI,
      // though status.runStrategy already says RerunOnFailure acted.
      if (std::none_of(requests.begin(), requests.end(),
                       [](const auto& r) { return r.action == StateChangeAction::kStart; })) {
        api::StateChangeRequest start;
        start.action = StateChangeAction::kStart;
        status->state_change_requests.push_back(std::move(start));
      }
    }
    return plan;
  }
  if (vmi.foreign) {
    plan.failure = "VirtualMachineInstance " + vm.metadata.name +
                   " exists and is not controlled by this VirtualMachine";
    return plan;
  }
  const bool not_acted_yet = status->run_strategy != strategy;
  switch (strategy) {
    case RunStrategy::kAlways:
      plan.wants_new = true;
      break;
    case RunStrategy::kRerunOnFailure:
    case RunStrategy::kOnce:
      plan.wants_new = start_requested || not_acted_yet;
      break;
    case RunStrategy::kManual:
      plan.wants_new = start_requested;
      break;
    case RunStrategy::kHalted:
      break;
  }
  plan.will_run = plan.wants_new;
  return plan;
}

void GateNewVmi(const api::VirtualMachine& vm, const std::vector<std::string>& missing,
                const std::string& template_problem, std::chrono::seconds wait, VmPlan* plan) {
  plan->backoff = wait.count() > 0;
  if (plan->wants_new) {
    if (!missing.empty()) {
      plan->requeue_after = kMissingClaimRecheck;
    } else if (!template_problem.empty()) {
      // An instance type or preference that is missing may yet be made:
      // nothing watches them, so look again.
      plan->failure = template_problem;
      plan->requeue_after = kMissingClaimRecheck;
    } else if (base::Status valid = api::ValidateVirtualMachine(vm); !valid.ok()) {
      plan->failure = valid.message();
    } else if (plan->backoff) {
      plan->requeue_after = wait;
    } else {
      plan->create = true;
    }
  } else if (plan->backoff && plan->will_run) {
    plan->requeue_after = wait;
  }
}

DataVolumeVerdict JudgeDataVolumes(const api::VirtualMachine& vm, const DataVolumes& dvs) {
  DataVolumeVerdict verdict;
  for (const std::string& name : api::DataVolumeNames(vm.spec.template_spec.spec)) {
    auto it = dvs.find(name);
    if (it != dvs.end() && it->second.phase == api::dv_phase::kFailed) {
      verdict.failed = "DataVolume " + name + " failed: " + it->second.message;
    } else if (it == dvs.end() || it->second.phase != api::dv_phase::kSucceeded) {
      verdict.waiting = name;
    }
  }
  return verdict;
}

std::string PrintableStatusOf(bool vm_deleting, const VmiView& vmi, const VmPlan& plan,
                              bool deleting_vmi, bool claims_missing,
                              const DataVolumeVerdict& dvs) {
  const bool exists = vmi.vmi != nullptr;
  const bool wants = plan.will_run || vmi.live;
  const auto& conditions = exists ? vmi.vmi->status.conditions : std::vector<api::Condition>{};
  if (vm_deleting) return ps::kTerminating;
  if (vmi.live && deleting_vmi) return ps::kStopping;
  if (exists && vmi.phase == VmiPhase::kRunning) return ps::kRunning;
  if (claims_missing && wants) return ps::kErrorPvcNotFound;
  if (!dvs.failed.empty() && wants) return ps::kDataVolumeError;
  if (!dvs.waiting.empty() && wants) return ps::kProvisioning;
  if (internal::HasCondition(conditions, kConditionSynchronized, internal::kFalse,
                             ps::kErrImagePull)) {
    return ps::kErrImagePull;
  }
  if (internal::HasCondition(conditions, kConditionSynchronized, internal::kFalse,
                             ps::kImagePullBackOff)) {
    return ps::kImagePullBackOff;
  }
  if (internal::HasCondition(conditions, kConditionPodScheduled, internal::kFalse,
                             "Unschedulable")) {
    return ps::kErrorUnschedulable;
  }
  if (exists && vmi.phase == VmiPhase::kUnknown) return ps::kUnknown;
  if (vmi.live || plan.create) return ps::kStarting;
  if (plan.will_run && plan.backoff) return ps::kCrashLoopBackOff;
  // An ended VMI on its way to be replaced.
  if (plan.will_run && vmi.final && deleting_vmi && plan.failure.empty()) return ps::kStarting;
  return ps::kStopped;
}

std::optional<Event> PrintableStatusEvent(const api::VirtualMachineStatus& status,
                                          const VmiView& vmi,
                                          const std::vector<std::string>& missing,
                                          const DataVolumeVerdict& dvs) {
  if (status.printable_status == ps::kCrashLoopBackOff) {
    const std::optional<StartFailure> sf = ReadStartFailure(status.extra);
    // Why the last one failed (a refused launcher pod, the launcher's
    // exit), so `kubectl describe vm` says it after the VMI is replaced.
    std::string why;
    if (vmi.vmi != nullptr && vmi.phase == VmiPhase::kFailed) {
      const api::Condition* sync =
          api::FindCondition(vmi.vmi->status.conditions, kConditionSynchronized);
      why = vmi.vmi->status.reason;
      if (sync != nullptr && !sync->message.empty()) why += ": " + sync->message;
    }
    return Event{kube::EventType::kWarning, "CrashLoopBackOff",
                 "VirtualMachineInstance failed to start " + std::to_string(sf ? sf->count : 0) +
                     " time(s) in a row" + (why.empty() ? "" : " (" + why + ")") +
                     "; next start not before " + (sf ? sf->retry_after : "")};
  }
  if (status.printable_status == ps::kDataVolumeError) {
    return Event{kube::EventType::kWarning, "DataVolumeError", dvs.failed};
  }
  if (status.printable_status == ps::kErrorPvcNotFound) {
    return Event{
        kube::EventType::kWarning, "PvcNotFound",
        "PersistentVolumeClaim " + Join(missing) + " not found; the VM starts once it exists"};
  }
  return std::nullopt;
}

void DecideFailureCondition(const std::string& failure, bool creating,
                            const api::VirtualMachineStatus& before, WallTime now,
                            api::VirtualMachineStatus* status, std::vector<Event>* events) {
  if (failure.empty()) {
    if (!creating) internal::RemoveCondition(&status->conditions, kConditionFailure);
    return;
  }
  const api::Condition* old = api::FindCondition(before.conditions, kConditionFailure);
  internal::SetCondition(&status->conditions, kConditionFailure, internal::kTrue, "FailedCreate",
                         failure, now);
  if (old == nullptr || old->message != failure) {
    events->push_back({kube::EventType::kWarning, "FailedCreate", failure});
  }
}

// Ready and PodScheduled mirror the VMI's, so `kubectl get vm` and
// `kubectl describe vm` tell the same story as the VMI.
void MirrorVmiConditions(const api::VirtualMachineInstance* vmi, WallTime now,
                         std::vector<api::Condition>* conditions) {
  const api::Condition* ready =
      vmi != nullptr ? api::FindCondition(vmi->status.conditions, kConditionReady) : nullptr;
  if (ready != nullptr) {
    internal::SetCondition(conditions, kConditionReady, ready->status, ready->reason,
                           ready->message, now);
  } else {
    internal::SetCondition(conditions, kConditionReady, internal::kFalse,
                           vmi == nullptr ? "VMINotExists" : "VMINotReady", "", now);
  }
  const api::Condition* scheduled =
      vmi != nullptr ? api::FindCondition(vmi->status.conditions, kConditionPodScheduled) : nullptr;
  if (scheduled != nullptr) {
    internal::SetCondition(conditions, kConditionPodScheduled, scheduled->status, scheduled->reason,
                           scheduled->message, now);
  } else {
    internal::RemoveCondition(conditions, kConditionPodScheduled);
  }
}

void DecideRestartRequired(const api::VirtualMachine& vm, const VmiView& vmi, bool deleting_vmi,
                           WallTime now, api::VirtualMachineStatus* status,
                           std::vector<Event>* events) {
  // An edit of the template reaches the guest only through a new VMI: say so
  // while the old one runs (KubeVirt's condition and words).
  const bool vm_deleting = !vm.metadata.deletion_timestamp.empty();
  if (!vmi.live || deleting_vmi || vm_deleting || !TemplateDiffers(vm, *vmi.vmi)) {
    internal::RemoveCondition(&status->conditions, kConditionRestartRequired);
    return;
  }
  if (!internal::HasCondition(vm.status.conditions, kConditionRestartRequired, internal::kTrue)) {
    events->push_back({kube::EventType::kNormal, "RestartRequired",
                       "spec.template changed while VirtualMachineInstance " +
                           vmi.vmi->metadata.name +
                           " runs: restart the VM (virtctl restart) to apply it"});
  }
  internal::SetCondition(&status->conditions, kConditionRestartRequired, internal::kTrue, "",
                         "a non-live-updatable field was changed in the template spec", now);
}

int64_t ObservedGeneration(const api::VirtualMachine& vm, const api::VirtualMachineInstance* vmi) {
  if (vmi == nullptr) return vm.metadata.generation;
  return MadeFromGeneration(*vmi).value_or(vm.metadata.generation);
}

std::optional<int64_t> MadeFromGeneration(const api::VirtualMachineInstance& vmi) {
  auto it = vmi.metadata.annotations.find(kVmGenerationAnnotation);
  if (it == vmi.metadata.annotations.end()) return std::nullopt;
  int64_t generation = 0;
  const std::string& text = it->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), generation);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return generation;
}

}  // namespace vireo::controllers::vm_steps
