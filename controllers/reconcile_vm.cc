// Controller::ReconcileVm: one VirtualMachine key through DecideVm, and the
// decision applied in the order vm.h prescribes.
#include "controllers/controller.h"
#include "lib/api/codec.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

kube::ObjectPtr Controller::CachedForReconcile(const kube::Informer& informer,
                                               kube::WorkQueue& queue, const std::string& kind,
                                               const std::string& key) {
  const ObjectRef ref{kind, key};
  kube::ObjectPtr cached = informer.store().Get(key);
  if (cached == nullptr) {
    expectations_.Forget(ref);
    written_.Forget(ref);
    return nullptr;
  }
  if (written_.IsStale(ref, base::ResourceVersionOf(*cached))) return nullptr;
  if (!expectations_.Satisfied(ref)) {
    queue.AddAfter(key, config_.expectation_ttl);
    return nullptr;
  }
  return cached;
}

base::Status Controller::ReconcileVm(const std::string& key) {
  kube::ObjectPtr cached = CachedForReconcile(vms_, vm_queue_, api::kVirtualMachineKind, key);
  if (cached == nullptr) return Status::Ok();

  auto vm = api::FromJson<api::VirtualMachine>(*cached);
  if (!vm.ok()) {
    // Nothing to retry until someone fixes the object.
    base::LogWarn("cannot read VirtualMachine",
                  {{"object", key}, {"error", vm.status().ToString()}});
    recorder_->Record(*cached, kube::EventType::kWarning, "InvalidVirtualMachine",
                      vm.status().message());
    return Status::Ok();
  }
  const std::string ns = vm->metadata.namespace_;
  VmObservation observation;
  observation.claims = ClaimsFor(vm->spec.template_spec.spec, ns);
  observation.data_volumes = DataVolumesFor(vm->spec.template_spec.spec, ns, observation.claims);
  if (vm->spec.data_volume_templates.is_array()) {
    for (const Json& tmpl : vm->spec.data_volume_templates.as_array()) {
      const std::string name = base::GetString(tmpl, "metadata.name");
      if (!name.empty() && dvs_.store().Get(ns + "/" + name) != nullptr) {
        observation.data_volumes.try_emplace(name, DataVolumeState{});
      }
    }
  }
  if (kube::ObjectPtr vmi_json = vmis_.store().Get(key); vmi_json != nullptr) {
    auto vmi = api::FromJson<api::VirtualMachineInstance>(*vmi_json);
    if (!vmi.ok()) {
      base::LogWarn("cannot read VirtualMachineInstance",
                    {{"object", key}, {"error", vmi.status().ToString()}});
      return Status::Ok();
    }
    observation.vmi = std::move(vmi).value();
  }
  observation.vm = std::move(vm).value();
  observation.now = base::Clock::Real()->WallNow();
  const VmDecision decision = DecideVm(observation);

  // Each write starts from the latest version we hold, so the steps of one
  // decision do not conflict with each other.
  Json latest = *cached;
  if (decision.finalizers.has_value()) {
    Json patch = Json::object();
    Json finalizers = Json::array();
    for (size_t i = 0; i < decision.finalizers->size(); ++i) {
      finalizers[i] = Json::string((*decision.finalizers)[i]);
    }
    patch["metadata"]["finalizers"] = finalizers;
    patch["metadata"]["resourceVersion"] = Json::string(base::ResourceVersionOf(latest));
    auto patched = client_->Patch(kv::kVirtualMachines, ns, base::NameOf(latest),
                                  kube::PatchType::kMerge, patch);
    if (!patched.ok()) return WriteFailed(latest, "update finalizers", patched.status());
    written_.Wrote({api::kVirtualMachineKind, key}, base::ResourceVersionOf(latest));
    latest = std::move(patched).value();
  }
  if (decision.status.has_value()) {
    Status written = WriteStatus(kv::kVirtualMachines, key, api::ToJson(*decision.status), &latest);
    if (!written.ok()) return written;
  }
  if (decision.delete_vmi.has_value()) {
    kube::DeleteOptions options;
    options.precondition_uid = decision.delete_vmi->uid;
    Status deleted =
        client_->Delete(kv::kVirtualMachineInstances, ns, decision.delete_vmi->name, options);
    // NotFound: already gone; Conflict: the uid no longer matches, so the
    // VMI meant is gone and another took its name.
    if (!deleted.ok() && !deleted.IsNotFound() && !deleted.IsConflict()) {
      return WriteFailed(latest, "delete VirtualMachineInstance " + decision.delete_vmi->name,
                         deleted);
    }
    base::Log(base::LogLevel::kDebug, "deleted VirtualMachineInstance", {{"object", key}});
  }
  for (const Json& dv : decision.create_data_volumes) {
    auto created = client_->Create(kv::kDataVolumes, ns, dv);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      return WriteFailed(latest, "create DataVolume " + base::NameOf(dv), created.status());
    }
  }
  if (decision.create_vmi.has_value()) {
    const ObjectRef vm_ref{api::kVirtualMachineKind, key};
    const ObjectRef vmi_ref{api::kVirtualMachineInstanceKind,
                            ns + "/" + base::NameOf(*decision.create_vmi)};
    expectations_.ExpectCreate(vm_ref, vmi_ref);
    auto created = client_->Create(kv::kVirtualMachineInstances, ns, *decision.create_vmi);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      expectations_.CreateFailed(vm_ref, vmi_ref);
      return WriteFailed(latest,
                         "create VirtualMachineInstance " + base::NameOf(*decision.create_vmi),
                         created.status());
    }
    base::Log(base::LogLevel::kDebug, "created VirtualMachineInstance", {{"object", key}});
  }
  RecordEvents(latest, decision.events);
  if (decision.requeue_after.has_value()) vm_queue_.AddAfter(key, *decision.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
