// PodsSeen: what the VMI reconciler remembers of pods (pods_seen.h).
#include "controllers/pods_seen.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

TEST(PodsSeenTest, APodMadeOrSeenIsRememberedUntilTheStatusRecordsOne) {
  PodsSeen seen;
  EXPECT_FALSE(seen.Note("ns/a", "uid-a", false, false));  // nothing yet
  seen.Remember("ns/a", "uid-a");                          // the pod just made
  EXPECT_TRUE(seen.Note("ns/a", "uid-a", false, false));   // gone before the status
  EXPECT_FALSE(seen.Note("ns/b", "uid-b", false, true));   // b's pod, seen first
  EXPECT_TRUE(seen.Note("ns/b", "uid-b", false, false));
  // The status records a pod: the memory goes.
  EXPECT_FALSE(seen.Note("ns/a", "uid-a", true, true));
  EXPECT_FALSE(seen.Note("ns/a", "uid-a", false, false));
  EXPECT_EQ(seen.size(), 1u);
}

TEST(PodsSeenTest, AVmiMadeAgainUnderTheSameNameStartsAfresh) {
  PodsSeen seen;
  seen.Remember("ns/a", "uid-old");
  seen.Remember("ns/z", "uid-z");  // sorts after ns/a: must not be taken for it
  EXPECT_FALSE(seen.Note("ns/a", "uid-new", false, false));
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen.Note("ns/z", "uid-z", false, false)) << "another VMI's memory was dropped";
  seen.Remember("ns/m", "uid-old");
  EXPECT_FALSE(seen.Note("ns/m", "uid-new", true, false));
  EXPECT_TRUE(seen.Note("ns/z", "uid-z", false, false));
}

TEST(PodsSeenTest, AVmiGoneIsForgotten) {
  PodsSeen seen;
  seen.Remember("ns/a", "uid-a");
  seen.Forget("ns/a");
  seen.Forget("ns/never");
  EXPECT_FALSE(seen.Note("ns/a", "uid-a", false, false));
  EXPECT_EQ(seen.size(), 0u);
}

}  // namespace
}  // namespace vireo::controllers
