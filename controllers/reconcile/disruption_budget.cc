// The PodDisruptionBudget of an evictionStrategy: External VMI.
#include "controllers/reconcile/disruption_budget.h"

#include <cstdio>

#include "controllers/reconcile/common.h"
#include "controllers/reconcile/pod_json.h"

namespace vireo::controllers {

using base::Json;
using pod_json::Str;

namespace {
constexpr char kPrefix[] = "kubevirt-disruption-budget-";
constexpr size_t kMaxName = 253;  // a DNS subdomain
}  // namespace

std::string DisruptionBudgetName(const std::string& vmi_name) {
  std::string name = kPrefix + vmi_name;
  if (name.size() <= kMaxName) return name;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(pod_json::StableHash(vmi_name)));
  return name.substr(0, kMaxName - 9) + "-" + std::string(hash, 8);
}

std::optional<Json> RenderDisruptionBudget(const api::VirtualMachineInstance& vmi) {
  if (vmi.spec.eviction_strategy != "External") return std::nullopt;
  Json pdb = Json::object();
  pdb["apiVersion"] = Str("policy/v1");
  pdb["kind"] = Str("PodDisruptionBudget");
  pdb["metadata"]["name"] = Str(DisruptionBudgetName(vmi.metadata.name));
  pdb["metadata"]["namespace"] = Str(vmi.metadata.namespace_);
  pdb["metadata"]["labels"][kCreatedByLabel] = Str(vmi.metadata.uid);
  pdb["metadata"]["ownerReferences"] = pod_json::ControllerOwnerReferences(
      vmi.api_version.empty() ? api::kApiVersion : vmi.api_version,
      api::kVirtualMachineInstanceKind, vmi.metadata.name, vmi.metadata.uid);
  pdb["spec"]["minAvailable"] = Json(1);
  pdb["spec"]["selector"]["matchLabels"][kCreatedByLabel] = Str(vmi.metadata.uid);
  return pdb;
}

}  // namespace vireo::controllers
