// Tests of the budget an evictionStrategy: External VMI gets.
#include "controllers/reconcile/disruption_budget.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

api::VirtualMachineInstance Vmi(const std::string& strategy) {
  api::VirtualMachineInstance vmi;
  vmi.metadata.name = "db";
  vmi.metadata.namespace_ = "shop";
  vmi.metadata.uid = "1f0c7f5e-uid";
  vmi.spec.eviction_strategy = strategy;
  return vmi;
}

TEST(DisruptionBudgetTest, OnlyExternalGetsOne) {
  for (const char* strategy : {"", "None", "LiveMigrateIfPossible"}) {
    EXPECT_FALSE(RenderDisruptionBudget(Vmi(strategy)).has_value()) << strategy;
  }
  EXPECT_TRUE(RenderDisruptionBudget(Vmi("External")).has_value());
}

TEST(DisruptionBudgetTest, HoldsTheVmisLauncherPodsAndGoesWithTheVmi) {
  const base::Json pdb = *RenderDisruptionBudget(Vmi("External"));
  EXPECT_EQ(pdb.at("apiVersion").get<std::string>(), "policy/v1");
  EXPECT_EQ(pdb.at("metadata").at("name").get<std::string>(), "kubevirt-disruption-budget-db");
  EXPECT_EQ(pdb.at("metadata").at("namespace").get<std::string>(), "shop");
  EXPECT_EQ(pdb.at("spec").at("minAvailable").get<int>(), 1);
  EXPECT_EQ(pdb.at("spec")
                .at("selector")
                .at("matchLabels")
                .at("kubevirt.io/created-by")
                .get<std::string>(),
            "1f0c7f5e-uid");
  const base::Json& owner = pdb.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(owner.at("kind").get<std::string>(), "VirtualMachineInstance");
  EXPECT_EQ(owner.at("uid").get<std::string>(), "1f0c7f5e-uid");
  EXPECT_TRUE(owner.at("controller").get<bool>());
}

TEST(DisruptionBudgetTest, LongNamesStayADnsSubdomain) {
  const std::string name = DisruptionBudgetName(std::string(250, 'a'));
  EXPECT_EQ(name.size(), 253u);
  EXPECT_NE(name, DisruptionBudgetName(std::string(251, 'a')));
}

}  // namespace
}  // namespace vireo::controllers
