// ParseDuration: Go's spelling, the bare unit a flag documents, and the
// messages of what is refused.
#include "lib/base/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vireo::base {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(DurationTest, UnitsAndSums) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*ParseDuration("2m30s500ms"), milliseconds(150'500));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
}

TEST(DurationTest, BareNumberIsTheFlagsUnitOrRefused) {
  EXPECT_EQ(*ParseDuration("30", std::chrono::seconds(1)), milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("3", std::chrono::minutes(1)), milliseconds(180'000));
  EXPECT_EQ(*ParseDuration("0", std::chrono::minutes(1)), milliseconds(0));
  auto bare = ParseDuration("30");
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.status().code(), Code::kInvalid);
  EXPECT_THAT(bare.status().message(), HasSubstr("\"30\" has no unit"));
}

TEST(DurationTest, RefusedWithTheTextQuoted) {
  for (const char* text :
       {"", "m", "-5s", "-5", "1.5h", "5 s", "s5", "99999999999999h", "9999999999999", "1h-30m"}) {
    auto d = ParseDuration(text, std::chrono::seconds(1));
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.status().code(), Code::kInvalid);
    EXPECT_THAT(d.status().message(), HasSubstr("\"" + std::string(text) + "\""));
  }
  auto unit = ParseDuration("1d");
  ASSERT_FALSE(unit.ok());
  EXPECT_THAT(unit.status().message(), HasSubstr("unknown unit \"d\"; use ms, s, m or h"));
  EXPECT_THAT(ParseDuration("later").status().message(), HasSubstr("is not a duration"));
}

TEST(DurationTest, BoundIsAbout34Years) {
  EXPECT_TRUE(ParseDuration("300000h").ok());
  EXPECT_FALSE(ParseDuration("400000h").ok());
  EXPECT_FALSE(ParseDuration("200000h200000h").ok());
}

}  // namespace
}  // namespace vireo::base
