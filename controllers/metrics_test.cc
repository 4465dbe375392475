// T0: the Prometheus text the controller's /metrics serves.
#include "controllers/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, ReconcilesCountedWithHistogram) {
  Metrics m;
  m.ObserveReconcile("vm", 0.002, false);
  m.ObserveReconcile("vm", 0.3, true);
  m.ObserveReconcile("vmi", 20, false);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE vireo_reconcile_total counter\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_total{controller=\"vm\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_total{controller=\"vmi\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_errors_total{controller=\"vm\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_errors_total{controller=\"vmi\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE vireo_reconcile_duration_seconds histogram\n"));
  // Buckets are cumulative: 0.002 s falls in le=0.0025, 0.3 s in le=0.5.
  EXPECT_THAT(
      text,
      HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vm\",le=\"0.001\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vm\",le=\"0.0025\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vm\",le=\"0.25\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vm\",le=\"0.5\"} 2\n"));
  EXPECT_THAT(
      text, HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vmi\",le=\"10\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr("vireo_reconcile_duration_seconds_bucket{controller=\"vmi\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_duration_seconds_count{controller=\"vm\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("vireo_reconcile_duration_seconds_sum{controller=\"vm\"} 0.302"));
}

TEST(MetricsTest, GaugesAreReadWhenRendered) {
  Metrics m;
  double depth = 3;
  m.AddGauge("vireo_workqueue_depth", "Keys waiting.", "queue", [&] {
    return std::map<std::string, double>{{"vm", depth}, {"vmi", 0}};
  });
  EXPECT_THAT(m.Render(), HasSubstr("vireo_workqueue_depth{queue=\"vm\"} 3\n"));
  depth = 5;
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE vireo_workqueue_depth gauge\n"));
  EXPECT_THAT(text, HasSubstr("vireo_workqueue_depth{queue=\"vm\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("vireo_workqueue_depth{queue=\"vmi\"} 0\n"));
}

TEST(MetricsTest, LeaderAndProcessMetrics) {
  Metrics m;
  EXPECT_THAT(m.Render(), HasSubstr("\nvireo_leader 0\n"));
  m.SetLeader(true);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("\nvireo_leader 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(text, Not(HasSubstr("process_resident_memory_bytes 0\n")));
  EXPECT_GT(ProcessResidentBytes(), 1e5);
  EXPECT_GE(ProcessCpuSeconds(), 0.0);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics m;
  m.AddGauge("g", "h", "l", [] { return std::map<std::string, double>{{"a\"b\\c\nd", 1}}; });
  EXPECT_THAT(m.Render(), HasSubstr("g{l=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace vireo::controllers
