// T0: the trimmer runs its trim on its period and stops when destroyed.
#include "controllers/memory_trim.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace vireo::controllers {
namespace {

using std::chrono::milliseconds;

TEST(MemoryTrimmerTest, TrimsEveryPeriodUntilDestroyed) {
  std::atomic<int> trims{0};
  {
    MemoryTrimmer trimmer(milliseconds(5), [&] { ++trims; });
    while (trims.load() < 3) std::this_thread::sleep_for(milliseconds(1));
  }
  const int at_destruction = trims.load();
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_EQ(trims.load(), at_destruction);
}

TEST(MemoryTrimmerTest, ALongPeriodDoesNotDelayDestruction) {
  std::atomic<int> trims{0};
  auto start = std::chrono::steady_clock::now();
  {
    MemoryTrimmer trimmer(std::chrono::hours(1), [&] { ++trims; });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(trims.load(), 0);
}

TEST(MemoryTrimmerTest, TrimNowRunsTheTrimOnTheCallersThread) {
  std::thread::id ran_on;
  MemoryTrimmer trimmer(std::chrono::hours(1), [&] { ran_on = std::this_thread::get_id(); });
  trimmer.TrimNow();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace vireo::controllers
