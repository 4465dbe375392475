// Table-driven tests of the resource.Quantity parser.
#include "lib/api/quantity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace vireo::api {
namespace {

using ::testing::HasSubstr;

// Marks a row whose thousandths do not fit in int64.
constexpr int64_t kMilliOutOfRange = std::numeric_limits<int64_t>::min();

struct Good {
  const char* text;
  int64_t value;  // ParseQuantityValue
  int64_t milli;  // ParseQuantityMilli, or kMilliOutOfRange
};

class QuantityGoodTest : public ::testing::TestWithParam<Good> {};

TEST_P(QuantityGoodTest, Parses) {
  const Good& c = GetParam();
  base::Result<int64_t> value = ParseQuantityValue(c.text);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(*value, c.value) << c.text;
  base::Result<int64_t> milli = ParseQuantityMilli(c.text);
  if (c.milli == kMilliOutOfRange) {
    ASSERT_FALSE(milli.ok()) << c.text;
    EXPECT_THAT(milli.status().message(), HasSubstr("out of range"));
    return;
  }
  ASSERT_TRUE(milli.ok()) << milli.status().ToString();
  EXPECT_EQ(*milli, c.milli) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, QuantityGoodTest,
    ::testing::Values(
        // binary suffixes
        Good{"1Ki", 1024, 1024000}, Good{"128Mi", 134217728, 134217728000},
        Good{"1Gi", 1073741824, 1073741824000}, Good{"1.5Gi", 1610612736, 1610612736000},
        Good{"2Ti", 2199023255552, 2199023255552000},
        Good{"1Pi", 1125899906842624, 1125899906842624000},
        Good{"1Ei", 1152921504606846976, kMilliOutOfRange},
        // decimal suffixes
        Good{"1", 1, 1000}, Good{"64M", 64000000, 64000000000},
        Good{"1024M", 1024000000, 1024000000000}, Good{"1k", 1000, 1000000},
        Good{"2G", 2000000000, 2000000000000}, Good{"1T", 1000000000000, 1000000000000000},
        Good{"1P", 1000000000000000, 1000000000000000000}, Good{"500m", 1, 500},
        Good{"100m", 1, 100}, Good{"1500m", 2, 1500},
        // exponents; a lone E is exa
        Good{"1e3", 1000, 1000000}, Good{"1E3", 1000, 1000000}, Good{"1e-3", 1, 1},
        Good{"15e-1", 2, 1500}, Good{"1e+2", 100, 100000},
        Good{"2E", 2000000000000000000, kMilliOutOfRange},
        // number forms
        Good{"0", 0, 0}, Good{"0.0", 0, 0}, Good{"000Gi", 0, 0}, Good{".5", 1, 500},
        Good{"5.", 5, 5000}, Good{"+1Ki", 1024, 1024000}, Good{"-1Ki", -1024, -1024000},
        Good{"-500m", -1, -500}, Good{"0.1", 1, 100}, Good{"0.0001", 1, 1},
        Good{"9223372036854775807", std::numeric_limits<int64_t>::max(), kMilliOutOfRange},
        // 38 significant digits, the most kept exactly
        Good{"1.0000000000000000000000000000000000001", 2, 1001}));

class QuantityBadTest : public ::testing::TestWithParam<const char*> {};

TEST_P(QuantityBadTest, IsRejected) {
  base::Result<int64_t> value = ParseQuantityValue(GetParam());
  ASSERT_FALSE(value.ok()) << GetParam() << " parsed as " << *value;
  EXPECT_EQ(value.status().code(), base::Code::kInvalid);
  EXPECT_THAT(value.status().message(), HasSubstr(std::string("\"") + GetParam() + "\""));
}

INSTANTIATE_TEST_SUITE_P(Table, QuantityBadTest,
                         ::testing::Values("", " ", "Gi", "1GB", "1gi", "1K", "1 Gi", " 1Gi",
                                           "1Gi ", "1..5", "1.5.5", "abc", "1e", "1e+", "1e1.5",
                                           "0x10", "--1", "+-1", "1Mi2", "1ii", "1mi", "1e99999",
                                           "10Ei", "9223372036854775808", "-", ".", "1,5Gi"));

TEST(QuantityTest, MessagesSayWhatIsWrong) {
  EXPECT_THAT(ParseQuantityValue("1GB").status().message(), HasSubstr("unknown suffix \"GB\""));
  EXPECT_THAT(ParseQuantityValue("Gi").status().message(), HasSubstr("expected a number"));
  EXPECT_THAT(ParseQuantityValue("10Ei").status().message(), HasSubstr("out of range"));
  EXPECT_THAT(ParseQuantityValue("1.00000000000000000000000000000000000001").status().message(),
              HasSubstr("too many significant digits"));
}

TEST(QuantityTest, BytesIsValue) {
  EXPECT_EQ(*ParseQuantityBytes("1Gi"), 1073741824);
  EXPECT_EQ(*ParseQuantityBytes("2G"), 2000000000);
}

}  // namespace
}  // namespace vireo::api
