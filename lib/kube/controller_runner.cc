// The worker loop of controller_runner.h.
#include "lib/kube/controller_runner.h"

namespace vireo::kube {

void RunWorker(WorkQueue* queue, const std::string& name, const ReconcileFunction& reconcile,
               const ReconcileObserver& observe) {
  while (auto key = queue->Get()) {
    const auto start = std::chrono::steady_clock::now();
    const base::Status status = reconcile(*key);
    if (observe) observe(name, std::chrono::steady_clock::now() - start, !status.ok());
    if (status.ok()) {
      queue->Forget(*key);
    } else {
      queue->AddRateLimited(*key);
    }
    queue->Done(*key);
  }
}

ControllerRunner::ControllerRunner(ReconcileObserver observe) : observe_(std::move(observe)) {}

ControllerRunner::~ControllerRunner() { Stop(); }

void ControllerRunner::Register(Registration registration) {
  std::lock_guard lock(mu_);
  registrations_.push_back(std::move(registration));
}

void ControllerRunner::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  for (const Registration& r : registrations_) {
    for (int i = 0; i < r.workers; ++i) {
      // A copy each: the workers never read registrations_ again.
      workers_.emplace_back([this, r] { RunWorker(r.queue, r.name, r.reconcile, observe_); });
    }
  }
}

void ControllerRunner::Stop() {
  std::vector<WorkQueue*> queues;
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    for (const Registration& r : registrations_) queues.push_back(r.queue);
    workers.swap(workers_);
  }
  // Outside the lock: a reconcile in flight may still ask Running().
  // Queues are shut down even if never started, so a runner runs once.
  for (WorkQueue* queue : queues) queue->ShutDownWithDrain();
  for (std::thread& t : workers) t.join();
}

bool ControllerRunner::Running() const {
  std::lock_guard lock(mu_);
  return !workers_.empty();
}

}  // namespace vireo::kube
