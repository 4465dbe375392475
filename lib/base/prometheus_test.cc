#include "lib/base/prometheus.h"

#include <gtest/gtest.h>

namespace vireo::base {
namespace {

TEST(PrometheusTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(PrometheusLabelValue("plain-1"), "plain-1");
  EXPECT_EQ(PrometheusLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(PrometheusLabel("name", "we\"b"), "name=\"we\\\"b\"");
}

}  // namespace
}  // namespace vireo::base
