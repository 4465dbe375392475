// Controller::ReconcileDataVolume: one DataVolume key through
// DecideDataVolume, and the decision applied in the order datavolume.h
// prescribes; the lookups the VM and VMI decisions make of DataVolumes.
#include "controllers/controller.h"
#include "lib/api/datavolume.h"
#include "lib/api/importer_pod.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

namespace {

constexpr char kDefaultClassAnnotation[] = "storageclass.kubernetes.io/is-default-class";

bool VmiEnded(const Json& vmi) {
  const std::string phase = base::GetString(vmi, "status.phase");
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

DataVolumes Controller::DataVolumesFor(const api::VirtualMachineInstanceSpec& spec,
                                       const std::string& ns, const Claims& claims) const {
  DataVolumes states;
  for (const std::string& name : DataVolumesToWaitFor(spec, claims)) {
    kube::ObjectPtr dv = dvs_.store().Get(ns + "/" + name);
    if (dv == nullptr) continue;
    DataVolumeState state;
    state.phase = base::GetString(*dv, "status.phase");
    state.progress = base::GetString(*dv, "status.progress");
    if (const Json* conditions = base::Find(*dv, "status.conditions");
        conditions != nullptr && conditions->is_array()) {
      for (const Json& c : conditions->as_array()) {
        if (base::GetString(c, "type") == api::dv_condition::kRunning) {
          state.message = base::GetString(c, "message");
        }
      }
    }
    states[name] = std::move(state);
  }
  return states;
}

std::pair<std::string, bool> Controller::StorageClassFor(const api::DataVolume& dv) const {
  if (dv.spec.storage_class_name.has_value() && !dv.spec.storage_class_name->empty()) {
    const std::string& name = *dv.spec.storage_class_name;
    return {name, storage_classes_.store().Get(name) != nullptr};
  }
  // Kubernetes picks the newest default when several are marked.
  std::string best, best_created;
  for (const kube::ObjectPtr& sc : storage_classes_.store().List()) {
    const Json* annotations = base::Find(*sc, "metadata.annotations");
    if (annotations == nullptr || !annotations->is_object() ||
        !annotations->has_field(kDefaultClassAnnotation) ||
        !annotations->at(kDefaultClassAnnotation).is_string() ||
        annotations->at(kDefaultClassAnnotation).as_string() != "true") {
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

std::string Controller::VmiUsingClaim(const std::string& ns, const std::string& claim) const {
  for (const kube::ObjectPtr& vmi : vmis_.store().ByNamespace(ns)) {
    if (VmiEnded(*vmi)) continue;
    const Json* volumes = base::Find(*vmi, "spec.volumes");
    if (volumes == nullptr || !volumes->is_array()) continue;
    for (const Json& v : volumes->as_array()) {
      if (base::GetString(v, "persistentVolumeClaim.claimName") == claim ||
          base::GetString(v, "dataVolume.name") == claim) {
        return base::NameOf(*vmi);
      }
    }
  }
  return "";
}

std::optional<std::string> Controller::ImportProgress(const std::string& ns,
                                                      const std::string& pod) const {
  // The importer prints one JSON object a line; the last one is read.
  auto line = client_->Raw(
      "GET", res::kPods.Path(ns, pod, "log") + "?container=" + kImporterContainer + "&tailLines=1");
  if (!line.ok() || !line->is_object()) return std::nullopt;
  if (base::GetString(*line, "msg") != api::importer::kProgressMessage) return std::nullopt;
  std::string progress = base::GetString(*line, "progress");
  if (progress.empty()) return std::nullopt;
  return progress;
}

base::Status Controller::ReconcileDataVolume(const std::string& key) {
  kube::ObjectPtr cached = CachedForReconcile(dvs_, dv_queue_, api::kDataVolumeKind, key);
  if (cached == nullptr) return Status::Ok();
  auto dv = api::DataVolumeFromJson(*cached);
  if (!dv.ok()) {
    base::LogWarn("cannot read DataVolume", {{"object", key}, {"error", dv.status().ToString()}});
    recorder_->Record(*cached, kube::EventType::kWarning, "InvalidDataVolume",
                      dv.status().message());
    return Status::Ok();
  }
  const std::string ns = dv->metadata.namespace_;
  DataVolumeObservation obs;
  if (kube::ObjectPtr claim = pvcs_.store().Get(key); claim != nullptr) obs.claim = *claim;
  for (const kube::ObjectPtr& pod :
       importer_pods_.store().ByLabel(kImporterForLabel, dv->metadata.uid)) {
    obs.pods.push_back(*pod);
  }
  std::tie(obs.storage_class, obs.storage_class_exists) = StorageClassFor(*dv);
  if (dv->spec.source.kind == api::DataVolumeSourceKind::kPvc) {
    const std::string source = ns + "/" + dv->spec.source.pvc_name;
    if (kube::ObjectPtr claim = pvcs_.store().Get(source); claim != nullptr) {
      obs.source_claim = *claim;
    }
    obs.source_in_use_by = VmiUsingClaim(ns, dv->spec.source.pvc_name);
  }
  for (const Json& pod : obs.pods) {
    if (base::GetString(pod, "status.phase") == "Running" &&
        base::NameOf(pod) == ImporterPodName(dv->metadata.name)) {
      obs.progress = ImportProgress(ns, base::NameOf(pod));
    }
  }
  obs.config = config_.importer;
  obs.now = base::Clock::Real()->WallNow();
  obs.dv = std::move(dv).value();
  DataVolumeDecision decision = DecideDataVolume(obs);

  Json latest = *cached;
  if (decision.create_claim.has_value()) {
    auto created = client_->Create(res::kPersistentVolumeClaims, ns, *decision.create_claim);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      return WriteFailed(latest, "create claim " + base::NameOf(*decision.create_claim),
                         created.status());
    }
  }
  if (Status pods = ApplyPodChanges(latest, {api::kDataVolumeKind, key}, decision.delete_pods, decision.create_pod);
      !pods.ok()) {
    return pods;
  }
  if (decision.status.has_value()) {
    Status written = WriteStatus(kv::kDataVolumes, key, api::ToJson(*decision.status), &latest);
    if (!written.ok()) return written;
  }
  RecordEvents(latest, decision.events);
  if (decision.requeue_after.has_value()) dv_queue_.AddAfter(key, *decision.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
