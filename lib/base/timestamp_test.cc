// Tests for Kubernetes timestamp text.
#include <gtest/gtest.h>

#include "lib/base/timestamp.h"

namespace vireo::base {
namespace {

TEST(TimestampTest, FormatsSecondsAndMicroseconds) {
  auto t = Clock::WallTime(std::chrono::seconds(1'795'462'380) + std::chrono::microseconds(123456));
  EXPECT_EQ(FormatTime(t), "2026-11-23T19:33:00Z");
  EXPECT_EQ(FormatMicroTime(t), "2026-11-23T19:33:00.123456Z");
}

TEST(TimestampTest, ParsesBothFormsAndOffsets) {
  auto t = ParseMicroTime("2026-11-23T19:33:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTime(*t), "2026-11-23T19:33:00Z");
  auto shifted = ParseMicroTime("2026-11-23T20:33:00.5+01:00");
  ASSERT_TRUE(shifted.has_value());
  EXPECT_EQ(FormatMicroTime(*shifted), "2026-11-23T19:33:00.500000Z");
  EXPECT_FALSE(ParseMicroTime("2026-11-23 19:33:00").has_value());
  EXPECT_FALSE(ParseMicroTime("").has_value());
}

}  // namespace
}  // namespace vireo::base
