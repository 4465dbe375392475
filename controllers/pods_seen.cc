// What the VMI reconciler remembers of pods; see pods_seen.h.
#include "controllers/pods_seen.h"

namespace vireo::controllers {

bool PodsSeen::Note(const std::string& key, const std::string& uid, bool recorded, bool has_pods) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = uid_of_.find(key);
  // Another VMI of the same name: what was seen was its predecessor's.
  if (it != uid_of_.end() && it->second != uid) {
    uid_of_.erase(it);
    it = uid_of_.end();
  }
  if (recorded) {
    if (it != uid_of_.end()) uid_of_.erase(it);
    return false;
  }
  const bool seen = it != uid_of_.end();
  if (has_pods) uid_of_[key] = uid;
  return seen;
}

void PodsSeen::Remember(const std::string& key, const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  uid_of_[key] = uid;
}

void PodsSeen::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  uid_of_.erase(key);
}

size_t PodsSeen::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return uid_of_.size();
}

}  // namespace vireo::controllers
