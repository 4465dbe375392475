// The worker loop every controller needs, written once: keys from a
// reconciler's WorkQueue go to its reconcile(key); success forgets the key's
// backoff, failure requeues it rate-limited (the contract in README.md).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/status.h"
#include "lib/kube/workqueue.h"

namespace vireo::kube {

// One reconcile(key); an error requeues the key with backoff.
using ReconcileFunction = std::function<base::Status(const std::string& key)>;

// Told after every reconcile: which reconciler, how long it took, whether it
// failed (for metrics; called on the worker's thread).
using ReconcileObserver =
    std::function<void(const std::string& name, std::chrono::duration<double> took, bool failed)>;

// Takes keys from `queue` until it shuts down: Get → reconcile → Forget on
// success or AddRateLimited on failure → Done. One worker thread's body.
void RunWorker(WorkQueue* queue, const std::string& name, const ReconcileFunction& reconcile,
               const ReconcileObserver& observe = nullptr);

// Runs registered reconcilers, each with its own queue and worker count.
// Lifecycle: Register (any number) → Start → Stop. Stop shuts every queue
// down with drain (reconciles in flight finish, queued keys are dropped), so
// a runner starts at most once. Thread-safe.
class ControllerRunner {
 public:
  struct Registration {
    std::string name;  // "vm": for logs and the observer
    WorkQueue* queue;  // owned by the reconciler; its handlers Add to it
    ReconcileFunction reconcile;
    int workers = 1;
  };

  explicit ControllerRunner(ReconcileObserver observe = nullptr);
  // Stops and joins.
  ~ControllerRunner();
  ControllerRunner(const ControllerRunner&) = delete;
  ControllerRunner& operator=(const ControllerRunner&) = delete;

  // REQUIRES: before Start; `queue` outlives the runner's workers.
  void Register(Registration registration);
  // Starts every registration's workers; a second call does nothing.
  void Start();
  // Shuts down every queue, waits for the reconciles in flight, joins.
  void Stop();
  bool Running() const;

 private:
  const ReconcileObserver observe_;
  mutable std::mutex mu_;
  std::vector<Registration> registrations_;  // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;         // GUARDED_BY(mu_)
  bool started_ = false;                     // GUARDED_BY(mu_)
};

}  // namespace vireo::kube
