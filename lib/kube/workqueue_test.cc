// T0: the work queue's guarantees and the rate limiter's arithmetic.
#include "lib/kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

namespace vireo::kube {

using base::Clock;
using base::FakeClock;

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Get, but a broken queue fails the test instead of hanging it.
std::optional<std::string> GetOrGiveUp(WorkQueue& queue) {
  auto got = std::async(std::launch::async, [&] { return queue.Get(); });
  if (got.wait_for(seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "Get still blocked after 30 s";
    queue.ShutDown();
  }
  return got.get();
}

RateLimiterOptions NoBucket() {
  RateLimiterOptions options;
  options.qps = 0;
  return options;
}

TEST(RateLimiterTest, BackoffDoublesPerFailureUpToTheCap) {
  FakeClock clock;
  RateLimiterOptions options = NoBucket();
  options.max_delay = milliseconds(40);
  RateLimiter limiter(options, &clock);
  std::vector<Clock::Duration> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(limiter.When("a"));
  EXPECT_EQ(delays,
            (std::vector<Clock::Duration>{milliseconds(5), milliseconds(10), milliseconds(20),
                                          milliseconds(40), milliseconds(40), milliseconds(40)}));
  EXPECT_EQ(limiter.NumRequeues("a"), 6);
  EXPECT_EQ(limiter.When("b"), milliseconds(5)) << "keys back off independently";
}

TEST(RateLimiterTest, DefaultCapHoldsAfterManyFailures) {
  FakeClock clock;
  RateLimiter limiter(NoBucket(), &clock);
  Clock::Duration last{};
  for (int i = 0; i < 2000; ++i) last = limiter.When("a");
  EXPECT_EQ(last, seconds(1000));
}

TEST(RateLimiterTest, ForgetRestartsTheBackoff) {
  FakeClock clock;
  RateLimiter limiter(NoBucket(), &clock);
  for (int i = 0; i < 5; ++i) (void)limiter.When("a");
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
}

TEST(RateLimiterTest, TokenBucketLimitsRetriesAcrossKeys) {
  FakeClock clock;
  RateLimiterOptions options;
  options.base_delay = milliseconds(1);
  options.qps = 10;
  options.burst = 2;
  RateLimiter limiter(options, &clock);
  // The burst goes at the keys' own pace; then one token per 100 ms.
  EXPECT_EQ(limiter.When("k1"), milliseconds(1));
  EXPECT_EQ(limiter.When("k2"), milliseconds(1));
  EXPECT_EQ(limiter.When("k3"), milliseconds(100));
  EXPECT_EQ(limiter.When("k4"), milliseconds(200));
  // A second refills 10 tokens, but the bucket holds 2 once the debt is paid.
  clock.Advance(seconds(1));
  EXPECT_EQ(limiter.When("k5"), milliseconds(1));
  EXPECT_EQ(limiter.When("k6"), milliseconds(1));
  EXPECT_EQ(limiter.When("k7"), milliseconds(100));
}

TEST(WorkQueueTest, AKeyIsQueuedOnceWhileWaiting) {
  WorkQueue queue;
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(GetOrGiveUp(queue), "a");
  EXPECT_EQ(GetOrGiveUp(queue), "b");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, NewKeysAreHandedOutBeforeUpdatesInTheirOwnOrder) {
  WorkQueue queue;
  queue.Add("update-1");
  queue.AddNew("new-1");
  queue.Add("update-2");
  queue.AddNew("new-2");
  queue.AddNew("update-1");  // already queued: keeps its place, not twice
  queue.Add("new-1");
  EXPECT_EQ(queue.Len(), 4u);
  EXPECT_EQ(GetOrGiveUp(queue), "new-1");
  EXPECT_EQ(GetOrGiveUp(queue), "new-2");
  EXPECT_EQ(GetOrGiveUp(queue), "update-1");
  // Added as new while being processed: back at Done, as an update.
  queue.AddNew("new-1");
  queue.Done("new-1");
  EXPECT_EQ(GetOrGiveUp(queue), "update-2");
  EXPECT_EQ(GetOrGiveUp(queue), "new-1");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, AKeyAddedWhileProcessingIsRequeuedOnDone) {
  WorkQueue queue;
  queue.Add("a");
  ASSERT_EQ(GetOrGiveUp(queue), "a");
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u) << "a key being processed must not be handed out again";
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(GetOrGiveUp(queue), "a");
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u) << "a key not re-added stays out after Done";
}

TEST(WorkQueueTest, ManyWorkersNeverProcessOneKeyAtOnceAndLoseNoAdd) {
  constexpr int kKeys = 5;
  constexpr int kWorkers = 8;
  WorkQueue queue;
  std::map<std::string, std::atomic<int>> in_flight;
  std::map<std::string, std::atomic<bool>> owed;  // added after the producers finished
  for (int k = 0; k < kKeys; ++k) {
    in_flight["key" + std::to_string(k)] = 0;
    owed["key" + std::to_string(k)] = false;
  }
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::mutex owed_mu;
  std::condition_variable owed_cv;

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        if (in_flight.at(*key).fetch_add(1) != 0) ++overlaps;
        // Clear the debt before the work, as a reconciler reads state first.
        bool was_owed = owed.at(*key).exchange(false);
        std::this_thread::yield();
        in_flight.at(*key).fetch_sub(1);
        ++processed;
        queue.Done(*key);
        if (was_owed) {
          std::lock_guard<std::mutex> l(owed_mu);
          owed_cv.notify_all();
        }
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 5000; ++i) queue.Add("key" + std::to_string((i + p) % kKeys));
    });
  }
  for (std::thread& t : producers) t.join();
  // Every key added from here on must be processed again, even if a worker
  // holds it right now.
  for (auto& [key, flag] : owed) {
    flag = true;
    queue.Add(key);
  }
  {
    std::unique_lock<std::mutex> l(owed_mu);
    bool all_paid = owed_cv.wait_for(l, seconds(30), [&] {
      for (auto& [key, flag] : owed) {
        if (flag) return false;
      }
      return true;
    });
    EXPECT_TRUE(all_paid) << "a key added during processing was never processed again";
  }
  queue.ShutDownWithDrain();
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), kKeys);
}

TEST(WorkQueueTest, DelayedAddsBecomeReadyInTimeOrder) {
  FakeClock clock;
  WorkQueueOptions options;
  options.clock = &clock;
  WorkQueue queue(options);
  queue.AddAfter("c", seconds(30));
  queue.AddAfter("a", seconds(10));
  queue.AddAfter("b", seconds(20));
  queue.AddAfter("d", seconds(50));
  queue.AddAfter("d", seconds(5));   // an earlier time wins
  queue.AddAfter("a", seconds(40));  // a later one does not postpone
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(seconds(25));
  EXPECT_EQ(GetOrGiveUp(queue), "d");
  EXPECT_EQ(GetOrGiveUp(queue), "a");
  EXPECT_EQ(GetOrGiveUp(queue), "b");
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(seconds(10));
  EXPECT_EQ(GetOrGiveUp(queue), "c");
  clock.Advance(seconds(100));  // the superseded entries of a and d fire no more
  queue.Add("marker");
  EXPECT_EQ(GetOrGiveUp(queue), "marker");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, AddRateLimitedWaitsTheLimitersDelay) {
  FakeClock clock;
  WorkQueueOptions options;
  options.clock = &clock;
  WorkQueue queue(options);
  queue.AddRateLimited("a");
  queue.AddRateLimited("a");  // 10 ms, later than the pending 5 ms
  EXPECT_EQ(queue.NumRequeues("a"), 2);
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(5));
  EXPECT_EQ(GetOrGiveUp(queue), "a");
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
  queue.Done("a");
}

TEST(WorkQueueTest, ShutDownUnblocksWaitingGetsAndRefusesAdds) {
  WorkQueue queue;
  auto waiting = std::async(std::launch::async, [&] { return queue.Get(); });
  queue.ShutDown();
  ASSERT_EQ(waiting.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), std::nullopt);
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_TRUE(queue.ShuttingDown());
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForKeysInFlight) {
  WorkQueue queue;
  queue.Add("a");
  ASSERT_EQ(GetOrGiveUp(queue), "a");
  std::atomic<bool> done_called{false};
  std::atomic<bool> returned_early{false};
  std::thread drainer([&] {
    queue.ShutDownWithDrain();
    if (!done_called) returned_early = true;
  });
  while (!queue.ShuttingDown()) std::this_thread::yield();
  done_called = true;
  queue.Done("a");
  drainer.join();
  EXPECT_FALSE(returned_early) << "ShutDownWithDrain returned while a key was processing";
}

}  // namespace
}  // namespace vireo::kube
