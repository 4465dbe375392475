// DataVolumeReconciler (datavolume_reconciler.h): one DataVolume key
// through DecideDataVolume, and the decision applied in the order
// datavolume.h prescribes.
#include "controllers/datavolume_reconciler.h"

#include "lib/api/datavolume.h"
#include "lib/api/importer_pod.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
using kube::ObjectPtr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

namespace {

constexpr char kDefaultClassAnnotation[] = "storageclass.kubernetes.io/is-default-class";

bool VmiEnded(const Json& vmi) {
  const std::string phase = base::GetString(vmi, "status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

DataVolumeReconciler::DataVolumeReconciler(Caches* caches, Applier* applier,
                                           ImporterConfig importer)
    : caches_(caches), applier_(applier), importer_(std::move(importer)) {
  AddHandlers();
}

void DataVolumeReconciler::AddHandlers() {
  auto dv_changed = [this](const ObjectPtr& dv) { queue_.Add(base::KeyOf(*dv)); };
  caches_->data_volumes.AddHandlers(kube::OnEveryChange(dv_changed));
  // A clone waits while a VMI runs on its source claim.
  auto enqueue_waiting_clones = [this](const ObjectPtr& vmi) {
    const std::string ns = base::NamespaceOf(*vmi);
    for (const std::string& claim : ClaimsNamedBy(base::Find(*vmi, "spec"))) {
      for (const ObjectPtr& dv :
           caches_->data_volumes.store().ByIndex(kCloneSourceIndex, ns + "/" + claim)) {
        queue_.Add(base::KeyOf(*dv));
      }
    }
  };
  caches_->vmis.AddHandlers(kube::OnEveryChange(enqueue_waiting_clones));
  // A DataVolume's claim binding moves the DataVolume; a clone waits for
  // its source claim.
  auto claim_changed = [this](const ObjectPtr& pvc) { EnqueueDataVolumesOfClaim(*pvc); };
  caches_->pvcs.AddHandlers(kube::OnEveryChange(claim_changed));
  // An importer pod's appearance is what a DataVolume's create expectation
  // waits for.
  auto importer_changed = [this](const ObjectPtr& pod) {
    applier_->expectations().Observed({res::kPods.kind, base::KeyOf(*pod)});
    std::string owner = ControllerNamed(*pod, api::kDataVolumeKind);
    if (!owner.empty()) queue_.Add(base::NamespaceOf(*pod) + "/" + owner);
  };
  caches_->importer_pods.AddHandlers(kube::OnEveryChange(importer_changed));
  // A StorageClass appearing lets the DataVolumes that wait for one go on.
  auto class_changed = [this](const ObjectPtr&) {
    for (const ObjectPtr& dv : caches_->data_volumes.store().List()) {
      if (base::GetString(*dv, "status.claimName").empty()) queue_.Add(base::KeyOf(*dv));
    }
  };
  caches_->storage_classes.AddHandlers({
      .on_add = class_changed,
      .on_update = [class_changed](const ObjectPtr&, const ObjectPtr& sc) { class_changed(sc); },
      .on_delete = nullptr,
  });
}

void DataVolumeReconciler::EnqueueDataVolumesOfClaim(const Json& pvc) {
  const std::string ns = base::NamespaceOf(pvc);
  const std::string owner = ControllerNamed(pvc, api::kDataVolumeKind);
  if (!owner.empty()) queue_.Add(ns + "/" + owner);
  // A claim that has a DataVolume's name and is not its own: that DataVolume
  // must learn it exists (it never writes to it).
  const std::string same_name = ns + "/" + base::NameOf(pvc);
  if (owner != base::NameOf(pvc) && caches_->data_volumes.store().Get(same_name) != nullptr) {
    queue_.Add(same_name);
  }
  for (const ObjectPtr& dv :
       caches_->data_volumes.store().ByIndex(kCloneSourceIndex, base::KeyOf(pvc))) {
    queue_.Add(base::KeyOf(*dv));
  }
}

std::pair<std::string, bool> DataVolumeReconciler::StorageClassFor(
    const api::DataVolume& dv) const {
  const kube::Store& classes = caches_->storage_classes.store();
  if (dv.spec.storage_class_name.has_value() && !dv.spec.storage_class_name->empty()) {
    const std::string& name = *dv.spec.storage_class_name;
    return {name, classes.Get(name) != nullptr};
  }
  // Kubernetes picks the newest default when several are marked.
  std::string best, best_created;
  for (const ObjectPtr& sc : classes.List()) {
    const Json* annotations = base::Find(*sc, "metadata.annotations");
    if (annotations == nullptr || !annotations->is_object() ||
        !annotations->contains(kDefaultClassAnnotation) ||
        !annotations->at(kDefaultClassAnnotation).is_string() ||
        annotations->at(kDefaultClassAnnotation).get<std::string>() != "true") {
      continue;
    }
    const std::string created = base::GetString(*sc, "metadata.creationTimestamp");
    if (best.empty() || created > best_created) {
      best = base::NameOf(*sc);
      best_created = created;
    }
  }
  return {best, !best.empty()};
}

std::string DataVolumeReconciler::VmiUsingClaim(const std::string& ns,
                                                const std::string& claim) const {
  for (const ObjectPtr& vmi : caches_->vmis.store().ByIndex(kClaimIndex, ns + "/" + claim)) {
    if (VmiEnded(*vmi)) continue;
    if (SpecUsesDataVolume(base::Find(*vmi, "spec"), claim)) return base::NameOf(*vmi);
  }
  return "";
}

std::optional<std::string> DataVolumeReconciler::ImportProgress(const std::string& ns,
                                                                const std::string& pod) const {
  // The importer prints one JSON object a line; the last one is read.
  auto line = applier_->client()->Raw(
      "GET", res::kPods.Path(ns, pod, "log") + "?container=" + kImporterContainer + "&tailLines=1");
  if (!line.ok() || !line->is_object()) return std::nullopt;
  if (base::GetString(*line, "msg") != api::importer::kProgressMessage) return std::nullopt;
  std::string progress = base::GetString(*line, "progress");
  if (progress.empty()) return std::nullopt;
  return progress;
}

Status DataVolumeReconciler::Reconcile(const std::string& key) {
  ObjectPtr cached =
      applier_->CachedForReconcile(caches_->data_volumes, queue_, api::kDataVolumeKind, key);
  if (cached == nullptr) return Status::Ok();
  auto dv = api::DataVolumeFromJson(*cached);
  if (!dv.ok()) {
    base::LogWarn("cannot read DataVolume", {{"object", key}, {"error", dv.status().ToString()}});
    applier_->RecordInvalid(*cached, "InvalidDataVolume", dv.status());
    return Status::Ok();
  }
  return Apply(key, DecideDataVolume(Observe(std::move(dv).value(), key)), *cached);
}

DataVolumeObservation DataVolumeReconciler::Observe(api::DataVolume dv,
                                                    const std::string& key) const {
  const std::string ns = dv.metadata.namespace_;
  DataVolumeObservation obs;
  if (ObjectPtr claim = caches_->pvcs.store().Get(key); claim != nullptr) obs.claim = *claim;
  for (const ObjectPtr& pod :
       caches_->importer_pods.store().ByLabel(kImporterForLabel, dv.metadata.uid)) {
    obs.pods.push_back(*pod);
  }
  std::tie(obs.storage_class, obs.storage_class_exists) = StorageClassFor(dv);
  if (dv.spec.source.kind == api::DataVolumeSourceKind::kPvc) {
    const std::string source = ns + "/" + dv.spec.source.pvc_name;
    if (ObjectPtr claim = caches_->pvcs.store().Get(source); claim != nullptr) {
      obs.source_claim = *claim;
    }
    obs.source_in_use_by = VmiUsingClaim(ns, dv.spec.source.pvc_name);
  }
  for (const Json& pod : obs.pods) {
    if (base::GetString(pod, "status.phase") == "Running" &&
        base::NameOf(pod) == ImporterPodName(dv.metadata.name)) {
      obs.progress = ImportProgress(ns, base::NameOf(pod));
    }
  }
  obs.config = importer_;
  obs.now = base::Clock::Real()->WallNow();
  obs.dv = std::move(dv);
  return obs;
}

Status DataVolumeReconciler::Apply(const std::string& key, const DataVolumeDecision& decision,
                                   Json latest) {
  const std::string ns = base::NamespaceOf(latest);
  if (decision.create_claim.has_value()) {
    auto created =
        applier_->client()->Create(res::kPersistentVolumeClaims, ns, *decision.create_claim);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      return applier_->WriteFailed(latest, "create claim " + base::NameOf(*decision.create_claim),
                                   created.status());
    }
  }
  if (Status pods = applier_->ApplyPodChanges(latest, {api::kDataVolumeKind, key},
                                              decision.delete_pods, decision.create_pod);
      !pods.ok()) {
    return pods;
  }
  if (decision.status.has_value()) {
    Status written =
        applier_->WriteStatus(kv::kDataVolumes, key, api::ToJson(*decision.status), &latest);
    if (!written.ok()) return written;
  }
  applier_->RecordEvents(latest, decision.events);
  if (decision.requeue_after.has_value()) queue_.AddAfter(key, *decision.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
