// The I/O half of the VirtualMachineInstance reconciler; the pure half is
// reconcile/vmi.h (DecideVmi, RenderLauncherPod). Observe reads the shared
// caches (and the apiserver for a node not cached yet) into a
// VmiObservation, DecideVmi decides, Apply writes the decision in the order
// vmi.h prescribes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controllers/applier.h"
#include "controllers/caches.h"
#include "controllers/live_pod_rechecks.h"
#include "controllers/pods_seen.h"
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
  // Also notes in pods_seen_ what `key`'s pods are now (VmiObservation::pod_seen).
  base::Result<VmiObservation> Observe(const std::string& key, api::VirtualMachineInstance vmi);
  base::Status Apply(const std::string& key, const VmiObservation& observation,
                     const VmiDecision& decision, base::Json latest);
  std::vector<base::Json> PodsOf(const std::string& vmi_uid) const;
  // The VMI's launcher pod as the apiserver has it, when the cache shows no
  // pod of a VMI that had one (the decision would fail it, PodVanished):
  // nullopt only on NotFound, or a pod of that name that is not the VMI's.
  base::Result<std::optional<base::Json>> LivePodOf(const api::VirtualMachineInstance& vmi) const;
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
  // The pods made or seen while a VMI's status did not record one.
  PodsSeen pods_seen_;
  // When to look again at a VMI whose pod only the apiserver shows.
  LivePodRechecks live_rechecks_;
};

}  // namespace vireo::controllers
