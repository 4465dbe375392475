// vireo-controller's composition: the shared informers (caches.h) built
// once, the three reconcilers (VM, VMI, DataVolume; each an I/O half here
// beside its pure half in reconcile/) added to them, and lib/kube's
// ControllerRunner running their workers. lib/kube/README.md has the
// contract; controllers/README.md the layout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "controllers/applier.h"
#include "controllers/caches.h"
#include "controllers/datavolume_reconciler.h"
#include "controllers/metrics.h"
#include "controllers/reconcile/launcher_pod.h"
#include "controllers/vm_reconciler.h"
#include "controllers/vmi_metrics.h"
#include "controllers/vmi_reconciler.h"
#include "lib/kube/client.h"
#include "lib/kube/controller_runner.h"
#include "lib/kube/events.h"

namespace vireo::controllers {

struct ControllerConfig {
  std::string namespace_name;  // "" : every namespace
  int workers = 16;            // per queue (the VM and VMI ones)
  LauncherConfig launcher;
  ImporterConfig importer;  // its image is the launcher's
  // How long a reconcile waits for the informer to show an object it
  // created or wrote before it looks again regardless.
  base::Clock::Duration expectation_ttl = std::chrono::seconds(30);
  // How long a VMI's node may stay Ready Unknown/False before it fails.
  std::chrono::seconds node_grace = kDefaultNodeGrace;
};

// Lifecycle: StartInformers → (WaitForSync) → StartWorkers (only the leader)
// → StopWorkers → StopInformers. Thread-safe: readiness and metrics from any
// thread; the lifecycle calls from one.
class Controller {
 public:
  // `client` and `recorder` and `metrics` must outlive the controller.
  Controller(kube::Client* client, kube::EventRecorder* recorder, Metrics* metrics,
             ControllerConfig config);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void StartInformers() { caches_.Start(); }
  bool HasSynced() const { return caches_.HasSynced(); }
  // Waits for every informer, at most `timeout`.
  bool WaitForSync(std::chrono::milliseconds timeout) const { return caches_.WaitForSync(timeout); }
  void StartWorkers() { runner_.Start(); }
  // Stops handing out keys and waits for the reconciles in flight to finish.
  void StopWorkers() { runner_.Stop(); }
  void StopInformers() { caches_.Stop(); }

 private:
  const ControllerConfig config_;
  Caches caches_;
  // kubevirt_vmi_phase_count, kept by the VMI informer's handlers.
  VmiPhaseCounter vmi_phases_;
  Applier applier_;
  VmReconciler vms_;
  VmiReconciler vmis_;
  DataVolumeReconciler data_volumes_;
  // Last: its workers stop before the reconcilers they call go.
  kube::ControllerRunner runner_;
};

}  // namespace vireo::controllers
