// The shared informers of caches.h: what each watches and how its objects
// are trimmed before they are cached.
#include "controllers/caches.h"

#include <algorithm>

#include "controllers/cache_trim.h"
#include "controllers/reconcile/datavolume.h"
#include "controllers/reconcile/launcher_pod.h"
#include "lib/api/datavolume.h"
#include "lib/api/resources.h"

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

// Each informer indexes what some lookup asks of it and nothing more: an
// index costs about as much memory per object as the packed object itself.
using Indexes = std::vector<kube::StoreIndex>;

// The claims a VM's template or a VMI's spec names, as "namespace/claim":
// a claim's or DataVolume's event finds its users without reading them all.
kube::StoreIndex ClaimIndex(const char* spec_path) {
  return {kClaimIndex, [spec_path](const Json& object) {
            std::vector<std::string> keys;
            const std::string ns = base::NamespaceOf(object);
            for (const std::string& claim : ClaimsNamedBy(base::Find(object, spec_path))) {
              keys.push_back(ns + "/" + claim);
            }
            return keys;
          }};
}

// A clone DataVolume's source claim, as "namespace/claim" (a clone's source
// is in its own namespace).
kube::StoreIndex CloneSourceIndex() {
  return {kCloneSourceIndex, [](const Json& dv) {
            std::string source = base::GetString(dv, "spec.source.pvc.name");
            if (source.empty()) return std::vector<std::string>{};
            return std::vector<std::string>{base::NamespaceOf(dv) + "/" + source};
          }};
}

kube::StoreIndex NodeIndex() {
  return {kNodeIndex, [](const Json& pod) {
            std::string node = base::GetString(pod, "spec.nodeName");
            return node.empty() ? std::vector<std::string>{} : std::vector<std::string>{node};
          }};
}

}  // namespace

std::string ControllerNamed(const Json& object, const char* kind) {
  const Json* owners = base::Find(object, "metadata.ownerReferences");
  if (owners == nullptr || !owners->is_array()) return "";
  for (const Json& owner : *owners) {
    if (base::GetBool(owner, "controller").value_or(false) &&
        base::GetString(owner, "kind") == kind) {
      return base::GetString(owner, "name");
    }
  }
  return "";
}

std::vector<std::string> ClaimsNamedBy(const Json* spec) {
  std::vector<std::string> claims;
  const Json* volumes = spec != nullptr ? base::Find(*spec, "volumes") : nullptr;
  if (volumes == nullptr || !volumes->is_array()) return claims;
  for (const Json& volume : *volumes) {
    for (const char* path : {"persistentVolumeClaim.claimName", "dataVolume.name"}) {
      std::string claim = base::GetString(volume, path);
      if (!claim.empty() && std::find(claims.begin(), claims.end(), claim) == claims.end()) {
        claims.push_back(std::move(claim));
      }
    }
  }
  return claims;
}

bool SpecUsesClaim(const Json* spec, const std::string& claim) {
  const Json* volumes = spec != nullptr ? base::Find(*spec, "volumes") : nullptr;
  if (volumes == nullptr || !volumes->is_array()) return false;
  for (const Json& volume : *volumes) {
    if (base::GetString(volume, "persistentVolumeClaim.claimName") == claim) return true;
  }
  return false;
}

bool SpecUsesDataVolume(const Json* spec, const std::string& name) {
  const Json* volumes = spec != nullptr ? base::Find(*spec, "volumes") : nullptr;
  if (volumes == nullptr || !volumes->is_array()) return false;
  return std::any_of(volumes->begin(), volumes->end(), [&](const Json& v) {
    return base::GetString(v, "dataVolume.name") == name ||
           base::GetString(v, "persistentVolumeClaim.claimName") == name;
  });
}

Caches::Caches(kube::Client* client, const std::string& ns)
    : vms(Watch(client, kv::kVirtualMachines, ns, "", TrimKubectlCopy),
          Described(kv::kVirtualMachines), Indexes{ClaimIndex("spec.template.spec")}),
      vmis(Watch(client, kv::kVirtualMachineInstances, ns, "", TrimKubectlCopy),
           Described(kv::kVirtualMachineInstances), Indexes{ClaimIndex("spec")}),
      launcher_pods(Watch(client, res::kPods, ns, std::string(kAppLabel) + "=" + kAppLabelLauncher,
                          TrimLauncherPod),
                    Described(res::kPods),
                    Indexes{kube::LabelIndex(kCreatedByLabel), kube::OwnerIndex(), NodeIndex()}),
      pvcs(Watch(client, res::kPersistentVolumeClaims, ns, "", TrimPersistentVolumeClaim),
           Described(res::kPersistentVolumeClaims), Indexes{}),
      data_volumes(Watch(client, kv::kDataVolumes, ns, "", TrimKubectlCopy),
                   Described(kv::kDataVolumes), Indexes{CloneSourceIndex()}),
      importer_pods(
          Watch(client, res::kPods, ns, std::string(kImporterAppLabel) + "=" + kImporterAppValue),
          Described(res::kPods), Indexes{kube::LabelIndex(kImporterForLabel)}),
      storage_classes(Watch(client, res::kStorageClasses, ""), Described(res::kStorageClasses),
                      Indexes{}),
      nodes(Watch(client, kNodes, "", "", TrimNode), Described(kNodes), Indexes{}) {}

Caches::~Caches() { Stop(); }

void Caches::Start() {
  // Claims and pods first: a VM or VMI reconciled before they synced would
  // see its PVCs missing.
  pvcs.Run();
  launcher_pods.Run();
  nodes.Run();
  storage_classes.Run();
  importer_pods.Run();
  data_volumes.Run();
  vmis.Run();
  vms.Run();
}

bool Caches::HasSynced() const {
  return vms.HasSynced() && vmis.HasSynced() && launcher_pods.HasSynced() && pvcs.HasSynced() &&
         data_volumes.HasSynced() && importer_pods.HasSynced() && storage_classes.HasSynced() &&
         nodes.HasSynced();
}

bool Caches::WaitForSync(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const kube::Informer* informer : {&pvcs, &launcher_pods, &nodes, &storage_classes,
                                         &importer_pods, &data_volumes, &vmis, &vms}) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->WaitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void Caches::Stop() {
  vms.Stop();
  vmis.Stop();
  launcher_pods.Stop();
  pvcs.Stop();
  data_volumes.Stop();
  importer_pods.Stop();
  storage_classes.Stop();
  nodes.Stop();
}

std::map<std::string, double> Caches::Sizes() const {
  return {{"virtualmachines", static_cast<double>(vms.store().size())},
          {"virtualmachineinstances", static_cast<double>(vmis.store().size())},
          {"pods", static_cast<double>(launcher_pods.store().size())},
          {"persistentvolumeclaims", static_cast<double>(pvcs.store().size())},
          {"datavolumes", static_cast<double>(data_volumes.store().size())},
          {"nodes", static_cast<double>(nodes.store().size())}};
}

Claims Caches::ClaimsFor(const api::VirtualMachineInstanceSpec& spec, const std::string& ns) const {
  Claims claims;
  for (const std::string& name : AllClaimNames(spec)) {
    ObjectPtr pvc = pvcs.store().Get(ns + "/" + name);
    if (pvc != nullptr) claims[name] = ClaimInfoOf(*pvc);
  }
  return claims;
}

DataVolumes Caches::DataVolumesFor(const api::VirtualMachineInstanceSpec& spec,
                                   const std::string& ns, const Claims& claims) const {
  DataVolumes states;
  for (const std::string& name : DataVolumesToWaitFor(spec, claims)) {
    ObjectPtr dv = data_volumes.store().Get(ns + "/" + name);
    if (dv == nullptr) continue;
    DataVolumeState state;
    state.phase = base::GetString(*dv, "status.phase");
    state.progress = base::GetString(*dv, "status.progress");
    if (const Json* conditions = base::Find(*dv, "status.conditions");
        conditions != nullptr && conditions->is_array()) {
      for (const Json& c : *conditions) {
        if (base::GetString(c, "type") == api::dv_condition::kRunning) {
          state.message = base::GetString(c, "message");
        }
      }
    }
    states[name] = std::move(state);
  }
  return states;
}

}  // namespace vireo::controllers
