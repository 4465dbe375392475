// The VM decision: KubeVirt's run strategies, state change requests, start
// back-off and printableStatus over one VM and its VMI. See vm.h for the
// rules; comments here say why.
#include "controllers/reconcile/vm.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "lib/api/codec.h"
#include "lib/api/datavolume.h"
#include "lib/api/defaults.h"
#include "lib/api/validation.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers {
namespace {

using api::RunStrategy;
using api::StateChangeAction;
using api::VmiPhase;
namespace ps = api::printable_status;

// A missing PVC may appear without the VM changing: look again now and then.
constexpr std::chrono::seconds kMissingClaimRecheck{15};
constexpr std::chrono::seconds kBackoffBase{10};
constexpr std::chrono::seconds kBackoffCap{300};

constexpr char kStartFailure[] = "startFailure";

// status.startFailure, KubeVirt's record of VMIs that ended before running.
struct StartFailure {
  int64_t count = 0;
  std::string last_failed_uid;
  std::string retry_after;  // metav1.Time
};

std::optional<StartFailure> ReadStartFailure(const Json& extra) {
  if (!extra.is_object() || !extra.has_field(kStartFailure)) return std::nullopt;
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
    if (extra->is_object() && extra->has_field(kStartFailure)) extra->erase(kStartFailure);
    return;
  }
  if (!extra->is_object()) *extra = Json::object();
  Json json = Json::object();
  json["consecutiveFailCount"] = Json::number(failure->count);
  json["lastFailedVMIUID"] = Json::string(failure->last_failed_uid);
  json["retryAfterTimestamp"] = Json::string(failure->retry_after);
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

// Drops the requests at the head of the queue that are done (vm.h says
// when), so the head is the request still to act on, if any.
void DropDoneRequests(const api::VirtualMachineInstance* vmi, bool vmi_deleting,
                      RunStrategy strategy, std::vector<api::StateChangeRequest>* requests,
                      std::vector<Event>* events) {
  while (!requests->empty()) {
    const api::StateChangeRequest& head = requests->front();
    bool done = false;
    if (head.action == StateChangeAction::kStop) {
      done = vmi == nullptr || !head.uid.has_value() || *head.uid != vmi->metadata.uid;
    } else if (vmi != nullptr && !vmi_deleting) {
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

std::chrono::seconds StartBackoff(int64_t consecutive_failures, const std::string& vmi_uid) {
  const int64_t doublings = std::clamp<int64_t>(consecutive_failures - 1, 0, 10);
  const int64_t base = std::min<int64_t>(kBackoffBase.count() << doublings, kBackoffCap.count());
  // FNV-1a of the uid: a stable spread, not a random one.
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : vmi_uid) hash = (hash ^ c) * 1099511628211ULL;
  const int64_t jitter = static_cast<int64_t>(hash % static_cast<uint64_t>(base / 4 + 1));
  return std::chrono::seconds(std::min<int64_t>(base + jitter, kBackoffCap.count()));
}

std::vector<Json> NewDataVolumesFor(const api::VirtualMachine& vm, const DataVolumes& existing) {
  std::vector<Json> created;
  if (!vm.spec.data_volume_templates.is_array()) return created;
  for (const Json& tmpl : vm.spec.data_volume_templates.as_array()) {
    const std::string name = base::GetString(tmpl, "metadata.name");
    if (name.empty() || existing.contains(name)) continue;
    Json dv = Json::object();
    dv["apiVersion"] = Json::string(api::kCdiApiVersion);
    dv["kind"] = Json::string(api::kDataVolumeKind);
    Json metadata = Json::object();
    metadata["name"] = Json::string(name);
    metadata["namespace"] = Json::string(vm.metadata.namespace_);
    for (const char* key : {"labels", "annotations"}) {
      if (const Json* value = base::Find(tmpl, std::string("metadata.") + key)) {
        metadata[key] = *value;
      }
    }
    Json owner = Json::object();
    owner["apiVersion"] = Json::string(vm.api_version.empty() ? api::kApiVersion : vm.api_version);
    owner["kind"] = Json::string(api::kVirtualMachineKind);
    owner["name"] = Json::string(vm.metadata.name);
    owner["uid"] = Json::string(vm.metadata.uid);
    owner["controller"] = Json::boolean(true);
    owner["blockOwnerDeletion"] = Json::boolean(true);
    metadata["ownerReferences"] = Json::array(1);
    metadata["ownerReferences"][0] = std::move(owner);
    dv["metadata"] = std::move(metadata);
    if (const Json* spec = base::Find(tmpl, "spec")) dv["spec"] = *spec;
    created.push_back(std::move(dv));
  }
  return created;
}

Json NewVmiFor(const api::VirtualMachine& vm) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = vm.metadata.name;
  vmi.metadata.namespace_ = vm.metadata.namespace_;
  vmi.metadata.labels = vm.spec.template_spec.metadata.labels;
  vmi.metadata.annotations = vm.spec.template_spec.metadata.annotations;
  vmi.metadata.annotations[kVmGenerationAnnotation] = std::to_string(vm.metadata.generation);
  api::OwnerReference owner;
  owner.api_version = api::kApiVersion;
  owner.kind = api::kVirtualMachineKind;
  owner.name = vm.metadata.name;
  owner.uid = vm.metadata.uid;
  owner.controller = true;
  owner.block_owner_deletion = true;
  vmi.metadata.owner_references.push_back(std::move(owner));
  vmi.metadata.finalizers.push_back(kVmiFinalizer);
  vmi.spec = vm.spec.template_spec.spec;
  api::ApplyVmiDefaults(&vmi);
  Json json = api::ToJson(vmi);
  if (json.has_field("status")) json.erase("status");
  return json;
}

VmDecision DecideVm(const VmObservation& obs) {
  VmDecision d;
  if (!obs.vm.has_value()) return d;
  const api::VirtualMachine& vm = *obs.vm;
  const WallTime now = obs.now;
  const bool vm_deleting = !vm.metadata.deletion_timestamp.empty();
  const api::VirtualMachineInstance* vmi =
      obs.vmi.has_value() && ControlledBy(*obs.vmi, vm.metadata.uid) ? &*obs.vmi : nullptr;
  const bool foreign = obs.vmi.has_value() && vmi == nullptr;
  const bool vmi_deleting = vmi != nullptr && !vmi->metadata.deletion_timestamp.empty();
  const VmiPhase phase = vmi != nullptr ? vmi->status.phase : VmiPhase::kUnset;
  const bool vmi_final = vmi != nullptr && api::IsFinal(phase);
  const bool vmi_live = vmi != nullptr && !vmi_final;

  api::VirtualMachineStatus status = vm.status;
  std::string failure;  // the Failure condition's message; empty: none
  std::string why_delete;
  bool create = false;
  bool will_run = false;  // the strategy wants a VMI running
  bool backoff = false;   // ... but waits for its start back-off
  const std::vector<std::string> missing = MissingClaims(vm.spec.template_spec.spec, obs.claims);

  if (vm_deleting) {
    if (vmi != nullptr && !vmi_deleting) why_delete = "the VirtualMachine is being deleted";
    if (vmi == nullptr && HasFinalizer(vm.metadata)) {
      std::vector<std::string> finalizers = vm.metadata.finalizers;
      std::erase(finalizers, kVmFinalizer);
      d.finalizers = std::move(finalizers);
    }
  } else if (base::Result<RunStrategy> strategy_or = api::EffectiveRunStrategy(vm.spec);
             !strategy_or.ok()) {
    failure = strategy_or.status().message();
  } else {
    const RunStrategy strategy = *strategy_or;
    if (!HasFinalizer(vm.metadata)) {
      std::vector<std::string> finalizers = vm.metadata.finalizers;
      finalizers.push_back(kVmFinalizer);
      d.finalizers = std::move(finalizers);
    }
    DropDoneRequests(vmi, vmi_deleting, strategy, &status.state_change_requests, &d.events);
    const auto& requests = status.state_change_requests;
    const bool stop_requested =
        !requests.empty() && requests.front().action == StateChangeAction::kStop;
    const bool start_requested =
        !requests.empty() && requests.front().action == StateChangeAction::kStart;

    std::optional<StartFailure> start_failure = ReadStartFailure(status.extra);
    const bool counts_failures =
        strategy != RunStrategy::kManual && strategy != RunStrategy::kHalted;
    if (!counts_failures || (vmi != nullptr && EverRan(*vmi))) {
      start_failure.reset();
    } else if (vmi_final && (!start_failure.has_value() ||
                             start_failure->last_failed_uid != vmi->metadata.uid)) {
      const int64_t count = start_failure.has_value() ? start_failure->count + 1 : 1;
      const std::chrono::seconds delay = StartBackoff(count, vmi->metadata.uid);
      start_failure = StartFailure{count, vmi->metadata.uid, internal::Timestamp(now + delay)};
    }
    WriteStartFailure(start_failure, &status.extra);
    const std::chrono::seconds wait = start_failure.has_value()
                                          ? Until(start_failure->retry_after, now)
                                          : std::chrono::seconds(0);
    backoff = counts_failures && wait.count() > 0;

    bool wants_new = false;  // no VMI, and one should be made
    if (vmi != nullptr) {
      switch (strategy) {
        case RunStrategy::kAlways:
          will_run = true;
          break;
        case RunStrategy::kRerunOnFailure:
          will_run = phase != VmiPhase::kSucceeded;
          break;
        case RunStrategy::kManual:
          will_run = !stop_requested && vmi_live;
          break;
        case RunStrategy::kOnce:
          will_run = vmi_live;
          break;
        case RunStrategy::kHalted:
          break;
      }
      if (!vmi_deleting) {
        if (stop_requested) {
          why_delete = "a stop was requested";
        } else if (strategy == RunStrategy::kHalted) {
          why_delete = "runStrategy is Halted";
        } else if (vmi_final && strategy == RunStrategy::kAlways) {
          why_delete = std::string("it ended (") + api::VmiPhaseName(phase) +
                       ") and runStrategy Always starts a new one";
        } else if (phase == VmiPhase::kFailed && strategy == RunStrategy::kRerunOnFailure) {
          why_delete = "it failed and runStrategy RerunOnFailure starts a new one";
          // The queued Start makes the next decision start the new VMI,
          // though status.runStrategy already says RerunOnFailure acted.
          if (std::none_of(requests.begin(), requests.end(),
                           [](const auto& r) { return r.action == StateChangeAction::kStart; })) {
            api::StateChangeRequest start;
            start.action = StateChangeAction::kStart;
            status.state_change_requests.push_back(std::move(start));
          }
        }
      }
    } else if (foreign) {
      failure = "VirtualMachineInstance " + vm.metadata.name +
                " exists and is not controlled by this VirtualMachine";
    } else {
      const bool not_acted_yet = status.run_strategy != strategy;
      switch (strategy) {
        case RunStrategy::kAlways:
          wants_new = true;
          break;
        case RunStrategy::kRerunOnFailure:
        case RunStrategy::kOnce:
          wants_new = start_requested || not_acted_yet;
          break;
        case RunStrategy::kManual:
          wants_new = start_requested;
          break;
        case RunStrategy::kHalted:
          break;
      }
      will_run = wants_new;
    }

    if (wants_new) {
      if (!missing.empty()) {
        d.requeue_after = kMissingClaimRecheck;
      } else if (base::Status valid = api::ValidateVirtualMachine(vm); !valid.ok()) {
        failure = valid.message();
      } else if (backoff) {
        d.requeue_after = wait;
      } else {
        create = true;
      }
    } else if (backoff && will_run) {
      d.requeue_after = wait;
    }
    // The strategy "last acted on" only once its VMI exists: a create that
    // fails must be tried again, not taken as done.
    if (!wants_new) status.run_strategy = strategy;
  }

  if (vmi != nullptr && !why_delete.empty()) {
    d.delete_vmi = Deletion{vmi->metadata.name, vmi->metadata.uid};
    d.events.push_back({kube::EventType::kNormal, "SuccessfulDelete",
                        "Stopping VirtualMachineInstance " + vmi->metadata.name + " (uid " +
                            vmi->metadata.uid + "): " + why_delete});
  }
  if (!vm_deleting) {
    for (Json& dv : NewDataVolumesFor(vm, obs.data_volumes)) {
      d.events.push_back({kube::EventType::kNormal, "SuccessfulDataVolumeCreate",
                          "Created DataVolume " + base::NameOf(dv)});
      d.create_data_volumes.push_back(std::move(dv));
    }
  }
  std::string dv_failed, dv_waiting;
  for (const std::string& name : api::DataVolumeNames(vm.spec.template_spec.spec)) {
    auto it = obs.data_volumes.find(name);
    if (it != obs.data_volumes.end() && it->second.phase == api::dv_phase::kFailed) {
      dv_failed = "DataVolume " + name + " failed: " + it->second.message;
    } else if (it == obs.data_volumes.end() || it->second.phase != api::dv_phase::kSucceeded) {
      dv_waiting = name;
    }
  }
  if (create) {
    d.create_vmi = NewVmiFor(vm);
    d.events.push_back(
        {kube::EventType::kNormal, "SuccessfulCreate",
         "Started the virtual machine by creating VirtualMachineInstance " + vm.metadata.name});
  }

  const bool deleting_vmi = vmi_deleting || d.delete_vmi.has_value();
  const auto& vmi_conditions =
      vmi != nullptr ? vmi->status.conditions : std::vector<api::Condition>{};
  if (vm_deleting) {
    status.printable_status = ps::kTerminating;
  } else if (vmi_live && deleting_vmi) {
    status.printable_status = ps::kStopping;
  } else if (vmi != nullptr && phase == VmiPhase::kRunning) {
    status.printable_status = ps::kRunning;
  } else if (!missing.empty() && (will_run || vmi_live)) {
    status.printable_status = ps::kErrorPvcNotFound;
  } else if (!dv_failed.empty() && (will_run || vmi_live)) {
    status.printable_status = ps::kDataVolumeError;
  } else if (!dv_waiting.empty() && (will_run || vmi_live)) {
    status.printable_status = ps::kProvisioning;
  } else if (internal::HasCondition(vmi_conditions, kConditionSynchronized, internal::kFalse,
                                    ps::kErrImagePull)) {
    status.printable_status = ps::kErrImagePull;
  } else if (internal::HasCondition(vmi_conditions, kConditionSynchronized, internal::kFalse,
                                    ps::kImagePullBackOff)) {
    status.printable_status = ps::kImagePullBackOff;
  } else if (internal::HasCondition(vmi_conditions, kConditionPodScheduled, internal::kFalse,
                                    "Unschedulable")) {
    status.printable_status = ps::kErrorUnschedulable;
  } else if (vmi != nullptr && phase == VmiPhase::kUnknown) {
    status.printable_status = ps::kUnknown;
  } else if (vmi_live || create) {
    status.printable_status = ps::kStarting;
  } else if (will_run && backoff) {
    status.printable_status = ps::kCrashLoopBackOff;
  } else if (will_run && vmi_final && deleting_vmi && failure.empty()) {
    status.printable_status = ps::kStarting;  // an ended VMI on its way to be replaced
  } else {
    status.printable_status = ps::kStopped;
  }

  if (status.printable_status != vm.status.printable_status) {
    if (status.printable_status == ps::kCrashLoopBackOff) {
      const std::optional<StartFailure> sf = ReadStartFailure(status.extra);
      // Why the last one failed (a refused launcher pod, the launcher's
      // exit), so `kubectl describe vm` says it after the VMI is replaced.
      std::string why;
      if (vmi != nullptr && phase == VmiPhase::kFailed) {
        const api::Condition* sync =
            api::FindCondition(vmi->status.conditions, kConditionSynchronized);
        why = vmi->status.reason;
        if (sync != nullptr && !sync->message.empty()) why += ": " + sync->message;
      }
      d.events.push_back(
          {kube::EventType::kWarning, "CrashLoopBackOff",
           "VirtualMachineInstance failed to start " + std::to_string(sf ? sf->count : 0) +
               " time(s) in a row" + (why.empty() ? "" : " (" + why + ")") +
               "; next start not before " + (sf ? sf->retry_after : "")});
    } else if (status.printable_status == ps::kDataVolumeError) {
      d.events.push_back({kube::EventType::kWarning, "DataVolumeError", dv_failed});
    } else if (status.printable_status == ps::kErrorPvcNotFound) {
      d.events.push_back(
          {kube::EventType::kWarning, "PvcNotFound",
           "PersistentVolumeClaim " + Join(missing) + " not found; the VM starts once it exists"});
    }
  }

  const api::Condition* old_failure = api::FindCondition(vm.status.conditions, kConditionFailure);
  if (failure.empty()) {
    internal::RemoveCondition(&status.conditions, kConditionFailure);
  } else {
    internal::SetCondition(&status.conditions, kConditionFailure, internal::kTrue, "FailedCreate",
                           failure, now);
    if (old_failure == nullptr || old_failure->message != failure) {
      d.events.push_back({kube::EventType::kWarning, "FailedCreate", failure});
    }
  }
  MirrorVmiConditions(vmi, now, &status.conditions);
  // An edit of the template reaches the guest only through a new VMI: say so
  // while the old one runs (KubeVirt's condition and words).
  if (vmi_live && !deleting_vmi && !vm_deleting && TemplateDiffers(vm, *vmi)) {
    if (!internal::HasCondition(vm.status.conditions, kConditionRestartRequired,
                                internal::kTrue)) {
      d.events.push_back({kube::EventType::kNormal, "RestartRequired",
                          "spec.template changed while VirtualMachineInstance " +
                              vmi->metadata.name +
                              " runs: restart the VM (virtctl restart) to apply it"});
    }
    internal::SetCondition(&status.conditions, kConditionRestartRequired, internal::kTrue, "",
                           "a non-live-updatable field was changed in the template spec", now);
  } else {
    internal::RemoveCondition(&status.conditions, kConditionRestartRequired);
  }
  status.created = vmi != nullptr;
  status.ready = vmi != nullptr && !vmi_deleting &&
                 internal::HasCondition(vmi->status.conditions, kConditionReady, internal::kTrue);
  status.desired_generation = vm.metadata.generation;
  status.observed_generation = vm.metadata.generation;
  if (vmi != nullptr) {
    auto it = vmi->metadata.annotations.find(kVmGenerationAnnotation);
    if (it != vmi->metadata.annotations.end()) {
      int64_t generation = 0;
      const std::string& text = it->second;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), generation);
      if (error == std::errc() && end == text.data() + text.size()) {
        status.observed_generation = generation;
      }
    }
  }

  if (api::ToJson(status) != api::ToJson(vm.status)) d.status = std::move(status);
  return d;
}

}  // namespace vireo::controllers
