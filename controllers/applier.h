// What every reconciler's I/O half shares: picking the cached object that is
// safe to decide on (expectations and our own writes, keyed by kind), and
// the writes that apply a decision (status, pod changes, Events) with one
// policy for failed writes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controllers/expectations.h"
#include "controllers/reconcile/common.h"
#include "lib/kube/client.h"
#include "lib/kube/events.h"
#include "lib/kube/informer.h"
#include "lib/kube/workqueue.h"

namespace vireo::controllers {

// Thread-safe (Expectations, WrittenVersions, Client and EventRecorder are).
class Applier {
 public:
  // `client` and `recorder` must outlive the applier. `expectation_ttl`: how
  // long a reconcile waits for the informer to show an object it created or
  // wrote before it looks again regardless.
  Applier(kube::Client* client, kube::EventRecorder* recorder,
          base::Clock::Duration expectation_ttl);

  kube::Client* client() const { return client_; }
  Expectations& expectations() { return expectations_; }

  // The cached object for `key` when it is time to reconcile it, else
  // nullptr: it is gone (expectations forgotten: the garbage collector
  // removes what it owned), our own last write has not reached the cache
  // (its event brings us back), or a create is still expected (requeued on
  // `queue`). `kind` keeps its bookkeeping apart from another kind's of the
  // same key.
  kube::ObjectPtr CachedForReconcile(const kube::Informer& informer, kube::WorkQueue& queue,
                                     const std::string& kind, const std::string& key);

  // One write of an apply step failed: the Status to return, after telling
  // people (a Warning Event on `object`, a log line) unless it is routine.
  // `what` starts with "update" for writes to `object` itself (then NotFound
  // means it is gone: Ok), "create" or "delete" for its children.
  base::Status WriteFailed(const base::Json& object, const std::string& what,
                           const base::Status& status);
  // Merge-patches `patch` (metadata.finalizers and what else the caller
  // put in) onto `*latest` guarded by its resourceVersion, notes the write
  // for CachedForReconcile and makes `*latest` the object returned.
  base::Status PatchObject(const kube::Resource& resource, const std::string& kind,
                           const std::string& key, base::Json patch, const std::string& what,
                           base::Json* latest);
  // PUTs `status` on `*latest` through the status subresource (guarded by
  // its resourceVersion), notes the write for CachedForReconcile and makes
  // `*latest` the object the apiserver returned.
  base::Status WriteStatus(const kube::Resource& resource, const std::string& key,
                           base::Json status, base::Json* latest);
  // A decision's pod deletions (uid preconditions; NotFound and Conflict
  // mean done) then its pod creation (AlreadyExists means done), for the
  // object `owner` known to the bookkeeping as `owner_ref`. With `refused`,
  // a create the apiserver refuses for good (IsPermanentRefusal) is no
  // error: its Status goes to *refused, for the caller to fail the owner.
  // With `created`, the pod the apiserver returned (null when none was made
  // here: no create, or AlreadyExists).
  base::Status ApplyPodChanges(const base::Json& owner, const ObjectRef& owner_ref,
                               const std::vector<Deletion>& delete_pods,
                               const std::optional<base::Json>& create_pod,
                               base::Status* refused = nullptr, base::Json* created = nullptr);
  void RecordEvents(const base::Json& object, const std::vector<Event>& events);
  // A Warning Event `reason` on an object no decision could be made for.
  void RecordInvalid(const base::Json& object, const std::string& reason,
                     const base::Status& status);

 private:
  kube::Client* const client_;
  kube::EventRecorder* const recorder_;
  const base::Clock::Duration expectation_ttl_;
  Expectations expectations_;
  WrittenVersions written_;
};

// metadata.finalizers as a JSON array, for a merge patch.
base::Json FinalizersJson(const std::vector<std::string>& finalizers);

}  // namespace vireo::controllers
