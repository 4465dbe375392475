// The I/O half of the DataVolume reconciler; the pure half is
// reconcile/datavolume.h (DecideDataVolume, its claim and importer pod).
// Observe reads the shared caches (and a running importer's last log line)
// into a DataVolumeObservation, DecideDataVolume decides, Apply writes the
// decision in the order datavolume.h prescribes.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "controllers/applier.h"
#include "controllers/caches.h"
#include "controllers/reconcile/datavolume.h"
#include "lib/kube/workqueue.h"

namespace vireo::controllers {

// Thread-safe: Reconcile may run on several workers at once (never two on
// one key, the queue sees to that).
class DataVolumeReconciler {
 public:
  // Adds its handlers to `caches`: a DataVolume, its claim, its importer
  // pods, StorageClasses, and the VMIs a clone waits for. `caches` and
  // `applier` must outlive it.
  DataVolumeReconciler(Caches* caches, Applier* applier, ImporterConfig importer);

  kube::WorkQueue& queue() { return queue_; }
  // One DataVolume key: observe, decide, apply. An error requeues it.
  base::Status Reconcile(const std::string& key);

 private:
  DataVolumeObservation Observe(api::DataVolume dv, const std::string& key) const;
  base::Status Apply(const std::string& key, const DataVolumeDecision& decision, base::Json latest);
  // The StorageClass a claim of `dv` gets ("" : none) and whether it exists.
  std::pair<std::string, bool> StorageClassFor(const api::DataVolume& dv) const;
  // A VMI not yet ended in `ns` whose volumes use `claim` ("" : none).
  std::string VmiUsingClaim(const std::string& ns, const std::string& claim) const;
  // The last progress a running importer printed, read from its log.
  std::optional<std::string> ImportProgress(const std::string& ns, const std::string& pod) const;

  void AddHandlers();
  void EnqueueDataVolumesOfClaim(const base::Json& pvc);

  Caches* const caches_;
  Applier* const applier_;
  const ImporterConfig importer_;
  kube::WorkQueue queue_;
};

}  // namespace vireo::controllers
