// The VMI reconciler's back-off for pods only the apiserver shows; see
// live_pod_rechecks.h.
#include "controllers/live_pod_rechecks.h"

#include <algorithm>

namespace vireo::controllers {

std::chrono::seconds LivePodRechecks::Next(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, first] = last_.try_emplace(key, kFirst);
  if (!first) it->second = std::min(it->second * 2, kMost);
  return it->second;
}

void LivePodRechecks::Reset(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  last_.erase(key);
}

size_t LivePodRechecks::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_.size();
}

}  // namespace vireo::controllers
