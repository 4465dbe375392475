// T0: the worker loop against a real WorkQueue: a failing key comes back
// with backoff until it succeeds and its backoff is forgotten then; one key
// is never in two reconciles at once; Stop waits for the reconcile in
// flight and ends every worker.
#include "lib/kube/controller_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

namespace vireo::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

WorkQueueOptions Fast() {
  WorkQueueOptions options;
  options.rate_limits.base_delay = milliseconds(1);
  options.rate_limits.max_delay = milliseconds(20);
  options.rate_limits.qps = 0;
  return options;
}

// Waits (at most 30 s) until `done` holds under `mu`.
template <typename Pred>
bool WaitFor(std::mutex& mu, std::condition_variable& cv, Pred done) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, seconds(30), done);
}

TEST(ControllerRunnerTest, FailingKeyIsRetriedUntilItSucceedsThenForgotten) {
  WorkQueue queue(Fast());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> observed_failed;  // GUARDED_BY(mu)
  int calls = 0;                      // GUARDED_BY(mu)
  ControllerRunner runner(
      [&](const std::string& name, std::chrono::duration<double> took, bool failed) {
        EXPECT_EQ(name, "vm");
        EXPECT_GE(took.count(), 0);
        std::lock_guard lock(mu);
        observed_failed.push_back(failed);
        cv.notify_all();
      });
  runner.Register({"vm", &queue,
                   [&](const std::string& key) {
                     EXPECT_EQ(key, "ns/a");
                     std::lock_guard lock(mu);
                     ++calls;
                     return calls <= 2 ? base::Status(base::Code::kConflict, "stale cache")
                                       : base::Status::Ok();
                   },
                   2});
  runner.Start();
  EXPECT_TRUE(runner.Running());
  queue.Add("ns/a");
  ASSERT_TRUE(WaitFor(mu, cv, [&] { return observed_failed.size() == 3; }))
      << "the key was not retried until it succeeded";
  // Nothing brings it back once it succeeded.
  std::this_thread::sleep_for(milliseconds(50));
  runner.Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(observed_failed, (std::vector<bool>{true, true, false}));
  EXPECT_EQ(queue.NumRequeues("ns/a"), 0) << "success forgets the key's backoff";
}

TEST(ControllerRunnerTest, FailuresBackOffPerKey) {
  WorkQueue queue(Fast());
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  ControllerRunner runner;
  runner.Register({"vmi", &queue, [&](const std::string&) {
                     std::lock_guard lock(mu);
                     ++calls;
                     cv.notify_all();
                     return base::Status(base::Code::kUnavailable, "apiserver down");
                   }});
  runner.Start();
  queue.Add("ns/b");
  ASSERT_TRUE(WaitFor(mu, cv, [&] { return calls >= 4; }));
  EXPECT_GE(queue.NumRequeues("ns/b"), 3) << "each failure counts one more requeue";
  runner.Stop();
}

TEST(ControllerRunnerTest, OneKeyIsNeverInTwoReconcilesAtOnce) {
  WorkQueue queue(Fast());
  std::atomic<int> in_flight{0}, most{0}, calls{0};
  ControllerRunner runner;
  runner.Register({"vm", &queue,
                   [&](const std::string&) {
                     int now = ++in_flight;
                     int seen = most.load();
                     while (now > seen && !most.compare_exchange_weak(seen, now)) {
                     }
                     std::this_thread::sleep_for(milliseconds(2));
                     --in_flight;
                     ++calls;
                     return base::Status::Ok();
                   },
                   4});
  runner.Start();
  for (int i = 0; i < 50; ++i) {
    queue.Add("ns/same");
    std::this_thread::sleep_for(milliseconds(1));
  }
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (queue.Len() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  runner.Stop();
  EXPECT_EQ(most.load(), 1);
  EXPECT_GE(calls.load(), 2) << "a key added while reconciled is reconciled again";
}

TEST(ControllerRunnerTest, StopWaitsForTheReconcileInFlightAndEndsTheWorkers) {
  WorkQueue vms(Fast()), vmis(Fast());
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> finished{false};
  std::atomic<int> vmi_calls{0};
  ControllerRunner runner;
  runner.Register({"vm", &vms,
                   [&](const std::string&) {
                     entered.set_value();
                     released.wait();
                     finished = true;
                     return base::Status::Ok();
                   },
                   3});
  runner.Register({"vmi", &vmis, [&](const std::string&) {
                     ++vmi_calls;
                     return base::Status::Ok();
                   }});
  runner.Start();
  runner.Start();  // a second Start starts nothing more
  vms.Add("ns/slow");
  ASSERT_EQ(entered.get_future().wait_for(seconds(30)), std::future_status::ready);
  auto stopped = std::async(std::launch::async, [&] { runner.Stop(); });
  EXPECT_EQ(stopped.wait_for(milliseconds(100)), std::future_status::timeout)
      << "Stop returned while a reconcile was in flight";
  release.set_value();
  ASSERT_EQ(stopped.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_TRUE(finished.load());
  EXPECT_FALSE(runner.Running());
  EXPECT_TRUE(vms.ShuttingDown());
  EXPECT_TRUE(vmis.ShuttingDown());
  vmis.Add("ns/late");
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(vmi_calls.load(), 0) << "no key is handed out after Stop";
}

}  // namespace
}  // namespace vireo::kube
