// The work queue between informers and reconcilers: string keys
// ("namespace/name"), each queued at most once, never handed to two workers
// at a time, retried with a per-key backoff under an overall rate limit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/base/clock.h"

namespace vireo::kube {

struct RateLimiterOptions {
  // Per key: base_delay doubled for every failure since the last Forget, at
  // most max_delay.
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1'000'000};
  // Over all keys: a token bucket refilled at qps, holding at most burst, so
  // that a mass failure cannot turn into a storm of retries. qps <= 0: off.
  double qps = 10;
  int burst = 100;
};

// The delay before a failed key is retried: the larger of its own
// exponential backoff and the token bucket's wait.
// Not thread-safe: WorkQueue calls it under its lock.
class RateLimiter {
 public:
  RateLimiter(RateLimiterOptions options, const base::Clock* clock);
  // Counts one more failure of `key` and says how long to wait.
  base::Clock::Duration When(const std::string& key);
  // The key succeeded: its backoff starts again from base_delay.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

 private:
  base::Clock::Duration KeyDelay(int failures) const;
  base::Clock::Duration BucketDelay();

  const RateLimiterOptions options_;
  const base::Clock* const clock_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;  // may go negative: reservations already handed out
  base::Clock::TimePoint refilled_at_;
};

struct WorkQueueOptions {
  RateLimiterOptions rate_limits;
  const base::Clock* clock = nullptr;  // nullptr: Clock::Real()
};

// A key Added while queued is queued once. A key handed out by Get is
// "processing" until Done: adding it meanwhile marks it dirty, and Done
// queues it again, so one key is never reconciled by two workers at once and
// no change is lost. Delayed adds wait on a timer thread of the queue's own.
//
// Worker loop:
//   while (auto key = queue.Get()) {
//     Status s = Reconcile(*key);
//     if (s.ok()) queue.Forget(*key); else queue.AddRateLimited(*key);
//     queue.Done(*key);
//   }
//
// Thread-safe.
class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  // Shuts down and joins the timer thread.
  // REQUIRES: no worker is still inside Get or Done.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // All adds are ignored once shutting down.
  void Add(const std::string& key);
  // Add for the key of an object just created: it is handed out before the
  // keys Add queued, so in a burst new objects get started ahead of the
  // updates (status work) that the starts before them cause. A key already
  // queued keeps its place; one being processed goes back as Add's at Done.
  void AddNew(const std::string& key);
  // Adds `key` once `delay` has passed. An earlier pending delayed add of the
  // same key wins over a later one.
  void AddAfter(const std::string& key, base::Clock::Duration delay);
  // AddAfter with the rate limiter's delay; counts a requeue.
  void AddRateLimited(const std::string& key);
  // Clears the key's backoff (not the key itself if queued).
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready, then marks it processing. nullopt once
  // shutting down, even with keys left queued.
  std::optional<std::string> Get();
  // The worker is finished with `key`; requeues it if it was added meanwhile.
  void Done(const std::string& key);
  // Keys ready for Get (not delayed, not processing).
  size_t Len() const;

  // Stops handing out keys; blocked Gets return nullopt.
  void ShutDown();
  // ShutDown, then waits until every key being processed is Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

 private:
  struct Delayed {
    base::Clock::TimePoint ready;
    uint64_t seq;  // keeps equal ready times in the order they were added
    std::string key;
    bool operator>(const Delayed& o) const {
      return ready != o.ready ? ready > o.ready : seq > o.seq;
    }
  };

  void AddLocked(const std::string& key, bool is_new = false);
  void AddAfterLocked(const std::string& key, base::Clock::Duration delay);
  void TimerLoop();

  const base::Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;            // a key was queued, or shutdown
  std::condition_variable timer_cv_;            // a delayed add arrived, or shutdown
  std::condition_variable idle_cv_;             // processing_ became empty
  bool shutting_down_ = false;                  // GUARDED_BY(mu_)
  std::deque<std::string> new_;                 // GUARDED_BY(mu_); AddNew's, before queue_
  std::deque<std::string> queue_;               // GUARDED_BY(mu_)
  std::unordered_set<std::string> dirty_;       // GUARDED_BY(mu_); queued or to requeue
  std::unordered_set<std::string> processing_;  // GUARDED_BY(mu_)
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_;  // GUARDED_BY(mu_)
  // The earliest pending ready time per delayed key; heap entries that do not
  // match it are stale and skipped.
  std::unordered_map<std::string, base::Clock::TimePoint> waiting_;  // GUARDED_BY(mu_)
  uint64_t next_seq_ = 0;                                            // GUARDED_BY(mu_)
  RateLimiter limiter_;                                              // GUARDED_BY(mu_)
  std::thread timer_;
};

}  // namespace vireo::kube
