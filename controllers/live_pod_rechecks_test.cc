// LivePodRechecks: the VMI reconciler's back-off for pods only the
// apiserver shows (live_pod_rechecks.h).
#include "controllers/live_pod_rechecks.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using std::chrono::seconds;

TEST(LivePodRechecksTest, EachRecheckComesTwiceAsLateUpToTwoMinutes) {
  LivePodRechecks rechecks;
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(10));
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(20));
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(40));
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(80));
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(120));
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(120));
  // Another VMI's back-off is its own.
  EXPECT_EQ(rechecks.Next("ns/b"), seconds(10));
  EXPECT_EQ(rechecks.size(), 2u);
}

TEST(LivePodRechecksTest, AResetStartsAgainFromTenSeconds) {
  LivePodRechecks rechecks;
  rechecks.Next("ns/a");
  rechecks.Next("ns/a");
  rechecks.Next("ns/b");
  rechecks.Reset("ns/a");
  rechecks.Reset("ns/never");  // nothing to forget
  EXPECT_EQ(rechecks.size(), 1u);
  EXPECT_EQ(rechecks.Next("ns/a"), seconds(10));
  EXPECT_EQ(rechecks.Next("ns/b"), seconds(20));
}

}  // namespace
}  // namespace vireo::controllers
