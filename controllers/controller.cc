// Informers, handlers, queues and workers of vireo-controller; the
// reconciles themselves are in reconcile_vm.cc and reconcile_vmi.cc.
#include "controllers/controller.h"

#include <algorithm>
#include <set>

#include "controllers/cache_trim.h"
#include "lib/api/datavolume.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {
namespace {

using base::Json;
using kube::ObjectPtr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

std::unique_ptr<kube::ListerWatcher> Watch(kube::Client* client, const kube::Resource& resource,
                                           const std::string& ns, std::string label_selector = "",
                                           TrimFunction trim = nullptr) {
  auto inner = std::make_unique<kube::ClientListerWatcher>(
      client, resource, kube::Selection{ns, std::move(label_selector), ""});
  if (trim == nullptr) return inner;
  return std::make_unique<TrimmingListerWatcher>(std::move(inner), std::move(trim));
}

kube::WatcherOptions Described(const kube::Resource& resource) {
  kube::WatcherOptions options;
  options.description = resource.ApiVersion() + " " + resource.plural;
  return options;
}

// The name of the controlling owner of `kind`, or "".
std::string ControllerNamed(const Json& object, const char* kind) {
  const Json* owners = base::Find(object, "metadata.ownerReferences");
  if (owners == nullptr || !owners->is_array()) return "";
  for (const Json& owner : owners->as_array()) {
    if (base::GetBool(owner, "controller").value_or(false) &&
        base::GetString(owner, "kind") == kind) {
      return base::GetString(owner, "name");
    }
  }
  return "";
}

// Whether a VMI spec (JSON) names `claim` in a persistentVolumeClaim volume.
bool SpecUsesClaim(const Json* spec, const std::string& claim) {
  const Json* volumes = spec != nullptr ? base::Find(*spec, "volumes") : nullptr;
  if (volumes == nullptr || !volumes->is_array()) return false;
  for (const Json& volume : volumes->as_array()) {
    if (base::GetString(volume, "persistentVolumeClaim.claimName") == claim) return true;
  }
  return false;
}

}  // namespace

Controller::Controller(kube::Client* client, kube::EventRecorder* recorder, Metrics* metrics,
                       ControllerConfig config)
    : client_(client),
      recorder_(recorder),
      metrics_(metrics),
      config_(std::move(config)),
      vms_(Watch(client, kv::kVirtualMachines, config_.namespace_name, "", TrimKubectlCopy),
           Described(kv::kVirtualMachines)),
      vmis_(
          Watch(client, kv::kVirtualMachineInstances, config_.namespace_name, "", TrimKubectlCopy),
          Described(kv::kVirtualMachineInstances)),
      pods_(Watch(client, res::kPods, config_.namespace_name,
                  std::string(kAppLabel) + "=" + kAppLabelLauncher, TrimLauncherPod),
            Described(res::kPods)),
      pvcs_(Watch(client, res::kPersistentVolumeClaims, config_.namespace_name, "",
                  TrimPersistentVolumeClaim),
            Described(res::kPersistentVolumeClaims)),
      dvs_(Watch(client, kv::kDataVolumes, config_.namespace_name, "", TrimKubectlCopy),
           Described(kv::kDataVolumes)),
      importer_pods_(Watch(client, res::kPods, config_.namespace_name,
                           std::string(kImporterAppLabel) + "=" + kImporterAppValue),
                     Described(res::kPods)),
      storage_classes_(Watch(client, res::kStorageClasses, ""), Described(res::kStorageClasses)),
      nodes_(Watch(client, kNodes, "", "", TrimNode), Described(kNodes)),
      expectations_(config_.expectation_ttl),
      written_(config_.expectation_ttl) {
  AddHandlers();
  metrics_->AddGauge(
      "vireo_workqueue_depth", "Keys waiting for a worker, by queue.", "queue", [this] {
        return std::map<std::string, double>{{"vm", static_cast<double>(vm_queue_.Len())},
                                             {"vmi", static_cast<double>(vmi_queue_.Len())},
                                             {"datavolume", static_cast<double>(dv_queue_.Len())}};
      });
  metrics_->AddGauge("vireo_cached_objects", "Objects in the informer caches, by resource.",
                     "resource", [this] {
                       return std::map<std::string, double>{
                           {"virtualmachines", static_cast<double>(vms_.store().size())},
                           {"virtualmachineinstances", static_cast<double>(vmis_.store().size())},
                           {"pods", static_cast<double>(pods_.store().size())},
                           {"persistentvolumeclaims", static_cast<double>(pvcs_.store().size())},
                           {"datavolumes", static_cast<double>(dvs_.store().size())},
                           {"nodes", static_cast<double>(nodes_.store().size())}};
                     });
  metrics_->AddGauge(
      "vireo_expected_creations", "Creations not yet seen in the caches.", "", [this] {
        return std::map<std::string, double>{{"", static_cast<double>(expectations_.pending())}};
      });
}

Controller::~Controller() {
  StopWorkers();
  StopInformers();
}

void Controller::AddHandlers() {
  vms_.AddHandlers({
      .on_add = [this](const ObjectPtr& vm) { vm_queue_.Add(base::KeyOf(*vm)); },
      .on_update = [this](const ObjectPtr&,
                          const ObjectPtr& vm) { vm_queue_.Add(base::KeyOf(*vm)); },
      .on_delete = [this](const ObjectPtr& vm) { vm_queue_.Add(base::KeyOf(*vm)); },
  });
  // A clone waits while a VMI runs on its source claim.
  auto enqueue_waiting_clones = [this](const Json& vmi) {
    for (const ObjectPtr& dv : dvs_.store().ByNamespace(base::NamespaceOf(vmi))) {
      if (base::Find(*dv, "spec.source.pvc") != nullptr) dv_queue_.Add(base::KeyOf(*dv));
    }
  };
  auto vmi_changed = [this, enqueue_waiting_clones](const ObjectPtr& vmi) {
    std::string key = base::KeyOf(*vmi);
    expectations_.Observed({api::kVirtualMachineInstanceKind, key});
    vmi_queue_.Add(key);
    EnqueueVmOf(*vmi);
    enqueue_waiting_clones(*vmi);
  };
  vmis_.AddHandlers({
      .on_add = vmi_changed,
      .on_update = [vmi_changed](const ObjectPtr&, const ObjectPtr& vmi) { vmi_changed(vmi); },
      .on_delete =
          [this, enqueue_waiting_clones](const ObjectPtr& vmi) {
            vmi_queue_.Add(base::KeyOf(*vmi));
            EnqueueVmOf(*vmi);
            enqueue_waiting_clones(*vmi);
          },
  });
  auto pod_changed = [this](const ObjectPtr& pod) {
    expectations_.Observed({res::kPods.kind, base::KeyOf(*pod)});
    EnqueueVmiOf(*pod);
  };
  pods_.AddHandlers({
      .on_add = pod_changed,
      .on_update = [pod_changed](const ObjectPtr&, const ObjectPtr& pod) { pod_changed(pod); },
      .on_delete = [this](const ObjectPtr& pod) { EnqueueVmiOf(*pod); },
  });
  // A claim appearing or vanishing changes what VMs and VMIs that name it
  // may do; a claim's volume mode never changes, so updates do not matter.
  // A DataVolume's claim binding moves the DataVolume; a clone waits for
  // its source claim.
  pvcs_.AddHandlers({
      .on_add =
          [this](const ObjectPtr& pvc) {
            EnqueueUsersOfClaim(*pvc);
            EnqueueDataVolumesOfClaim(*pvc);
          },
      .on_update = [this](const ObjectPtr&,
                          const ObjectPtr& pvc) { EnqueueDataVolumesOfClaim(*pvc); },
      .on_delete =
          [this](const ObjectPtr& pvc) {
            EnqueueUsersOfClaim(*pvc);
            EnqueueDataVolumesOfClaim(*pvc);
          },
  });
  auto dv_changed = [this](const ObjectPtr& dv) {
    dv_queue_.Add(base::KeyOf(*dv));
    EnqueueUsersOfDataVolume(*dv);
  };
  dvs_.AddHandlers({
      .on_add = dv_changed,
      .on_update = [dv_changed](const ObjectPtr&, const ObjectPtr& dv) { dv_changed(dv); },
      .on_delete = dv_changed,
  });
  auto importer_changed = [this](const ObjectPtr& pod) {
    expectations_.Observed({res::kPods.kind, base::KeyOf(*pod)});
    std::string owner = ControllerNamed(*pod, api::kDataVolumeKind);
    if (!owner.empty()) dv_queue_.Add(base::NamespaceOf(*pod) + "/" + owner);
  };
  importer_pods_.AddHandlers({
      .on_add = importer_changed,
      .on_update = [importer_changed](const ObjectPtr&,
                                      const ObjectPtr& pod) { importer_changed(pod); },
      .on_delete = importer_changed,
  });
  // A StorageClass appearing lets the DataVolumes that wait for one go on.
  auto class_changed = [this](const ObjectPtr&) {
    for (const ObjectPtr& dv : dvs_.store().List()) {
      if (base::GetString(*dv, "status.claimName").empty()) dv_queue_.Add(base::KeyOf(*dv));
    }
  };
  storage_classes_.AddHandlers({
      .on_add = class_changed,
      .on_update = [class_changed](const ObjectPtr&, const ObjectPtr& sc) { class_changed(sc); },
      .on_delete = nullptr,
  });
  // A node's readiness or out-of-service taint decides whether the VMIs on
  // it are lost; its heartbeats alone change nothing.
  nodes_.AddHandlers({
      .on_add = [this](const ObjectPtr& node) { EnqueueVmisOnNode(base::NameOf(*node)); },
      .on_update =
          [this](const ObjectPtr& before, const ObjectPtr& after) {
            const NodeState a = NodeStateOf(*before), b = NodeStateOf(*after);
            if (a.ready != b.ready || a.ready_since != b.ready_since ||
                a.out_of_service != b.out_of_service) {
              EnqueueVmisOnNode(base::NameOf(*after));
            }
          },
      .on_delete = [this](const ObjectPtr& node) { EnqueueVmisOnNode(base::NameOf(*node)); },
  });
}

void Controller::EnqueueDataVolumesOfClaim(const Json& pvc) {
  const std::string ns = base::NamespaceOf(pvc);
  const std::string owner = ControllerNamed(pvc, api::kDataVolumeKind);
  if (!owner.empty()) dv_queue_.Add(ns + "/" + owner);
  // A claim that has a DataVolume's name and is not its own: that DataVolume
  // must learn it exists (it never writes to it).
  const std::string same_name = ns + "/" + base::NameOf(pvc);
  if (owner != base::NameOf(pvc) && dvs_.store().Get(same_name) != nullptr) {
    dv_queue_.Add(same_name);
  }
  for (const ObjectPtr& dv : dvs_.store().ByNamespace(ns)) {
    if (base::GetString(*dv, "spec.source.pvc.name") == base::NameOf(pvc)) {
      dv_queue_.Add(base::KeyOf(*dv));
    }
  }
}

// VMIs and VMs that wait for a DataVolume, and clones that wait for the VMIs.
void Controller::EnqueueUsersOfDataVolume(const Json& dv) {
  const std::string ns = base::NamespaceOf(dv);
  const std::string name = base::NameOf(dv);
  if (std::string vm = ControllerNamed(dv, api::kVirtualMachineKind); !vm.empty()) {
    vm_queue_.Add(ns + "/" + vm);
  }
  auto uses = [&](const Json* spec) {
    const Json* volumes = spec != nullptr ? base::Find(*spec, "volumes") : nullptr;
    if (volumes == nullptr || !volumes->is_array()) return false;
    return std::any_of(volumes->as_array().begin(), volumes->as_array().end(), [&](const Json& v) {
      // A DataVolume's claim has its name.
      return base::GetString(v, "dataVolume.name") == name ||
             base::GetString(v, "persistentVolumeClaim.claimName") == name;
    });
  };
  for (const ObjectPtr& vm : vms_.store().ByNamespace(ns)) {
    if (uses(base::Find(*vm, "spec.template.spec"))) vm_queue_.Add(base::KeyOf(*vm));
  }
  for (const ObjectPtr& vmi : vmis_.store().ByNamespace(ns)) {
    if (uses(base::Find(*vmi, "spec"))) vmi_queue_.Add(base::KeyOf(*vmi));
  }
}

void Controller::EnqueueVmOf(const Json& vmi) {
  std::string ns = base::NamespaceOf(vmi);
  std::string owner = ControllerNamed(vmi, api::kVirtualMachineKind);
  if (!owner.empty()) {
    vm_queue_.Add(ns + "/" + owner);
    return;
  }
  // A VMI of a VM's name that the VM does not control: the VM reports it.
  std::string same_name = ns + "/" + base::NameOf(vmi);
  if (vms_.store().Get(same_name) != nullptr) vm_queue_.Add(same_name);
}

void Controller::EnqueueVmiOf(const Json& pod) {
  std::string owner = ControllerNamed(pod, api::kVirtualMachineInstanceKind);
  if (!owner.empty()) vmi_queue_.Add(base::NamespaceOf(pod) + "/" + owner);
}

void Controller::EnqueueVmisOnNode(const std::string& node) {
  for (const ObjectPtr& pod : pods_.store().List()) {
    if (base::GetString(*pod, "spec.nodeName") == node) EnqueueVmiOf(*pod);
  }
}

void Controller::EnqueueUsersOfClaim(const Json& pvc) {
  std::string ns = base::NamespaceOf(pvc);
  std::string claim = base::NameOf(pvc);
  for (const ObjectPtr& vm : vms_.store().ByNamespace(ns)) {
    if (SpecUsesClaim(base::Find(*vm, "spec.template.spec"), claim)) {
      vm_queue_.Add(base::KeyOf(*vm));
    }
  }
  for (const ObjectPtr& vmi : vmis_.store().ByNamespace(ns)) {
    if (SpecUsesClaim(base::Find(*vmi, "spec"), claim)) vmi_queue_.Add(base::KeyOf(*vmi));
  }
}

void Controller::StartInformers() {
  // Claims and pods first: a VM or VMI reconciled before they synced would
  // see its PVCs missing.
  pvcs_.Run();
  pods_.Run();
  nodes_.Run();
  storage_classes_.Run();
  importer_pods_.Run();
  dvs_.Run();
  vmis_.Run();
  vms_.Run();
}

bool Controller::HasSynced() const {
  return vms_.HasSynced() && vmis_.HasSynced() && pods_.HasSynced() && pvcs_.HasSynced() &&
         dvs_.HasSynced() && importer_pods_.HasSynced() && storage_classes_.HasSynced() &&
         nodes_.HasSynced();
}

bool Controller::WaitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const kube::Informer* informer :
       {&pvcs_, &pods_, &nodes_, &storage_classes_, &importer_pods_, &dvs_, &vmis_, &vms_}) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->WaitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void Controller::StartWorkers() {
  if (!workers_.empty()) return;
  for (int i = 0; i < config_.workers; ++i) {
    workers_.emplace_back([this] { Work(&vm_queue_, "vm", &Controller::ReconcileVm); });
    workers_.emplace_back([this] { Work(&vmi_queue_, "vmi", &Controller::ReconcileVmi); });
  }
  workers_.emplace_back(
      [this] { Work(&dv_queue_, "datavolume", &Controller::ReconcileDataVolume); });
}

void Controller::StopWorkers() {
  vm_queue_.ShutDownWithDrain();
  vmi_queue_.ShutDownWithDrain();
  dv_queue_.ShutDownWithDrain();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void Controller::StopInformers() {
  vms_.Stop();
  vmis_.Stop();
  pods_.Stop();
  pvcs_.Stop();
  dvs_.Stop();
  importer_pods_.Stop();
  storage_classes_.Stop();
  nodes_.Stop();
}

void Controller::Work(kube::WorkQueue* queue, const std::string& name,
                      base::Status (Controller::*reconcile)(const std::string&)) {
  while (auto key = queue->Get()) {
    auto start = std::chrono::steady_clock::now();
    base::Status status = (this->*reconcile)(*key);
    metrics_->ObserveReconcile(
        name, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        !status.ok());
    if (status.ok()) {
      queue->Forget(*key);
    } else {
      queue->AddRateLimited(*key);
    }
    queue->Done(*key);
  }
}

Claims Controller::ClaimsFor(const api::VirtualMachineInstanceSpec& spec,
                             const std::string& ns) const {
  Claims claims;
  for (const std::string& name : AllClaimNames(spec)) {
    ObjectPtr pvc = pvcs_.store().Get(ns + "/" + name);
    if (pvc != nullptr) claims[name] = ClaimInfoOf(*pvc);
  }
  return claims;
}

std::vector<Json> Controller::PodsOf(const std::string& vmi_uid) const {
  std::vector<Json> pods;
  std::set<std::string> seen;
  for (const auto& list :
       {pods_.store().ByLabel(kCreatedByLabel, vmi_uid), pods_.store().ByOwner(vmi_uid)}) {
    for (const ObjectPtr& pod : list) {
      if (seen.insert(base::KeyOf(*pod)).second) pods.push_back(*pod);
    }
  }
  return pods;
}

void Controller::RecordEvents(const Json& object, const std::vector<Event>& events) {
  for (const Event& e : events) recorder_->Record(object, e.type, e.reason, e.message);
}

base::Status Controller::WriteFailed(const Json& object, const std::string& what,
                                     const base::Status& status) {
  std::string key = base::KeyOf(object);
  const bool own_object = what.rfind("update", 0) == 0;
  // Our object is gone (a finalizer we removed let its deletion finish):
  // nothing is left to do for it.
  if (own_object && status.IsNotFound()) return base::Status::Ok();
  // A conflict is the normal way of learning the cache was behind: the next
  // reconcile starts from the newer version.
  if (status.IsConflict() || status.IsNotFound()) {
    base::Log(base::LogLevel::kDebug, "reconcile will retry: " + what,
              {{"object", key}, {"error", status.ToString()}});
    return status;
  }
  base::LogWarn("reconcile failed: " + what, {{"object", key}, {"error", status.ToString()}});
  std::string reason = own_object                     ? "FailedUpdate"
                       : what.rfind("create", 0) == 0 ? "FailedCreate"
                                                      : "FailedDelete";
  recorder_->Record(object, kube::EventType::kWarning, reason, what + ": " + status.message());
  return status.WithContext(what);
}

base::Status Controller::ApplyPodChanges(const Json& owner, const ObjectRef& owner_ref,
                                         const std::vector<Deletion>& delete_pods,
                                         const std::optional<Json>& create_pod,
                                         base::Status* refused) {
  const std::string ns = base::NamespaceOf(owner);
  for (const Deletion& pod : delete_pods) {
    kube::DeleteOptions options;
    options.precondition_uid = pod.uid;
    options.grace_period_seconds = pod.grace_period_seconds;
    base::Status deleted = client_->Delete(res::kPods, ns, pod.name, options);
    if (!deleted.ok() && !deleted.IsNotFound() && !deleted.IsConflict()) {
      return WriteFailed(owner, "delete pod " + pod.name, deleted);
    }
    base::Log(base::LogLevel::kDebug, "deleted pod",
              {{"object", owner_ref.key}, {"pod", pod.name}});
  }
  if (create_pod.has_value()) {
    const std::string pod_name = base::NameOf(*create_pod);
    const ObjectRef pod_ref{res::kPods.kind, ns + "/" + pod_name};
    expectations_.ExpectCreate(owner_ref, pod_ref);
    auto created = client_->Create(res::kPods, ns, *create_pod);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      expectations_.CreateFailed(owner_ref, pod_ref);
      if (refused != nullptr && IsPermanentRefusal(created.status())) {
        base::LogWarn("pod refused for good", {{"object", owner_ref.key},
                                               {"pod", pod_name},
                                               {"error", created.status().ToString()}});
        *refused = created.status();
        return base::Status::Ok();
      }
      return WriteFailed(owner, "create pod " + pod_name, created.status());
    }
    base::Log(base::LogLevel::kDebug, "created pod",
              {{"object", owner_ref.key}, {"pod", pod_name}});
  }
  return base::Status::Ok();
}

base::Status Controller::WriteStatus(const kube::Resource& resource, const std::string& key,
                                     Json status, Json* latest) {
  Json object = *latest;
  object["status"] = std::move(status);
  auto updated = client_->UpdateStatus(resource, object);
  if (!updated.ok()) return WriteFailed(*latest, "update status", updated.status());
  written_.Wrote({resource.kind, key}, base::ResourceVersionOf(*latest));
  *latest = std::move(updated).value();
  return base::Status::Ok();
}

}  // namespace vireo::controllers
