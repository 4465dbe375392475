// T0: creation expectations hold an owner back until its child is observed,
// a failed create or the ttl releases it.
#include "controllers/expectations.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using std::chrono::seconds;

TEST(ExpectationsTest, SatisfiedOnceTheChildIsObserved) {
  kube::FakeClock clock;
  Expectations e(seconds(30), &clock);
  EXPECT_TRUE(e.Satisfied("ns/vmi"));
  e.ExpectCreate("ns/vmi", "ns/virt-launcher-vmi-abcde");
  EXPECT_FALSE(e.Satisfied("ns/vmi"));
  EXPECT_TRUE(e.Satisfied("ns/other"));
  EXPECT_EQ(e.pending(), 1u);
  EXPECT_EQ(e.Observed("ns/unrelated"), "");
  EXPECT_FALSE(e.Satisfied("ns/vmi"));
  EXPECT_EQ(e.Observed("ns/virt-launcher-vmi-abcde"), "ns/vmi");
  EXPECT_TRUE(e.Satisfied("ns/vmi"));
  EXPECT_EQ(e.pending(), 0u);
  // A second observation (an update) expects nothing.
  EXPECT_EQ(e.Observed("ns/virt-launcher-vmi-abcde"), "");
}

TEST(ExpectationsTest, AFailedCreateReleasesTheOwner) {
  kube::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate("ns/vm", "ns/vm");
  e.CreateFailed("ns/vm", "ns/vm");
  EXPECT_TRUE(e.Satisfied("ns/vm"));
  EXPECT_EQ(e.pending(), 0u);
}

TEST(ExpectationsTest, ExpiresAfterTheTtl) {
  kube::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate("ns/vmi", "ns/pod");
  clock.Advance(seconds(29));
  EXPECT_FALSE(e.Satisfied("ns/vmi"));
  clock.Advance(seconds(1));
  EXPECT_TRUE(e.Satisfied("ns/vmi"));
  EXPECT_EQ(e.pending(), 0u);
  // The late event is no longer attributed.
  EXPECT_EQ(e.Observed("ns/pod"), "");
}

TEST(ExpectationsTest, ForgetDropsEverything) {
  kube::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate("ns/vmi", "ns/a");
  e.ExpectCreate("ns/vmi", "ns/b");
  EXPECT_EQ(e.Observed("ns/a"), "ns/vmi");
  EXPECT_FALSE(e.Satisfied("ns/vmi"));
  e.Forget("ns/vmi");
  EXPECT_TRUE(e.Satisfied("ns/vmi"));
  EXPECT_EQ(e.Observed("ns/b"), "");
}

TEST(WrittenVersionsTest, StaleUntilTheCacheMovesOn) {
  kube::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  EXPECT_FALSE(w.IsStale("ns/vm", "10"));
  w.Wrote("ns/vm", "10");
  EXPECT_TRUE(w.IsStale("ns/vm", "10"));
  EXPECT_FALSE(w.IsStale("ns/other", "10"));
  // The cache shows our write (or a later one): fresh, and forgotten.
  EXPECT_FALSE(w.IsStale("ns/vm", "11"));
  EXPECT_FALSE(w.IsStale("ns/vm", "10"));
}

TEST(WrittenVersionsTest, StaleThroughEveryVersionOfAMultiStepApply) {
  kube::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  w.Wrote("ns/vm", "10");  // finalizer patch: 10 -> 11
  w.Wrote("ns/vm", "11");  // status update: 11 -> 12
  EXPECT_TRUE(w.IsStale("ns/vm", "10"));
  EXPECT_TRUE(w.IsStale("ns/vm", "11"));
  EXPECT_FALSE(w.IsStale("ns/vm", "12"));
  EXPECT_FALSE(w.IsStale("ns/vm", "11"));
}

TEST(WrittenVersionsTest, ExpiresAfterTheTtl) {
  kube::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  w.Wrote("ns/vm", "10");
  clock.Advance(seconds(31));
  EXPECT_FALSE(w.IsStale("ns/vm", "10"));
  w.Wrote("ns/vm", "12");
  w.Forget("ns/vm");
  EXPECT_FALSE(w.IsStale("ns/vm", "12"));
}

}  // namespace
}  // namespace vireo::controllers
