// The VM decision: DecideVm walks the steps of vm_steps.h in order (the
// desired state, the actions, the status and its events); the objects a VM
// makes (its VMI, its DataVolumes) and the start back-off's delay. See vm.h
// for the rules; comments here say why.
#include "controllers/reconcile/vm.h"

#include <algorithm>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/vm_steps.h"
#include "lib/api/codec.h"
#include "lib/api/datavolume.h"
#include "lib/api/defaults.h"
#include "lib/api/instancetype.h"

namespace vireo::controllers {
namespace {

using api::RunStrategy;

constexpr std::chrono::seconds kBackoffBase{10};
constexpr std::chrono::seconds kBackoffCap{300};

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
  for (const Json& tmpl : vm.spec.data_volume_templates) {
    const std::string name = base::GetString(tmpl, "metadata.name");
    if (name.empty() || existing.contains(name)) continue;
    Json dv = Json::object();
    dv["apiVersion"] = Json(api::kCdiApiVersion);
    dv["kind"] = Json(api::kDataVolumeKind);
    Json metadata = Json::object();
    metadata["name"] = Json(name);
    metadata["namespace"] = Json(vm.metadata.namespace_);
    for (const char* key : {"labels", "annotations"}) {
      if (const Json* value = base::Find(tmpl, std::string("metadata.") + key)) {
        metadata[key] = *value;
      }
    }
    Json owner = Json::object();
    owner["apiVersion"] = Json(vm.api_version.empty() ? api::kApiVersion : vm.api_version);
    owner["kind"] = Json(api::kVirtualMachineKind);
    owner["name"] = Json(vm.metadata.name);
    owner["uid"] = Json(vm.metadata.uid);
    owner["controller"] = Json(true);
    owner["blockOwnerDeletion"] = Json(true);
    metadata["ownerReferences"] = base::JsonArray(1);
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
  if (json.contains("status")) json.erase("status");
  return json;
}

VmDecision DecideVm(const VmObservation& obs) {
  using namespace vm_steps;  // NOLINT(google-build-using-namespace): the steps read as prose
  VmDecision d;
  if (!obs.vm.has_value()) return d;
  const api::VirtualMachine& vm = *obs.vm;
  const bool vm_deleting = !vm.metadata.deletion_timestamp.empty();
  const VmiView vmi = ViewVmi(obs);
  const std::vector<std::string> missing = MissingClaims(vm.spec.template_spec.spec, obs.claims);
  api::VirtualMachineStatus status = vm.status;

  // 1. The desired state: the finalizer, and what becomes of the VMI.
  const base::Result<RunStrategy> strategy = api::EffectiveRunStrategy(vm.spec);
  d.finalizers = DecideFinalizers(vm, vmi, strategy.ok());
  VmPlan plan;
  if (vm_deleting) {
    plan = PlanDeletion(vmi);
  } else if (!strategy.ok()) {
    plan.failure = strategy.status().message();
  } else {
    DropDoneRequests(vmi, *strategy, &status.state_change_requests, &d.events);
    const std::chrono::seconds wait = UpdateStartFailure(*strategy, vmi, obs.now, &status.extra);
    plan = DecideVmiAction(vm, vmi, *strategy, &status);
    GateNewVmi(vm, missing, obs.template_problem, wait, &plan);
    // The strategy "last acted on" only once its VMI exists: a create that
    // fails must be tried again, not taken as done.
    if (!plan.wants_new) status.run_strategy = *strategy;
  }
  d.requeue_after = plan.requeue_after;

  // 2. The actions: delete the VMI, make the DataVolumes, make the VMI.
  if (vmi.vmi != nullptr && !plan.why_delete.empty()) {
    d.delete_vmi = Deletion{vmi.vmi->metadata.name, vmi.vmi->metadata.uid};
    d.events.push_back({kube::EventType::kNormal, "SuccessfulDelete",
                        "Stopping VirtualMachineInstance " + vmi.vmi->metadata.name + " (uid " +
                            vmi.vmi->metadata.uid + "): " + plan.why_delete});
  }
  if (!vm_deleting) {
    for (Json& dv : NewDataVolumesFor(vm, obs.data_volumes)) {
      d.events.push_back({kube::EventType::kNormal, "SuccessfulDataVolumeCreate",
                          "Created DataVolume " + base::NameOf(dv)});
      d.create_data_volumes.push_back(std::move(dv));
    }
  }
  if (plan.create) {
    d.create_vmi = NewVmiFor(vm);
    d.events.push_back(
        {kube::EventType::kNormal, "SuccessfulCreate",
         "Started the virtual machine by creating VirtualMachineInstance " + vm.metadata.name});
    if (std::optional<Event> e = HookSidecarsEvent(vm.spec.template_spec.metadata.annotations)) {
      d.events.push_back(std::move(*e));
    }
  }

  // 3. The status, and the events that tell of it.
  const bool deleting_vmi = vmi.deleting || d.delete_vmi.has_value();
  const DataVolumeVerdict dvs = JudgeDataVolumes(vm, obs.data_volumes);
  status.printable_status =
      PrintableStatusOf(vm_deleting, vmi, plan, deleting_vmi, !missing.empty(), dvs);
  if (status.printable_status != vm.status.printable_status) {
    if (std::optional<Event> e = PrintableStatusEvent(status, vmi, missing, dvs)) {
      d.events.push_back(std::move(*e));
    }
  }
  DecideFailureCondition(plan.failure, d.create_vmi.has_value(), vm.status, obs.now, &status,
                         &d.events);
  MirrorVmiConditions(vmi.vmi, obs.now, &status.conditions);
  if (obs.template_problem.empty() && obs.template_expanded) {
    DecideRestartRequired(vm, vmi, deleting_vmi, obs.now, &status, &d.events);
  } else if (!obs.template_expanded || !vmi.live || deleting_vmi) {
    // Not read, the live VMI was made from this generation of the VM
    // (NeedsExpandedTemplate): nothing asks for a restart. And with no VMI
    // left to restart, nothing does either.
    internal::RemoveCondition(&status.conditions, kConditionRestartRequired);
  }
  // Otherwise its instance type or preference is missing and the template
  // cannot be compared with the running VMI: RestartRequired stays as it was.
  status.created = vmi.vmi != nullptr;
  status.ready =
      vmi.vmi != nullptr && !vmi.deleting &&
      internal::HasCondition(vmi.vmi->status.conditions, kConditionReady, internal::kTrue);
  status.desired_generation = vm.metadata.generation;
  status.observed_generation = ObservedGeneration(vm, vmi.vmi);

  if (api::ToJson(status) != api::ToJson(vm.status)) d.status = std::move(status);
  return d;
}

bool NeedsExpandedTemplate(const VmObservation& obs) {
  if (!obs.vm.has_value()) return false;
  const api::VirtualMachine& vm = *obs.vm;
  if (!api::InstancetypeOf(vm).has_value() && !api::PreferenceOf(vm).has_value()) return true;
  if (!obs.vmi.has_value() || api::IsFinal(obs.vmi->status.phase) ||
      !obs.vmi->metadata.deletion_timestamp.empty()) {
    return true;
  }
  // A VMI without the generation it was made from (a user took the
  // annotation away) cannot be shown to be the template's: compare it.
  return vm_steps::MadeFromGeneration(*obs.vmi) != vm.metadata.generation;
}

}  // namespace vireo::controllers
