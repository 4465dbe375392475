// Controller::ReconcileVmi: one VirtualMachineInstance key through
// DecideVmi, and the decision applied in the order vmi.h prescribes.
#include "controllers/controller.h"
#include "controllers/reconcile/disruption_budget.h"
#include "lib/api/codec.h"
#include "lib/api/resources.h"
#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
using base::Status;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

base::Status Controller::ReconcileVmi(const std::string& key) {
  kube::ObjectPtr cached = CachedForReconcile(vmis_, vmi_queue_, api::kVirtualMachineInstanceKind, key);
  if (cached == nullptr) return Status::Ok();

  auto vmi = api::FromJson<api::VirtualMachineInstance>(*cached);
  if (!vmi.ok()) {
    base::LogWarn("cannot read VirtualMachineInstance",
                  {{"object", key}, {"error", vmi.status().ToString()}});
    recorder_->Record(*cached, kube::EventType::kWarning, "InvalidVirtualMachineInstance",
                      vmi.status().message());
    return Status::Ok();
  }
  const std::string ns = vmi->metadata.namespace_;
  VmiObservation observation;
  observation.pods = PodsOf(vmi->metadata.uid);
  observation.claims = ClaimsFor(vmi->spec, ns);
  observation.data_volumes = DataVolumesFor(vmi->spec, ns, observation.claims);
  observation.config = config_.launcher;
  // The nodes its pods are bound to. One absent from the cache may be new
  // and not yet seen (its pod would be force-deleted if it were taken for
  // gone): the apiserver decides, and only its NotFound means gone.
  observation.nodes.emplace();
  for (const Json& pod : observation.pods) {
    const std::string node = base::GetString(pod, "spec.nodeName");
    if (node.empty() || observation.nodes->contains(node)) continue;
    if (kube::ObjectPtr cached = nodes_.store().Get(node); cached != nullptr) {
      observation.nodes->emplace(node, NodeStateOf(*cached));
      continue;
    }
    auto live = client_->Get(kNodes, "", node);
    if (live.ok()) {
      observation.nodes->emplace(node, NodeStateOf(*live));
    } else if (!live.status().IsNotFound()) {
      return live.status().WithContext("get node " + node);
    }
  }
  observation.node_grace = config_.node_grace;
  observation.now = base::Clock::Real()->WallNow();
  observation.vmi = std::move(vmi).value();
  const VmiDecision decision = DecideVmi(observation);

  Json latest = *cached;
  if (decision.finalizers.has_value() || decision.spec.has_value()) {
    Json patch = Json::object();
    if (decision.finalizers.has_value()) {
      Json finalizers = Json::array();
      for (size_t i = 0; i < decision.finalizers->size(); ++i) {
        finalizers[i] = Json::string((*decision.finalizers)[i]);
      }
      patch["metadata"]["finalizers"] = finalizers;
    }
    // The defaulted spec only adds to what is there, which a merge patch
    // expresses exactly (lists are replaced whole, by their defaulted form).
    if (decision.spec.has_value()) patch["spec"] = api::ToJson(*decision.spec);
    patch["metadata"]["resourceVersion"] = Json::string(base::ResourceVersionOf(latest));
    auto patched = client_->Patch(kv::kVirtualMachineInstances, ns, base::NameOf(latest),
                                  kube::PatchType::kMerge, patch);
    if (!patched.ok()) return WriteFailed(latest, "update finalizers and spec", patched.status());
    written_.Wrote({api::kVirtualMachineInstanceKind, key}, base::ResourceVersionOf(latest));
    latest = std::move(patched).value();
  }
  if (decision.create_pod.has_value()) {
    // Before the pod, so no launcher pod of an External VMI is ever
    // evictable; the VMI owns the budget and takes it along when deleted.
    if (std::optional<Json> budget = RenderDisruptionBudget(observation.vmi)) {
      auto created = client_->Create(res::kPodDisruptionBudgets, ns, *budget);
      if (!created.ok() && !created.status().IsAlreadyExists()) {
        return WriteFailed(latest, "create PodDisruptionBudget " + base::NameOf(*budget),
                           created.status());
      }
    }
  }
  Status refused;
  if (Status pods = ApplyPodChanges(latest, {api::kVirtualMachineInstanceKind, key},
                                    decision.delete_pods, decision.create_pod, &refused);
      !pods.ok()) {
    return pods;
  }
  if (!refused.ok()) {
    // Sent again, the pod would be refused again: the VMI fails with the
    // apiserver's words instead of retrying (a VM's start back-off decides
    // when a new VMI tries again).
    const VmiDecision failed = RefusedPodDecision(
        observation.vmi, decision.status.value_or(observation.vmi.status), refused.message(),
        base::Clock::Real()->WallNow());
    Status written =
        WriteStatus(kv::kVirtualMachineInstances, key, api::ToJson(*failed.status), &latest);
    if (!written.ok()) return written;
    RecordEvents(latest, failed.events);
    return Status::Ok();
  }
  if (decision.status.has_value()) {
    Status written =
        WriteStatus(kv::kVirtualMachineInstances, key, api::ToJson(*decision.status), &latest);
    if (!written.ok()) return written;
  }
  RecordEvents(latest, decision.events);
  if (decision.requeue_after.has_value()) vmi_queue_.AddAfter(key, *decision.requeue_after);
  return Status::Ok();
}

}  // namespace vireo::controllers
