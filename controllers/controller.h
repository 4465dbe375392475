// The I/O around the pure decisions: informers for VMs, VMIs, launcher pods,
// PVCs, DataVolumes and Nodes, handlers that turn their changes into work-queue keys, and the
// workers that reconcile a key (read the caches, decide, apply the decision
// with the Client, record Events). lib/kube/README.md has the contract.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controllers/expectations.h"
#include "controllers/metrics.h"
#include "controllers/reconcile/datavolume.h"
#include "controllers/reconcile/launcher_pod.h"
#include "controllers/reconcile/vm.h"
#include "controllers/reconcile/vmi.h"
#include "lib/kube/client.h"
#include "lib/kube/events.h"
#include "lib/kube/informer.h"
#include "lib/kube/workqueue.h"

namespace vireo::controllers {

// core/v1 Nodes, cluster-scoped (lib/kube names only what its own tests use).
inline const kube::Resource kNodes{"", "v1", "nodes", "Node", false};

struct ControllerConfig {
  std::string namespace_name;  // "" : every namespace
  int workers = 4;             // per queue
  LauncherConfig launcher;
  ImporterConfig importer;  // its image is the launcher's
  // How long a reconcile waits for the informer to show an object it
  // created or wrote before it looks again regardless.
  base::Clock::Duration expectation_ttl = std::chrono::seconds(30);
  // How long a VMI's node may stay Ready Unknown/False before it fails.
  std::chrono::seconds node_grace = kDefaultNodeGrace;
};

// Lifecycle: StartInformers → (WaitForSync) → StartWorkers (only the leader)
// → StopWorkers → StopInformers. Thread-safe: readiness and metrics from any
// thread; the lifecycle calls from one.
class Controller {
 public:
  // `client` and `recorder` and `metrics` must outlive the controller.
  Controller(kube::Client* client, kube::EventRecorder* recorder, Metrics* metrics,
             ControllerConfig config);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void StartInformers();
  bool HasSynced() const;
  // Waits for every informer, at most `timeout`.
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  void StartWorkers();
  // Stops handing out keys and waits for the reconciles in flight to finish.
  void StopWorkers();
  void StopInformers();

  // Reconciles one key now, on the calling thread (what a worker does).
  base::Status ReconcileVm(const std::string& key);
  base::Status ReconcileVmi(const std::string& key);
  base::Status ReconcileDataVolume(const std::string& key);

 private:
  // One write of an apply step failed: the Status to return, after telling
  // people (a Warning Event on `object`, a log line) unless it is routine.
  // `what` starts with "update" for writes to `object` itself (then NotFound
  // means it is gone: Ok), "create" or "delete" for its children.
  base::Status WriteFailed(const base::Json& object, const std::string& what,
                           const base::Status& status);
  // The cached object for `key` when it is time to reconcile it, else
  // nullptr: it is gone (expectations forgotten: the garbage collector
  // removes what it owned), our own last write has not reached the cache
  // (its event brings us back), or a create is still expected (requeued).
  // `kind` keeps its bookkeeping apart from another kind's of the same key.
  kube::ObjectPtr CachedForReconcile(const kube::Informer& informer, kube::WorkQueue& queue,
                                     const std::string& kind, const std::string& key);
  Claims ClaimsFor(const api::VirtualMachineInstanceSpec& spec, const std::string& ns) const;
  std::vector<base::Json> PodsOf(const std::string& vmi_uid) const;
  // What the VM and VMI decisions read of the DataVolumes a spec names.
  // `claims` is ClaimsFor(spec, ns), already looked up by the caller.
  DataVolumes DataVolumesFor(const api::VirtualMachineInstanceSpec& spec, const std::string& ns,
                             const Claims& claims) const;
  // The StorageClass a claim of `dv` gets ("" : none) and whether it exists.
  std::pair<std::string, bool> StorageClassFor(const api::DataVolume& dv) const;
  // A VMI not yet ended in `ns` whose volumes use `claim` ("" : none).
  std::string VmiUsingClaim(const std::string& ns, const std::string& claim) const;
  // The last progress a running importer printed, read from its log.
  std::optional<std::string> ImportProgress(const std::string& ns, const std::string& pod) const;
  void RecordEvents(const base::Json& object, const std::vector<Event>& events);
  // PUTs `status` on `*latest` through the status subresource (guarded by
  // its resourceVersion), notes the write for CachedForReconcile and makes
  // `*latest` the object the apiserver returned.
  base::Status WriteStatus(const kube::Resource& resource, const std::string& key,
                           base::Json status, base::Json* latest);
  // A decision's pod deletions (uid preconditions; NotFound and Conflict
  // mean done) then its pod creation (AlreadyExists means done), for the
  // object `owner` known to the bookkeeping as `owner_ref`. With `refused`,
  // a create the apiserver refuses for good (IsPermanentRefusal) is no
  // error: its Status goes to *refused, for the caller to fail the owner.
  base::Status ApplyPodChanges(const base::Json& owner, const ObjectRef& owner_ref,
                               const std::vector<Deletion>& delete_pods,
                               const std::optional<base::Json>& create_pod,
                               base::Status* refused = nullptr);

  void AddHandlers();
  void EnqueueVmOf(const base::Json& vmi);
  void EnqueueVmiOf(const base::Json& pod);
  // The VMIs whose launcher pods are bound to `node`.
  void EnqueueVmisOnNode(const std::string& node);
  void EnqueueUsersOfClaim(const base::Json& pvc);
  void EnqueueDataVolumesOfClaim(const base::Json& pvc);
  void EnqueueUsersOfDataVolume(const base::Json& dv);
  void Work(kube::WorkQueue* queue, const std::string& name,
            base::Status (Controller::*reconcile)(const std::string&));

  kube::Client* const client_;
  kube::EventRecorder* const recorder_;
  Metrics* const metrics_;
  const ControllerConfig config_;

  kube::Informer vms_;
  kube::Informer vmis_;
  kube::Informer pods_;
  kube::Informer pvcs_;
  kube::Informer dvs_;
  kube::Informer importer_pods_;
  kube::Informer storage_classes_;
  kube::Informer nodes_;
  kube::WorkQueue vm_queue_;
  kube::WorkQueue vmi_queue_;
  kube::WorkQueue dv_queue_;
  Expectations expectations_;
  WrittenVersions written_;
  std::vector<std::thread> workers_;
};

}  // namespace vireo::controllers
