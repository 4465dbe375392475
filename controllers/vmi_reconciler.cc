// VmiReconciler (vmi_reconciler.h): one VirtualMachineInstance key through
// DecideVmi, and the decision applied in the order vmi.h prescribes.
#include "controllers/vmi_reconciler.h"

#include <algorithm>
#include <set>

#include "controllers/cache_trim.h"
#include "controllers/reconcile/disruption_budget.h"
#include "lib/api/codec.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
using kube::ObjectPtr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

VmiReconciler::VmiReconciler(Caches* caches, Applier* applier, LauncherConfig launcher,
                             std::chrono::seconds node_grace)
    : caches_(caches), applier_(applier), launcher_(std::move(launcher)), node_grace_(node_grace) {
  AddHandlers();
}

void VmiReconciler::AddHandlers() {
  // A new VMI goes ahead of the updates queued, as a new VM does: its pod
  // comes before the status work of the VMIs started already.
  caches_->vmis.AddHandlers(
      kube::OnEveryChange([this](const ObjectPtr& vmi) { queue_.AddNew(base::KeyOf(*vmi)); },
                          [this](const ObjectPtr& vmi) { queue_.Add(base::KeyOf(*vmi)); }));
  // A launcher pod's appearance is what a VMI's create expectation waits for.
  auto pod_changed = [this](const ObjectPtr& pod) {
    applier_->expectations().Observed({res::kPods.kind, base::KeyOf(*pod)});
    EnqueueVmiOf(*pod);
  };
  caches_->launcher_pods.AddHandlers({
      .on_add = pod_changed,
      .on_update = [pod_changed](const ObjectPtr&, const ObjectPtr& pod) { pod_changed(pod); },
      .on_delete = [this](const ObjectPtr& pod) { EnqueueVmiOf(*pod); },
  });
  // A claim appearing or vanishing changes what a VMI that names it may do;
  // a claim's volume mode never changes, so updates do not matter.
  caches_->pvcs.AddHandlers(
      kube::OnAddOrDelete([this](const ObjectPtr& pvc) { EnqueueUsersOfClaim(*pvc); }));
  auto dv_changed = [this](const ObjectPtr& dv) { EnqueueUsersOfDataVolume(*dv); };
  caches_->data_volumes.AddHandlers(kube::OnEveryChange(dv_changed));
  // A node's readiness or out-of-service taint decides whether the VMIs on
  // it are lost; its heartbeats alone change nothing.
  caches_->nodes.AddHandlers({
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

void VmiReconciler::EnqueueVmiOf(const Json& pod) {
  std::string owner = ControllerNamed(pod, api::kVirtualMachineInstanceKind);
  if (!owner.empty()) queue_.Add(base::NamespaceOf(pod) + "/" + owner);
}

void VmiReconciler::EnqueueVmisOnNode(const std::string& node) {
  for (const ObjectPtr& pod : caches_->launcher_pods.store().ByIndex(kNodeIndex, node)) {
    EnqueueVmiOf(*pod);
  }
}

void VmiReconciler::EnqueueUsersOfClaim(const Json& pvc) {
  const std::string claim = base::NameOf(pvc);
  for (const ObjectPtr& vmi : caches_->vmis.store().ByIndex(kClaimIndex, base::KeyOf(pvc))) {
    if (SpecUsesClaim(base::Find(*vmi, "spec"), claim)) queue_.Add(base::KeyOf(*vmi));
  }
}

// The VMIs that wait for the DataVolume.
void VmiReconciler::EnqueueUsersOfDataVolume(const Json& dv) {
  for (const ObjectPtr& vmi : caches_->vmis.store().ByIndex(kClaimIndex, base::KeyOf(dv))) {
    if (SpecUsesDataVolume(base::Find(*vmi, "spec"), base::NameOf(dv))) {
      queue_.Add(base::KeyOf(*vmi));
    }
  }
}

std::vector<Json> VmiReconciler::PodsOf(const std::string& vmi_uid) const {
  std::vector<Json> pods;
  std::set<std::string> seen;
  const kube::Store& store = caches_->launcher_pods.store();
  for (const auto& list : {store.ByLabel(kCreatedByLabel, vmi_uid), store.ByOwner(vmi_uid)}) {
    for (const ObjectPtr& pod : list) {
      if (seen.insert(base::KeyOf(*pod)).second) pods.push_back(*pod);
    }
  }
  return pods;
}

Status VmiReconciler::Reconcile(const std::string& key) {
  ObjectPtr cached =
      applier_->CachedForReconcile(caches_->vmis, queue_, api::kVirtualMachineInstanceKind, key);
  if (cached == nullptr) {
    // Not only when the VMI is gone: also while our own write or create is
    // on its way to the cache, when what was seen must stay remembered.
    if (caches_->vmis.store().Get(key) == nullptr) {
      pods_seen_.Forget(key);
      live_rechecks_.Reset(key);
    }
    return Status::Ok();
  }
  auto vmi = api::FromJson<api::VirtualMachineInstance>(*cached);
  if (!vmi.ok()) {
    // Nothing to retry until someone fixes the object.
    base::LogWarn("cannot read VirtualMachineInstance",
                  {{"object", key}, {"error", vmi.status().ToString()}});
    applier_->RecordInvalid(*cached, "InvalidVirtualMachineInstance", vmi.status());
    return Status::Ok();
  }
  base::Result<VmiObservation> observation = Observe(key, std::move(vmi).value());
  if (!observation.ok()) return observation.status();
  return Apply(key, *observation, DecideVmi(*observation), *cached);
}

base::Result<std::optional<Json>> VmiReconciler::LivePodOf(
    const api::VirtualMachineInstance& vmi) const {
  auto live = applier_->client()->Get(res::kPods, vmi.metadata.namespace_, LauncherPodName(vmi));
  if (!live.ok()) {
    if (live.status().IsNotFound()) return std::optional<Json>();
    return live.status().WithContext("get launcher pod");
  }
  Json pod = std::move(live).value();
  // Ours as PodsOf tells, by the same index functions (the created-by label
  // or an owner reference): a pod of that name made by someone else does
  // not stand for the guest.
  const auto indexed_under = [&](const kube::StoreIndex& index) {
    const std::vector<std::string> values = index.values(pod);
    return std::ranges::find(values, vmi.metadata.uid) != values.end();
  };
  const bool ours =
      indexed_under(kube::LabelIndex(kCreatedByLabel)) || indexed_under(kube::OwnerIndex());
  if (!ours) return std::optional<Json>();
  TrimLauncherPod(pod);  // as the cache would hold it
  return std::optional<Json>(std::move(pod));
}

base::Result<VmiObservation> VmiReconciler::Observe(const std::string& key,
                                                    api::VirtualMachineInstance vmi) {
  const std::string ns = vmi.metadata.namespace_;
  VmiObservation observation;
  observation.pods = PodsOf(vmi.metadata.uid);
  observation.pod_seen =
      pods_seen_.Note(key, vmi.metadata.uid, RecordsAPod(vmi.status), !observation.pods.empty());
  const bool deleting = !vmi.metadata.deletion_timestamp.empty();
  const bool would_fail = !deleting && (observation.pod_seen || RecordsAPod(vmi.status)) &&
                          !api::IsFinal(vmi.status.phase);
  const bool would_release =
      deleting &&
      std::ranges::find(vmi.metadata.finalizers, kVmiFinalizer) != vmi.metadata.finalizers.end();
  if (observation.pods.empty() && (would_fail || would_release)) {
    // The cache shows no pod, so the decision would fail a VMI that had one
    // (PodVanished), or let a VMI being deleted go while its guest may
    // still run on its disks. The informer may only lag (a create
    // expectation lapses after 30 s), or the pod may have left its label
    // selector: as with a node, only the apiserver's NotFound means gone.
    // One GET per deletion, and on the vanishing path only.
    auto live = LivePodOf(vmi);
    if (!live.ok()) return live.status();
    if (live->has_value()) {
      observation.pods.push_back(std::move(**live));
      // No event of a pod the cache does not show will bring the VMI back
      // here: look again in a while, so its end is not missed.
      queue_.AddAfter(key, live_rechecks_.Next(key, base::Clock::Real()->Now()));
    } else {
      live_rechecks_.Reset(key);
    }
  } else {
    live_rechecks_.Reset(key);
  }
  observation.claims = caches_->ClaimsFor(vmi.spec, ns);
  observation.data_volumes = caches_->DataVolumesFor(vmi.spec, ns, observation.claims);
  observation.config = launcher_;
  // The nodes its pods are bound to. One absent from the cache may be new
  // and not yet seen (its pod would be force-deleted if it were taken for
  // gone): the apiserver decides, and only its NotFound means gone.
  observation.nodes.emplace();
  for (const Json& pod : observation.pods) {
    const std::string node = base::GetString(pod, "spec.nodeName");
    if (node.empty() || observation.nodes->contains(node)) continue;
    if (ObjectPtr cached = caches_->nodes.store().Get(node); cached != nullptr) {
      observation.nodes->emplace(node, NodeStateOf(*cached));
      continue;
    }
    auto live = applier_->client()->Get(kNodes, "", node);
    if (live.ok()) {
      observation.nodes->emplace(node, NodeStateOf(*live));
    } else if (!live.status().IsNotFound()) {
      return live.status().WithContext("get node " + node);
    }
  }
  observation.node_grace = node_grace_;
  observation.now = base::Clock::Real()->WallNow();
  observation.vmi = std::move(vmi);
  return observation;
}

Status VmiReconciler::Apply(const std::string& key, const VmiObservation& observation,
                            const VmiDecision& decision, Json latest) {
  const std::string ns = base::NamespaceOf(latest);
  if (decision.finalizers.has_value() || decision.spec.has_value()) {
    Json patch = Json::object();
    if (decision.finalizers.has_value()) {
      patch["metadata"]["finalizers"] = FinalizersJson(*decision.finalizers);
    }
    // The defaulted spec only adds to what is there, which a merge patch
    // expresses exactly (lists are replaced whole, by their defaulted form).
    if (decision.spec.has_value()) patch["spec"] = api::ToJson(*decision.spec);
    Status patched =
        applier_->PatchObject(kv::kVirtualMachineInstances, api::kVirtualMachineInstanceKind, key,
                              std::move(patch), "update finalizers and spec", &latest);
    if (!patched.ok()) return patched;
  }
  if (decision.create_pod.has_value()) {
    // Before the pod, so no launcher pod of an External VMI is ever
    // evictable; the VMI owns the budget and takes it along when deleted.
    if (std::optional<Json> budget = RenderDisruptionBudget(observation.vmi)) {
      auto created = applier_->client()->Create(res::kPodDisruptionBudgets, ns, *budget);
      if (!created.ok() && !created.status().IsAlreadyExists()) {
        return applier_->WriteFailed(latest, "create PodDisruptionBudget " + base::NameOf(*budget),
                                     created.status());
      }
    }
  }
  Status refused;
  Json created_pod;
  if (Status pods = applier_->ApplyPodChanges(latest, {api::kVirtualMachineInstanceKind, key},
                                              decision.delete_pods, decision.create_pod, &refused,
                                              &created_pod);
      !pods.ok()) {
    return pods;
  }
  if (!refused.ok()) {
    // Sent again, the pod would be refused again: the VMI fails with the
    // apiserver's words instead of retrying (a VM's start back-off decides
    // when a new VMI tries again).
    const VmiDecision failed =
        RefusedPodDecision(observation.vmi, decision.status.value_or(observation.vmi.status),
                           refused.message(), base::Clock::Real()->WallNow());
    Status written = applier_->WriteStatus(kv::kVirtualMachineInstances, key,
                                           api::ToJson(*failed.status), &latest);
    if (!written.ok()) return written;
    applier_->RecordEvents(latest, failed.events);
    return Status::Ok();
  }
  // The pod just made is what the informer will show next: decide again
  // with it, so one status write carries what it leads to (the pod recorded
  // in activePods) instead of Pending now and Scheduling when the informer
  // catches up; or none, when that status waits for Running.
  const bool made_pod = created_pod.is_object();
  // Made now, or already there (AlreadyExists: the name is this VMI's).
  if (decision.create_pod.has_value()) pods_seen_.Remember(key, observation.vmi.metadata.uid);
  const VmiDecision after =
      made_pod ? DecideVmiAfterPodCreate(observation, decision, std::move(created_pod))
               : VmiDecision{};
  const bool use_after = made_pod && !after.create_pod.has_value() && after.delete_pods.empty() &&
                         !after.finalizers.has_value() && !after.spec.has_value();
  const std::optional<api::VirtualMachineInstanceStatus>& status =
      use_after ? after.status : decision.status;
  if (status.has_value()) {
    Status written =
        applier_->WriteStatus(kv::kVirtualMachineInstances, key, api::ToJson(*status), &latest);
    if (!written.ok()) return written;
  }
  applier_->RecordEvents(latest,
                         use_after ? MergeEvents(decision.events, after.events) : decision.events);
  if (decision.requeue_after.has_value()) queue_.AddAfter(key, *decision.requeue_after);
  if (use_after && after.requeue_after.has_value()) queue_.AddAfter(key, *after.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
