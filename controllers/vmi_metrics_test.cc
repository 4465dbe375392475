// kubevirt_vmi_phase_count, counted as the VMI informer reports changes.
#include "controllers/vmi_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/metrics.h"

namespace vireo::controllers {
namespace {

using base::Json;
using ::testing::HasSubstr;

Json Vmi(const std::string& name, const std::string& phase, const std::string& node,
         const std::string& os = "") {
  std::string annotations =
      os.empty() ? "" : R"(, "annotations": {"vm.kubevirt.io/os": ")" + os + R"("})";
  std::string status =
      phase.empty() ? "{}" : R"({"phase": ")" + phase + R"(", "nodeName": ")" + node + R"("})";
  return Json::parse(R"({"metadata": {"name": ")" + name + R"(", "namespace": "ns")" + annotations +
                     R"(}, "status": )" + status + "}");
}

const std::string kRunningFedora =
    R"(node="n1",phase="running",os="fedora",workload="<none>",flavor="<none>",)"
    R"(instance_type="<none>",preference="<none>")";
const std::string kPending =
    R"(node="<none>",phase="pending",os="<none>",workload="<none>",flavor="<none>",)"
    R"(instance_type="<none>",preference="<none>")";

TEST(VmiPhaseCounterTest, CountsPerNodeAndPhaseAsKubeVirtLabelsThem) {
  VmiPhaseCounter counter;
  counter.Observe(Vmi("a", "Running", "n1", "fedora"));
  counter.Observe(Vmi("b", "Running", "n1", "fedora"));
  counter.Observe(Vmi("c", "", ""));
  auto series = counter.Series();
  EXPECT_EQ(series.size(), 2u);
  EXPECT_EQ(series[kRunningFedora], 2);
  EXPECT_EQ(series[kPending], 1);
}

TEST(VmiPhaseCounterTest, UpdatesMoveAVmiAndDeletesForgetIt) {
  VmiPhaseCounter counter;
  counter.Observe(Vmi("c", "", ""));
  counter.Observe(Vmi("a", "Running", "n1", "fedora"));
  counter.Observe(Vmi("a", "Running", "n1", "fedora"));  // unchanged: counted once
  counter.Observe(Vmi("c", "Running", "n1", "fedora"));  // Pending -> Running
  auto series = counter.Series();
  EXPECT_EQ(series.size(), 1u) << "a label set nobody counts under is dropped";
  EXPECT_EQ(series[kRunningFedora], 2);
  counter.Forget(Vmi("a", "Running", "n1", "fedora"));
  counter.Forget(Vmi("gone", "", ""));  // never seen: nothing
  EXPECT_EQ(counter.Series()[kRunningFedora], 1);
  counter.Forget(Vmi("c", "Running", "n1"));
  EXPECT_TRUE(counter.Series().empty());
}

TEST(VmiPhaseCounterTest, RenderedAsWholeLabelSets) {
  VmiPhaseCounter counter;
  counter.Observe(Vmi("a", "Failed", "n2"));
  Metrics metrics;
  metrics.AddGauge("kubevirt_vmi_phase_count", "VMIs.", kLabelSets,
                   [&counter] { return counter.Series(); });
  EXPECT_THAT(metrics.Render(),
              HasSubstr("# TYPE kubevirt_vmi_phase_count gauge\nkubevirt_vmi_phase_count{node="
                        "\"n2\",phase=\"failed\",os=\"<none>\",workload=\"<none>\",flavor="
                        "\"<none>\",instance_type=\"<none>\",preference=\"<none>\"} 1\n"));
}

}  // namespace
}  // namespace vireo::controllers
