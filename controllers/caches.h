// The informers vireo-controller shares between its reconcilers: each is
// built once, here; every reconciler adds its own handlers and reads the
// stores it needs, and the lookups more than one reconciler makes live here.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "lib/api/types.h"
#include "lib/kube/client.h"
#include "lib/kube/informer.h"

namespace vireo::controllers {

// core/v1 Nodes, cluster-scoped (lib/kube names only what its own tests use).
inline const kube::Resource kNodes{"", "v1", "nodes", "Node", false};

// Lifecycle: construct → reconcilers AddHandlers → Start → Stop. The stores
// are thread-safe; Start and Stop from one thread.
struct Caches {
  // `namespace_name` "": every namespace. `client` must outlive the caches.
  Caches(kube::Client* client, const std::string& namespace_name);
  ~Caches();
  Caches(const Caches&) = delete;
  Caches& operator=(const Caches&) = delete;

  void Start();
  bool HasSynced() const;
  // Waits for every informer, at most `timeout`.
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  // No handler runs after it returns.
  void Stop();
  // Objects cached, by resource (the vireo_cached_objects gauge).
  std::map<std::string, double> Sizes() const;

  // The PVCs that exist among AllClaimNames(spec).
  Claims ClaimsFor(const api::VirtualMachineInstanceSpec& spec, const std::string& ns) const;
  // What the VM and VMI decisions read of the DataVolumes a spec names.
  // `claims` is ClaimsFor(spec, ns), already looked up by the caller.
  DataVolumes DataVolumesFor(const api::VirtualMachineInstanceSpec& spec, const std::string& ns,
                             const Claims& claims) const;

  kube::Informer vms;
  kube::Informer vmis;
  kube::Informer launcher_pods;  // labelled kubevirt.io=virt-launcher, trimmed
  kube::Informer pvcs;
  kube::Informer data_volumes;
  kube::Informer importer_pods;
  kube::Informer storage_classes;
  kube::Informer nodes;
};

// Index names of the stores above: a VM's or VMI's claims ("ns/claim",
// persistentVolumeClaim and dataVolume volumes alike) and a launcher pod's
// node; a clone DataVolume's source claim ("ns/claim").
inline constexpr char kClaimIndex[] = "claim";
inline constexpr char kCloneSourceIndex[] = "clone-source";
inline constexpr char kNodeIndex[] = "node";

// The name of the controlling owner of `kind`, or "".
std::string ControllerNamed(const base::Json& object, const char* kind);
// The claims a VMI spec (JSON) names: persistentVolumeClaim claim names and
// dataVolume names (a DataVolume's claim has its name), each once.
std::vector<std::string> ClaimsNamedBy(const base::Json* spec);
// Whether a VMI spec (JSON) names `claim` in a persistentVolumeClaim volume.
bool SpecUsesClaim(const base::Json* spec, const std::string& claim);
// Whether a VMI spec (JSON) names the DataVolume `name`, or its claim
// (which has its name).
bool SpecUsesDataVolume(const base::Json* spec, const std::string& name);

}  // namespace vireo::controllers
