// T1: evictionStrategy against the real apiserver's eviction API: External
// gets a PodDisruptionBudget the controller makes before the launcher pod,
// so evicting that pod is refused; None gets none and the pod is evicted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "lib/api/resources.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class ControllerEvictionTest : public ControllerTest {
 protected:
  // The VM `name` with this evictionStrategy, started; its launcher pod.
  Json StartWith(const std::string& name, const std::string& strategy) {
    Json vm = NewVm(name, "Always");
    vm["spec"]["template"]["spec"]["evictionStrategy"] = Json(strategy);
    auto created = admin_->Create(kv::kVirtualMachines, ns_, vm);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    Json vmi = WaitFor(
        kv::kVirtualMachineInstances, name, [](const Json&) { return true; }, "VMI made");
    return WaitForPod(base::UidOf(vmi));
  }

  // POST pods/<pod>/eviction, as `kubectl drain` does.
  base::Result<Json> Evict(const std::string& pod) {
    Json eviction = Json::object();
    eviction["apiVersion"] = Json("policy/v1");
    eviction["kind"] = Json("Eviction");
    eviction["metadata"]["name"] = Json(pod);
    eviction["metadata"]["namespace"] = Json(ns_);
    return admin_->Raw("POST", res::kPods.Path(ns_, pod, "eviction"), eviction);
  }
};

TEST_F(ControllerEvictionTest, ExternalHoldsTheDrainWithABudget) {
  const Json pod = StartWith("ext", "External");
  const std::string uid =
      pod.at("metadata").at("labels").at("kubevirt.io/created-by").get<std::string>();
  auto budget = admin_->Get(res::kPodDisruptionBudgets, ns_, "kubevirt-disruption-budget-ext");
  ASSERT_TRUE(budget.ok()) << "the budget exists before the pod: " << budget.status().ToString();
  EXPECT_EQ(base::GetInt(*budget, "spec.minAvailable"), 1);
  EXPECT_EQ(budget->at("spec")
                .at("selector")
                .at("matchLabels")
                .at("kubevirt.io/created-by")
                .get<std::string>(),
            uid);
  EXPECT_EQ(budget->at("metadata").at("ownerReferences").at(0).at("kind").get<std::string>(),
            "VirtualMachineInstance");
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  ASSERT_TRUE(kubelet_->SetRunning(base::NameOf(pod), "10.244.0.9").ok());

  auto evicted = Evict(base::NameOf(pod));
  ASSERT_FALSE(evicted.ok()) << "the eviction API evicted a pod its budget holds";
  EXPECT_EQ(evicted.status().http_status(), 429) << evicted.status().ToString();
  EXPECT_TRUE(Get(res::kPods, base::NameOf(pod)).has_value());
}

TEST_F(ControllerEvictionTest, NoneLetsTheDrainEvict) {
  const Json pod = StartWith("none", "None");
  EXPECT_FALSE(
      admin_->Get(res::kPodDisruptionBudgets, ns_, "kubevirt-disruption-budget-none").ok());
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  ASSERT_TRUE(kubelet_->SetRunning(base::NameOf(pod), "10.244.0.10").ok());
  auto evicted = Evict(base::NameOf(pod));
  EXPECT_TRUE(evicted.ok()) << evicted.status().ToString();
}

}  // namespace
}  // namespace vireo::testing
