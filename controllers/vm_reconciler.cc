// VmReconciler (vm_reconciler.h): one VirtualMachine key through DecideVm,
// and the decision applied in the order vm.h prescribes.
#include "controllers/vm_reconciler.h"

#include "controllers/reconcile/vm_steps.h"
#include "lib/api/codec.h"
#include "lib/api/instancetype.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
using kube::ObjectPtr;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

VmReconciler::VmReconciler(Caches* caches, Applier* applier) : caches_(caches), applier_(applier) {
  AddHandlers();
}

void VmReconciler::AddHandlers() {
  // A new VM goes ahead of the updates queued: in a burst its VMI is made
  // before the status work of the VMs started already (docs/controller.md).
  caches_->vms.AddHandlers(
      kube::OnEveryChange([this](const ObjectPtr& vm) { queue_.AddNew(base::KeyOf(*vm)); },
                          [this](const ObjectPtr& vm) { queue_.Add(base::KeyOf(*vm)); }));
  // A VMI's appearance is what a VM's create expectation waits for.
  auto vmi_changed = [this](const ObjectPtr& vmi) {
    applier_->expectations().Observed({api::kVirtualMachineInstanceKind, base::KeyOf(*vmi)});
    EnqueueVmOf(*vmi);
  };
  caches_->vmis.AddHandlers({
      .on_add = vmi_changed,
      .on_update = [vmi_changed](const ObjectPtr&, const ObjectPtr& vmi) { vmi_changed(vmi); },
      .on_delete = [this](const ObjectPtr& vmi) { EnqueueVmOf(*vmi); },
  });
  // A claim appearing or vanishing changes whether a VM may start; a
  // claim's volume mode never changes, so updates do not matter.
  caches_->pvcs.AddHandlers(
      kube::OnAddOrDelete([this](const ObjectPtr& pvc) { EnqueueUsersOfClaim(*pvc); }));
  auto dv_changed = [this](const ObjectPtr& dv) { EnqueueUsersOfDataVolume(*dv); };
  caches_->data_volumes.AddHandlers(kube::OnEveryChange(dv_changed));
}

void VmReconciler::EnqueueVmOf(const Json& vmi) {
  std::string ns = base::NamespaceOf(vmi);
  std::string owner = ControllerNamed(vmi, api::kVirtualMachineKind);
  if (!owner.empty()) {
    queue_.Add(ns + "/" + owner);
    return;
  }
  // A VMI of a VM's name that the VM does not control: the VM reports it.
  std::string same_name = ns + "/" + base::NameOf(vmi);
  if (caches_->vms.store().Get(same_name) != nullptr) queue_.Add(same_name);
}

void VmReconciler::EnqueueUsersOfClaim(const Json& pvc) {
  const std::string claim = base::NameOf(pvc);
  for (const ObjectPtr& vm : caches_->vms.store().ByIndex(kClaimIndex, base::KeyOf(pvc))) {
    if (SpecUsesClaim(base::Find(*vm, "spec.template.spec"), claim)) queue_.Add(base::KeyOf(*vm));
  }
}

// The VM that controls the DataVolume, and the VMs whose template names it.
void VmReconciler::EnqueueUsersOfDataVolume(const Json& dv) {
  const std::string ns = base::NamespaceOf(dv);
  if (std::string vm = ControllerNamed(dv, api::kVirtualMachineKind); !vm.empty()) {
    queue_.Add(ns + "/" + vm);
  }
  for (const ObjectPtr& vm : caches_->vms.store().ByIndex(kClaimIndex, base::KeyOf(dv))) {
    if (SpecUsesDataVolume(base::Find(*vm, "spec.template.spec"), base::NameOf(dv))) {
      queue_.Add(base::KeyOf(*vm));
    }
  }
}

Status VmReconciler::Reconcile(const std::string& key) {
  ObjectPtr cached =
      applier_->CachedForReconcile(caches_->vms, queue_, api::kVirtualMachineKind, key);
  if (cached == nullptr) return Status::Ok();
  auto vm = api::FromJson<api::VirtualMachine>(*cached);
  if (!vm.ok()) {
    // Nothing to retry until someone fixes the object.
    base::LogWarn("cannot read VirtualMachine",
                  {{"object", key}, {"error", vm.status().ToString()}});
    applier_->RecordInvalid(*cached, "InvalidVirtualMachine", vm.status());
    return ReleaseUnreadable(key, *cached);
  }
  std::optional<VmObservation> observation = Observe(std::move(vm).value(), key);
  if (!observation.has_value()) return Status::Ok();
  if (NeedsExpandedTemplate(*observation)) {
    if (Status read = Expand(&*observation->vm, &observation->template_problem); !read.ok()) {
      return read;
    }
  } else {
    observation->template_expanded = false;
  }
  return Apply(key, *observation, DecideVm(*observation), *cached);
}

Status VmReconciler::ReleaseUnreadable(const std::string& key, const Json& cached) {
  // The apiserver's finalizer policy (the chart's) gives even a VM this
  // controller cannot read its finalizer; none of its VMIs was made from it,
  // so its deletion waits for nothing.
  if (base::Find(cached, "metadata.deletionTimestamp") == nullptr) return Status::Ok();
  const Json* finalizers = base::Find(cached, "metadata.finalizers");
  if (finalizers == nullptr || !finalizers->is_array()) return Status::Ok();
  std::vector<std::string> rest;
  bool ours = false;
  for (const Json& f : *finalizers) {
    if (!f.is_string()) continue;
    if (f.get<std::string>() == kVmFinalizer) {
      ours = true;
    } else {
      rest.push_back(f.get<std::string>());
    }
  }
  if (!ours) return Status::Ok();
  Json patch = Json::object();
  patch["metadata"]["finalizers"] = FinalizersJson(rest);
  Json latest = cached;
  return applier_->PatchObject(kv::kVirtualMachines, api::kVirtualMachineKind, key,
                               std::move(patch), "update finalizers", &latest);
}

std::optional<VmObservation> VmReconciler::Observe(api::VirtualMachine vm,
                                                   const std::string& key) const {
  const std::string ns = vm.metadata.namespace_;
  VmObservation observation;
  observation.claims = caches_->ClaimsFor(vm.spec.template_spec.spec, ns);
  observation.data_volumes =
      caches_->DataVolumesFor(vm.spec.template_spec.spec, ns, observation.claims);
  if (vm.spec.data_volume_templates.is_array()) {
    for (const Json& tmpl : vm.spec.data_volume_templates) {
      const std::string name = base::GetString(tmpl, "metadata.name");
      if (!name.empty() && caches_->data_volumes.store().Get(ns + "/" + name) != nullptr) {
        observation.data_volumes.try_emplace(name, DataVolumeState{});
      }
    }
  }
  if (ObjectPtr vmi_json = caches_->vmis.store().Get(key); vmi_json != nullptr) {
    auto vmi = api::FromJson<api::VirtualMachineInstance>(*vmi_json);
    if (!vmi.ok()) {
      base::LogWarn("cannot read VirtualMachineInstance",
                    {{"object", key}, {"error", vmi.status().ToString()}});
      return std::nullopt;
    }
    observation.vmi = std::move(vmi).value();
  }
  observation.vm = std::move(vm);
  observation.now = base::Clock::Real()->WallNow();
  return observation;
}

Status VmReconciler::Expand(api::VirtualMachine* vm, std::string* problem) const {
  const std::optional<api::InstancetypeRef> instancetype = api::InstancetypeOf(*vm);
  const std::optional<api::InstancetypeRef> preference = api::PreferenceOf(*vm);
  if (!instancetype && !preference) return Status::Ok();
  // The spec of the instance type or preference `ref` names: null when none.
  auto read = [&](const std::optional<api::InstancetypeRef>& ref, const kube::Resource& cluster,
                  const kube::Resource& namespaced, Json* spec) -> Status {
    if (!ref || !problem->empty()) return Status::Ok();
    auto object = ref->cluster
                      ? applier_->client()->Get(cluster, "", ref->name)
                      : applier_->client()->Get(namespaced, vm->metadata.namespace_, ref->name);
    if (object.ok()) {
      *spec = object->value("spec", Json::object());
      return Status::Ok();
    }
    if (!object.status().IsNotFound()) return object.status();
    *problem = ref->Describe() + " not found" +
               (ref->cluster ? "" : " in namespace " + vm->metadata.namespace_);
    return Status::Ok();
  };
  Json instancetype_spec, preference_spec;
  if (Status s = read(instancetype, kv::kVirtualMachineClusterInstancetypes,
                      kv::kVirtualMachineInstancetypes, &instancetype_spec);
      !s.ok()) {
    return s;
  }
  if (Status s = read(preference, kv::kVirtualMachineClusterPreferences,
                      kv::kVirtualMachinePreferences, &preference_spec);
      !s.ok()) {
    return s;
  }
  if (!problem->empty()) return Status::Ok();
  auto expanded = api::ExpandVm(*vm, instancetype_spec, preference_spec);
  if (!expanded.ok()) {
    *problem = expanded.status().message();
    return Status::Ok();
  }
  *vm = std::move(expanded).value();
  return Status::Ok();
}

namespace {

// Whether `after` changes what the VMI's existence cannot restore: the
// requests users queued and the start-failure record.
bool ChangesBookkeeping(const api::VirtualMachineStatus& before,
                        const api::VirtualMachineStatus& after) {
  const Json b = api::ToJson(before);
  const Json a = api::ToJson(after);
  for (const char* field : {"stateChangeRequests", "startFailure"}) {
    if (b.value(field, Json()) != a.value(field, Json())) return true;
  }
  return false;
}

}  // namespace

bool VmReconciler::CanDeferStatus(const VmObservation& observation, const VmDecision& decision) {
  if (!decision.status.has_value() || decision.delete_vmi.has_value() ||
      ChangesBookkeeping(observation.vm->status, *decision.status)) {
    return false;
  }
  if (decision.create_vmi.has_value()) return true;
  // The VMI it made, which its own reconciler has not reported on yet.
  const vm_steps::VmiView vmi = vm_steps::ViewVmi(observation);
  return vmi.vmi != nullptr && !vmi.deleting && vmi.phase == api::VmiPhase::kUnset &&
         decision.create_data_volumes.empty();
}

Status VmReconciler::Apply(const std::string& key, const VmObservation& observation,
                           const VmDecision& decision, Json latest) {
  // Each write starts from the latest version we hold, so the steps of one
  // decision do not conflict with each other.
  const std::string ns = base::NamespaceOf(latest);
  if (decision.finalizers.has_value()) {
    Json patch = Json::object();
    patch["metadata"]["finalizers"] = FinalizersJson(*decision.finalizers);
    Status patched = applier_->PatchObject(kv::kVirtualMachines, api::kVirtualMachineKind, key,
                                           std::move(patch), "update finalizers", &latest);
    if (!patched.ok()) return patched;
  }
  // vm.h, "Status writes that wait": a status only the new VMI's existence
  // and its first report change is written once, when that report comes.
  const bool defer = CanDeferStatus(observation, decision);
  if (decision.status.has_value() && !defer) {
    Status written =
        applier_->WriteStatus(kv::kVirtualMachines, key, api::ToJson(*decision.status), &latest);
    if (!written.ok()) return written;
  }
  if (decision.delete_vmi.has_value()) {
    kube::DeleteOptions options;
    options.precondition_uid = decision.delete_vmi->uid;
    Status deleted = applier_->client()->Delete(kv::kVirtualMachineInstances, ns,
                                                decision.delete_vmi->name, options);
    // NotFound: already gone; Conflict: the uid no longer matches, so the
    // VMI meant is gone and another took its name.
    if (!deleted.ok() && !deleted.IsNotFound() && !deleted.IsConflict()) {
      return applier_->WriteFailed(
          latest, "delete VirtualMachineInstance " + decision.delete_vmi->name, deleted);
    }
    base::Log(base::LogLevel::kDebug, "deleted VirtualMachineInstance", {{"object", key}});
  }
  for (const Json& dv : decision.create_data_volumes) {
    auto created = applier_->client()->Create(kv::kDataVolumes, ns, dv);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      return applier_->WriteFailed(latest, "create DataVolume " + base::NameOf(dv),
                                   created.status());
    }
  }
  if (decision.create_vmi.has_value()) {
    const ObjectRef vm_ref{api::kVirtualMachineKind, key};
    const ObjectRef vmi_ref{api::kVirtualMachineInstanceKind,
                            ns + "/" + base::NameOf(*decision.create_vmi)};
    applier_->expectations().ExpectCreate(vm_ref, vmi_ref);
    auto created =
        applier_->client()->Create(kv::kVirtualMachineInstances, ns, *decision.create_vmi);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      applier_->expectations().CreateFailed(vm_ref, vmi_ref);
      const std::string what =
          "create VirtualMachineInstance " + base::NameOf(*decision.create_vmi);
      // What the VM's status holds now, and what it should.
      const api::VirtualMachineStatus& stored =
          decision.status.has_value() && !defer ? *decision.status : observation.vm->status;
      api::VirtualMachineStatus status = decision.status.value_or(observation.vm->status);
      if (IsPermanentRefusal(created.status())) {
        // Refused for good (invalid, or an admission policy): the VM tells
        // it in its Failure condition, as KubeVirt's does, until a create
        // passes; the Event is WriteFailed's, and the retry backs off.
        std::vector<Event> told_by_write_failed;
        vm_steps::DecideFailureCondition(what + ": " + created.status().message(), false,
                                         observation.vm->status, observation.now, &status,
                                         &told_by_write_failed);
      }
      // Deferred, it waits no longer: no VMI will report.
      if (defer || api::ToJson(status) != api::ToJson(stored)) {
        Status written =
            applier_->WriteStatus(kv::kVirtualMachines, key, api::ToJson(status), &latest);
        if (!written.ok()) return written;
      }
      return applier_->WriteFailed(latest, what, created.status());
    }
    base::Log(base::LogLevel::kDebug, "created VirtualMachineInstance", {{"object", key}});
  }
  applier_->RecordEvents(latest, decision.events);
  if (decision.requeue_after.has_value()) queue_.AddAfter(key, *decision.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
