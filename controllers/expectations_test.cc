// T0: creation expectations hold an owner back until its child is observed,
// a failed create or the ttl releases it.
#include "controllers/expectations.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using std::chrono::seconds;

ObjectRef Vm(const std::string& key) { return {"VirtualMachine", key}; }
ObjectRef Vmi(const std::string& key) { return {"VirtualMachineInstance", key}; }
ObjectRef Pod(const std::string& key) { return {"Pod", key}; }

TEST(ExpectationsTest, SatisfiedOnceTheChildIsObserved) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  EXPECT_TRUE(e.Satisfied(Vmi("ns/vmi")));
  e.ExpectCreate(Vmi("ns/vmi"), Pod("ns/virt-launcher-vmi-abcde"));
  EXPECT_FALSE(e.Satisfied(Vmi("ns/vmi")));
  EXPECT_TRUE(e.Satisfied(Vmi("ns/other")));
  EXPECT_EQ(e.pending(), 1u);
  EXPECT_EQ(e.Observed(Pod("ns/unrelated")), std::nullopt);
  EXPECT_FALSE(e.Satisfied(Vmi("ns/vmi")));
  EXPECT_EQ(e.Observed(Pod("ns/virt-launcher-vmi-abcde")), Vmi("ns/vmi"));
  EXPECT_TRUE(e.Satisfied(Vmi("ns/vmi")));
  EXPECT_EQ(e.pending(), 0u);
  // A second observation (an update) expects nothing.
  EXPECT_EQ(e.Observed(Pod("ns/virt-launcher-vmi-abcde")), std::nullopt);
}

TEST(ExpectationsTest, AFailedCreateReleasesTheOwner) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate(Vm("ns/vm"), Vmi("ns/vm"));
  e.CreateFailed(Vm("ns/vm"), Vmi("ns/vm"));
  EXPECT_TRUE(e.Satisfied(Vm("ns/vm")));
  EXPECT_EQ(e.pending(), 0u);
}

TEST(ExpectationsTest, ExpiresAfterTheTtl) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate(Vmi("ns/vmi"), Pod("ns/pod"));
  clock.Advance(seconds(29));
  EXPECT_FALSE(e.Satisfied(Vmi("ns/vmi")));
  clock.Advance(seconds(1));
  EXPECT_TRUE(e.Satisfied(Vmi("ns/vmi")));
  EXPECT_EQ(e.pending(), 0u);
  // The late event is no longer attributed.
  EXPECT_EQ(e.Observed(Pod("ns/pod")), std::nullopt);
}

TEST(ExpectationsTest, ForgetDropsEverything) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate(Vmi("ns/vmi"), Pod("ns/a"));
  e.ExpectCreate(Vmi("ns/vmi"), Pod("ns/b"));
  EXPECT_EQ(e.Observed(Pod("ns/a")), Vmi("ns/vmi"));
  EXPECT_FALSE(e.Satisfied(Vmi("ns/vmi")));
  e.Forget(Vmi("ns/vmi"));
  EXPECT_TRUE(e.Satisfied(Vmi("ns/vmi")));
  EXPECT_EQ(e.Observed(Pod("ns/b")), std::nullopt);
}

TEST(WrittenVersionsTest, StaleUntilTheCacheMovesOn) {
  base::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "10"));
  w.Wrote(Vm("ns/vm"), "10");
  EXPECT_TRUE(w.IsStale(Vm("ns/vm"), "10"));
  EXPECT_FALSE(w.IsStale(Vm("ns/other"), "10"));
  // The cache shows our write (or a later one): fresh, and forgotten.
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "11"));
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "10"));
}

TEST(WrittenVersionsTest, StaleThroughEveryVersionOfAMultiStepApply) {
  base::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  w.Wrote(Vm("ns/vm"), "10");  // finalizer patch: 10 -> 11
  w.Wrote(Vm("ns/vm"), "11");  // status update: 11 -> 12
  EXPECT_TRUE(w.IsStale(Vm("ns/vm"), "10"));
  EXPECT_TRUE(w.IsStale(Vm("ns/vm"), "11"));
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "12"));
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "11"));
}

TEST(WrittenVersionsTest, ExpiresAfterTheTtl) {
  base::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  w.Wrote(Vm("ns/vm"), "10");
  clock.Advance(seconds(31));
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "10"));
  w.Wrote(Vm("ns/vm"), "12");
  w.Forget(Vm("ns/vm"));
  EXPECT_FALSE(w.IsStale(Vm("ns/vm"), "12"));
}

// A VM and its VMI share "ns/name"; the controller reconciles both at once.
// Each kind's bookkeeping must stay its own, whatever the interleaving.
TEST(ExpectationsTest, AVmAndItsVmiOfOneNameKeepTheirOwnExpectations) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  // The VM creates its VMI; meanwhile the VMI (seen at once) creates its pod.
  e.ExpectCreate(Vm("ns/x"), Vmi("ns/x"));
  e.ExpectCreate(Vmi("ns/x"), Pod("ns/virt-launcher-x-abcde"));
  EXPECT_EQ(e.pending(), 2u);
  // The VMI's own add event satisfies the VM, not the VMI.
  EXPECT_EQ(e.Observed(Vmi("ns/x")), Vm("ns/x"));
  EXPECT_TRUE(e.Satisfied(Vm("ns/x")));
  EXPECT_FALSE(e.Satisfied(Vmi("ns/x")));
  // A VM expecting nothing is never held back by its VMI's pod.
  e.ExpectCreate(Vm("ns/y"), Vmi("ns/y"));
  e.Observed(Vmi("ns/y"));
  e.ExpectCreate(Vmi("ns/y"), Pod("ns/virt-launcher-y-abcde"));
  EXPECT_TRUE(e.Satisfied(Vm("ns/y")));
  // The VMI gone from the cache forgets only the VMI's expectations.
  e.ExpectCreate(Vm("ns/z"), Vmi("ns/z"));
  e.ExpectCreate(Vmi("ns/z"), Pod("ns/virt-launcher-z-abcde"));
  e.Forget(Vmi("ns/z"));
  EXPECT_FALSE(e.Satisfied(Vm("ns/z")));
  EXPECT_EQ(e.Observed(Pod("ns/virt-launcher-z-abcde")), std::nullopt);
  EXPECT_EQ(e.Observed(Vmi("ns/z")), Vm("ns/z"));
  // The VM's ttl starts with its own first create, not with the VMI's.
  e.ExpectCreate(Vmi("ns/w"), Pod("ns/virt-launcher-w-abcde"));
  clock.Advance(seconds(20));
  e.ExpectCreate(Vm("ns/w"), Vmi("ns/w"));
  clock.Advance(seconds(15));
  EXPECT_TRUE(e.Satisfied(Vmi("ns/w")));  // expired
  EXPECT_FALSE(e.Satisfied(Vm("ns/w")));  // 15 s only
}

// A child of one kind never answers for a child of another with the same key.
TEST(ExpectationsTest, ChildrenOfOneKeyAndTwoKindsAreDistinct) {
  base::FakeClock clock;
  Expectations e(seconds(30), &clock);
  e.ExpectCreate(Vm("ns/x"), Vmi("ns/x"));
  EXPECT_EQ(e.Observed(Pod("ns/x")), std::nullopt);
  EXPECT_FALSE(e.Satisfied(Vm("ns/x")));
}

TEST(WrittenVersionsTest, AVmAndItsVmiOfOneNameKeepTheirOwnWrites) {
  base::FakeClock clock;
  WrittenVersions w(seconds(30), &clock);
  w.Wrote(Vm("ns/x"), "10");   // the VM's status write replaced 10
  w.Wrote(Vmi("ns/x"), "20");  // the VMI's replaced 20
  // The VMI's cache moved on: that forgets the VMI's record only.
  EXPECT_FALSE(w.IsStale(Vmi("ns/x"), "21"));
  EXPECT_TRUE(w.IsStale(Vm("ns/x"), "10"));
  // Neither kind's version counts for the other.
  w.Wrote(Vmi("ns/x"), "30");
  EXPECT_FALSE(w.IsStale(Vm("ns/x"), "30"));  // the VM moved past 10: forgotten
  EXPECT_TRUE(w.IsStale(Vmi("ns/x"), "30"));
  // The VM gone forgets the VM only.
  w.Wrote(Vm("ns/x"), "40");
  w.Forget(Vm("ns/x"));
  EXPECT_FALSE(w.IsStale(Vm("ns/x"), "40"));
  EXPECT_TRUE(w.IsStale(Vmi("ns/x"), "30"));
}

}  // namespace
}  // namespace vireo::controllers
