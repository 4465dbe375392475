// The I/O half of the VirtualMachineInstance reconciler; the pure half is
// reconcile/vmi.h (DecideVmi, RenderLauncherPod). Observe reads the shared
// caches (and the apiserver for a node not cached yet) into a
// VmiObservation, DecideVmi decides, Apply writes the decision in the order
// vmi.h prescribes.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controllers/applier.h"
#include "controllers/caches.h"
#include "controllers/reconcile/launcher_pod.h"
#include "controllers/reconcile/vmi.h"
#include "lib/kube/workqueue.h"

namespace vireo::controllers {

// Thread-safe: Reconcile runs on several workers at once (never two on one
// key, the queue sees to that).
class VmiReconciler {
 public:
  // Adds its handlers to `caches`: a VMI, its launcher pods, the nodes they
  // run on, the claims and DataVolumes it names. `caches` and `applier` must
  // outlive it.
  VmiReconciler(Caches* caches, Applier* applier, LauncherConfig launcher,
                std::chrono::seconds node_grace);

  kube::WorkQueue& queue() { return queue_; }
  // One VMI key: observe, decide, apply. An error requeues it with backoff.
  base::Status Reconcile(const std::string& key);

 private:
  base::Result<VmiObservation> Observe(api::VirtualMachineInstance vmi) const;
  base::Status Apply(const std::string& key, const VmiObservation& observation,
                     const VmiDecision& decision, base::Json latest);
  std::vector<base::Json> PodsOf(const std::string& vmi_uid) const;
  // VmiObservation::pod_seen for `observation`, from what this reconciler
  // remembers; remembers its pods while its status does not record them.
  void NotePods(const std::string& key, VmiObservation* observation);
  void RememberPod(const std::string& key, const std::string& vmi_uid);
  void ForgetPods(const std::string& key);

  void AddHandlers();
  void EnqueueVmiOf(const base::Json& pod);
  // The VMIs whose launcher pods are bound to `node`.
  void EnqueueVmisOnNode(const std::string& node);
  void EnqueueUsersOfClaim(const base::Json& pvc);
  void EnqueueUsersOfDataVolume(const base::Json& dv);

  Caches* const caches_;
  Applier* const applier_;
  const LauncherConfig launcher_;
  const std::chrono::seconds node_grace_;
  kube::WorkQueue queue_;
  // VMI key -> uid: a pod of it was made or seen while its first status
  // waited (reconcile/vmi.h, "Writes"). Cleared once the status records a
  // pod, or the VMI is gone.
  std::mutex seen_mu_;
  std::map<std::string, std::string> pods_seen_;  // GUARDED_BY(seen_mu_)
};

}  // namespace vireo::controllers
