// The VMI reconciler's back-off for pods only the apiserver shows; see
// live_pod_rechecks.h.
#include "controllers/live_pod_rechecks.h"

#include <algorithm>

namespace vireo::controllers {

using base::Clock;

Clock::Duration LivePodRechecks::Next(const std::string& key, Clock::TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, first] = pending_.try_emplace(key, Recheck{kFirst, now + kFirst});
  Recheck& recheck = it->second;
  if (first) return recheck.wait;
  if (now < recheck.due) return recheck.due - now;
  recheck.wait = std::min<Clock::Duration>(recheck.wait * 2, kMost);
  recheck.due = now + recheck.wait;
  return recheck.wait;
}

void LivePodRechecks::Reset(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(key);
}

size_t LivePodRechecks::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace vireo::controllers
