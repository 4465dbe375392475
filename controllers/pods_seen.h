// What the VMI reconciler remembers of the launcher pods it made or saw
// while a VMI's status did not record one yet: its first status waits up to
// 3 s for Running (reconcile/vmi.h, "Writes"), and a pod that vanishes then
// must fail the VMI, not bring a second pod (VmiObservation::pod_seen).
// Memory only: a controller that starts, or takes over as leader, begins
// empty.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace vireo::controllers {

// Keyed by the VMI's cache key ("ns/name"), each entry for one VMI uid, so
// a VMI made again under the same name never inherits its predecessor's.
// Thread-safe.
class PodsSeen {
 public:
  // For one reconcile of VMI `key`/`uid`: whether a pod of it was made or
  // seen before (pod_seen). `recorded`: its status records a pod
  // (RecordsAPod), so the memory is dropped; `has_pods`: it has pods now,
  // which are remembered.
  bool Note(const std::string& key, const std::string& uid, bool recorded, bool has_pods);
  // A pod of VMI `key`/`uid` was just made (or found made).
  void Remember(const std::string& key, const std::string& uid);
  // VMI `key` is gone.
  void Forget(const std::string& key);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> uid_of_;  // GUARDED_BY(mu_)
};

}  // namespace vireo::controllers
