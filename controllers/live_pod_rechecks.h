// How soon the VMI reconciler looks again at a VMI whose launcher pod only
// the apiserver shows (VmiReconciler::LivePodOf): the informer lags, or the
// pod left the launcher pods' label selector. No event of a pod the cache
// does not hold brings the VMI back, so it is requeued: after 10 s, each
// next time twice as late, at most every 2 min. A pod gone from the
// selector for good then costs one GET every 2 min for its guest's life,
// not one every 10 s; its end is seen at most that late.
// Memory only, like PodsSeen.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace vireo::controllers {

// Keyed by the VMI's cache key ("ns/name"). Thread-safe.
class LivePodRechecks {
 public:
  static constexpr std::chrono::seconds kFirst{10};
  static constexpr std::chrono::seconds kMost{120};

  // VMI `key`'s pod was found only by asking the apiserver: how long until
  // it is looked at again.
  std::chrono::seconds Next(const std::string& key);
  // VMI `key`'s pod is in the cache again, or gone, or the VMI is: the next
  // Next starts again from kFirst.
  void Reset(const std::string& key);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::seconds> last_;  // GUARDED_BY(mu_)
};

}  // namespace vireo::controllers
