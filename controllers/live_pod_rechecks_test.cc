// LivePodRechecks: the VMI reconciler's back-off for pods only the
// apiserver shows (live_pod_rechecks.h).
#include "controllers/live_pod_rechecks.h"

#include <gtest/gtest.h>

namespace vireo::controllers {
namespace {

using base::Clock;
using std::chrono::seconds;

TEST(LivePodRechecksTest, EachRecheckComesTwiceAsLateUpToTwoMinutes) {
  LivePodRechecks rechecks;
  Clock::TimePoint now{};
  Clock::Duration wait = rechecks.Next("ns/a", now);
  EXPECT_EQ(wait, seconds(10));
  // Each recheck, when it comes, asks for the next one twice as late.
  for (int expected : {20, 40, 80, 120, 120}) {
    now += wait;
    wait = rechecks.Next("ns/a", now);
    EXPECT_EQ(wait, seconds(expected));
  }
  // Another VMI's back-off is its own.
  EXPECT_EQ(rechecks.Next("ns/b", now), seconds(10));
  EXPECT_EQ(rechecks.size(), 2u);
}

TEST(LivePodRechecksTest, ReconcilesBetweenRechecksMoveNothing) {
  LivePodRechecks rechecks;
  Clock::TimePoint now{};
  EXPECT_EQ(rechecks.Next("ns/a", now), seconds(10));
  // Other events bring the VMI back 3 s and 9 s later: the same recheck.
  EXPECT_EQ(rechecks.Next("ns/a", now + seconds(3)), seconds(7));
  EXPECT_EQ(rechecks.Next("ns/a", now + seconds(9)), seconds(1));
  // The recheck itself asks for the next, twice as late.
  EXPECT_EQ(rechecks.Next("ns/a", now + seconds(10)), seconds(20));
}

TEST(LivePodRechecksTest, AResetStartsAgainFromTenSeconds) {
  LivePodRechecks rechecks;
  Clock::TimePoint now{};
  rechecks.Next("ns/a", now);
  rechecks.Next("ns/a", now + seconds(10));
  rechecks.Next("ns/b", now);
  rechecks.Reset("ns/a");
  rechecks.Reset("ns/never");  // nothing to forget
  EXPECT_EQ(rechecks.size(), 1u);
  EXPECT_EQ(rechecks.Next("ns/a", now + seconds(11)), seconds(10));
  EXPECT_EQ(rechecks.Next("ns/b", now + seconds(11)), seconds(20));
}

}  // namespace
}  // namespace vireo::controllers
