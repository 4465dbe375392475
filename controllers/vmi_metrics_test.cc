// kubevirt_vmi_info and kubevirt_vmi_phase_count from cached VMIs.
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

TEST(VmiMetricsTest, PhaseCountPerNodeAndPhaseAsKubeVirtLabelsIt) {
  const Json a = Vmi("a", "Running", "n1", "fedora"), b = Vmi("b", "Running", "n1", "fedora"),
             c = Vmi("c", "Scheduling", "", ""), d = Vmi("d", "", "", "");
  const auto series = VmiPhaseCountSeries({&a, &b, &c, &d});
  const std::string running =
      R"(node="n1",phase="running",os="fedora",workload="<none>",flavor="<none>",)"
      R"(instance_type="<none>",preference="<none>")";
  ASSERT_TRUE(series.contains(running));
  EXPECT_EQ(series.at(running), 2);
  const std::string pending =
      R"(node="<none>",phase="pending",os="<none>",workload="<none>",flavor="<none>",)"
      R"(instance_type="<none>",preference="<none>")";
  ASSERT_TRUE(series.contains(pending));
  EXPECT_EQ(series.at(pending), 1);
  EXPECT_EQ(series.size(), 3u);

  const auto info = VmiInfoSeries({&a, &d});
  EXPECT_EQ(info.size(), 2u);
  EXPECT_TRUE(info.contains(
      R"(node="n1",namespace="ns",name="a",phase="running",os="fedora",workload="<none>",)"
      R"(flavor="<none>",instance_type="<none>",preference="<none>")"));
}

TEST(VmiMetricsTest, RenderedAsWholeLabelSets) {
  Metrics metrics;
  const Json a = Vmi("a", "Failed", "n2");
  metrics.AddGauge("kubevirt_vmi_phase_count", "VMIs.", kLabelSets,
                   [&a] { return VmiPhaseCountSeries({&a}); });
  EXPECT_THAT(metrics.Render(),
              HasSubstr("# TYPE kubevirt_vmi_phase_count gauge\nkubevirt_vmi_phase_count{node="
                        "\"n2\",phase=\"failed\",os=\"<none>\",workload=\"<none>\",flavor="
                        "\"<none>\",instance_type=\"<none>\",preference=\"<none>\"} 1\n"));
}

}  // namespace
}  // namespace vireo::controllers
