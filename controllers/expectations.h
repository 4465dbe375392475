// Creations the controller made but its informer caches have not shown yet.
// Without them, a reconcile that runs between a create and its watch event
// would see no child, and create a second one (or conclude the child
// vanished). A reconcile of an owner with outstanding expectations waits for
// the event instead; an expectation that is never met expires.
#pragma once

#include <compare>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "lib/base/clock.h"

namespace vireo::controllers {

// An object as the bookkeeping knows it: its kind and its cache key
// ("ns/name"). The key alone is not enough: a VM and its VMI share
// "ns/name" (so may a DataVolume, a claim or a pod), and one kind's
// reconcile must never satisfy, expire or forget the other's entries.
struct ObjectRef {
  std::string kind;  // "VirtualMachine", "VirtualMachineInstance", "Pod", ...
  std::string key;   // "ns/name"
  friend auto operator<=>(const ObjectRef&, const ObjectRef&) = default;
};

// Keyed by the owner and the child, each with its kind. Thread-safe.
class Expectations {
 public:
  explicit Expectations(base::Clock::Duration ttl, const base::Clock* clock = nullptr);

  // Call before creating `child` for `owner`.
  void ExpectCreate(const ObjectRef& owner, const ObjectRef& child);
  // The create failed: the child will never be observed.
  void CreateFailed(const ObjectRef& owner, const ObjectRef& child);
  // The informer showed `child` (added or updated). Returns the owner that
  // expected it, or nullopt if none did.
  std::optional<ObjectRef> Observed(const ObjectRef& child);

  // True when no creation of `owner` is outstanding, or the oldest has waited
  // longer than the ttl (its event was lost; look again).
  bool Satisfied(const ObjectRef& owner);
  // The owner is gone: drop whatever it expected.
  void Forget(const ObjectRef& owner);

  size_t pending() const;

 private:
  struct Pending {
    std::set<ObjectRef> children;
    base::Clock::TimePoint since;
  };

  const base::Clock::Duration ttl_;
  const base::Clock* const clock_;
  mutable std::mutex mu_;
  std::map<ObjectRef, Pending> by_owner_;    // GUARDED_BY(mu_)
  std::map<ObjectRef, ObjectRef> owner_of_;  // child -> owner; GUARDED_BY(mu_)
};

// The resourceVersions our own writes replaced. Until the informer shows a
// version of that object other than these, its cached copy is stale: a
// decision made from it would only meet a Conflict, so the reconcile waits
// for the event. (resourceVersions are opaque: only equality is used.)
// Thread-safe.
class WrittenVersions {
 public:
  explicit WrittenVersions(base::Clock::Duration ttl, const base::Clock* clock = nullptr);

  // A write of `key` succeeded; the object had `replaced_version` before it.
  // Several writes in a row each add the version they replaced.
  void Wrote(const ObjectRef& object, const std::string& replaced_version);
  // Whether `cached_version` of `object` is one we already replaced (and the
  // ttl has not passed since the last write). Forgets the object once the
  // cache moved past them.
  bool IsStale(const ObjectRef& object, const std::string& cached_version);
  void Forget(const ObjectRef& object);

 private:
  struct Written {
    std::set<std::string> replaced;
    base::Clock::TimePoint at;
  };
  const base::Clock::Duration ttl_;
  const base::Clock* const clock_;
  std::mutex mu_;
  std::map<ObjectRef, Written> written_;  // GUARDED_BY(mu_)
};

}  // namespace vireo::controllers
