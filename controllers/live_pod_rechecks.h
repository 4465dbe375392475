// How soon the VMI reconciler looks again at a VMI whose launcher pod only
// the apiserver shows (VmiReconciler::LivePodOf): the informer lags, or the
// pod left the launcher pods' label selector. No event of a pod the cache
// does not hold brings the VMI back, so it is requeued: 10 s after it was
// first found so, and each recheck after that twice as late as the one
// before, at most 2 min apart. Reconciles that other events bring in
// between move no recheck. A pod gone from the selector for good then
// costs one GET every 2 min for its guest's life, not one every 10 s; its
// end is seen at most that late.
// Memory only, like PodsSeen.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "lib/base/clock.h"

namespace vireo::controllers {

// Keyed by the VMI's cache key ("ns/name"). Thread-safe.
class LivePodRechecks {
 public:
  static constexpr std::chrono::seconds kFirst{10};
  static constexpr std::chrono::seconds kMost{120};

  // VMI `key`'s pod was found, at `now`, only by asking the apiserver: how
  // long until it is looked at again. Before the recheck asked for last
  // time is due, what is left of its wait.
  base::Clock::Duration Next(const std::string& key, base::Clock::TimePoint now);
  // VMI `key`'s pod is in the cache again, or gone, or the VMI is: the next
  // Next starts again from kFirst.
  void Reset(const std::string& key);
  size_t size() const;

 private:
  struct Recheck {
    base::Clock::Duration wait;
    base::Clock::TimePoint due;
  };
  mutable std::mutex mu_;
  std::map<std::string, Recheck> pending_;  // GUARDED_BY(mu_)
};

}  // namespace vireo::controllers
