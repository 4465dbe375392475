// The DataVolume reconcile decision: from a DataVolume, its claim and its
// importer pod to the claim and pod it needs and the status CDI would show.
// Pure and level-triggered, like DecideVm and DecideVmi. docs/datavolume.md
// describes the behaviour for users; lib/api/importer_pod.h is the contract
// with `vireo-launcher import`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"
#include "lib/api/datavolume.h"

namespace vireo::controllers {

// On importer pods: CDI's app label, and the DataVolume's uid (labels hold
// at most 63 characters, which a name may exceed) for the informer's index.
inline constexpr char kImporterAppLabel[] = "app";
inline constexpr char kImporterAppValue[] = "containerized-data-importer";
inline constexpr char kImporterForLabel[] = "vireo.io/datavolume-uid";
// The DataVolume's status.restartCount when the pod was made: a failed pod
// is counted once, however often the decision sees it.
inline constexpr char kImporterAttemptLabel[] = "vireo.io/attempt";
// The importer pod's container, whose termination message says how the
// import ended.
inline constexpr char kImporterContainer[] = "importer";
// The registry source's init container, which copies the containerDisk's
// file into the pod's scratch volume.
inline constexpr char kImageCopyContainer[] = "copy-image";

struct ImporterConfig {
  std::string image;  // the launcher image: `vireo-launcher import` (required)
  std::string image_pull_policy = "IfNotPresent";
  // Importer pods one DataVolume gets when they fail in a way that may pass
  // (the source unreachable, an unexplained failure); a failure that will
  // not pass (a 404, a corrupt image, too large) ends it at once.
  int64_t attempts = 3;
  // Wait before attempt n+1: first_retry_delay × 2^(n−1).
  std::chrono::seconds first_retry_delay{10};
  // Look at a running import this often (its progress).
  std::chrono::seconds progress_interval{5};
};

struct DataVolumeObservation {
  api::DataVolume dv;
  // The claim named after the DataVolume in its namespace, if it exists
  // (the PVC cache's trimmed form: cache_trim.h).
  std::optional<Json> claim;
  // The importer pods of this DataVolume (labelled kImporterForLabel = uid).
  std::vector<Json> pods;
  // The StorageClass the claim would get: the one spec names, else the
  // cluster's default; "" when spec names none and there is no default.
  std::string storage_class;
  bool storage_class_exists = false;
  // source.pvc: the source claim (nullopt: missing) and a VMI not yet ended
  // that uses it ("" : none).
  std::optional<Json> source_claim;
  std::string source_in_use_by;
  // The last progress the running importer printed ("45.20%"), if read.
  std::optional<std::string> progress;
  ImporterConfig config;
  WallTime now;
};

struct DataVolumeDecision {
  std::optional<Json> create_claim;  // AlreadyExists: a lagging cache
  std::optional<Json> create_pod;    // AlreadyExists: a lagging cache
  std::vector<Deletion> delete_pods;
  // Through the status subresource; nullopt when unchanged.
  std::optional<api::DataVolumeStatus> status;
  std::vector<Event> events;
  std::optional<std::chrono::seconds> requeue_after;
};

// What to do for one DataVolume. Apply: create_claim, delete_pods,
// create_pod, status, then events.
//
// Phases (CDI's): Pending (no claim yet, or waiting for a StorageClass, a
// clone source, or a retry) → ImportScheduled / CloneScheduled (importer
// pod made, not running) → ImportInProgress / CloneInProgress (running;
// progress from its output) → Succeeded | Failed (final: the importer pod is
// deleted, the claim kept).
// Conditions: Bound (the claim's phase), Running (the importer pod; False
// with the failure's reason and the importer's own words), Ready (True once
// Succeeded). Every failure is a Warning Event naming the cause.
// Never writes to a claim it did not make: a claim of that name without
// this DataVolume as its controller leaves the DataVolume Pending with
// reason ClaimNotOwned.
DataVolumeDecision DecideDataVolume(const DataVolumeObservation& observation);

// The claim and pod renderings below live in datavolume_pod.cc.

// "importer-<name>", shortened with a hash of the name past 63 characters.
std::string ImporterPodName(const std::string& dv_name);

// The claim for `dv` (the PVC JSON, ready to POST): spec.pvc as written, or
// spec.storage with CDI's defaults (ReadWriteOnce, and room for the
// filesystem's overhead so disk.img gets the size asked for); a clone
// without a size takes the source claim's. kInvalid when no size is known.
base::Result<Json> RenderClaim(const api::DataVolume& dv, const std::optional<Json>& source_claim);

// The importer pod for `dv` on `claim` (see lib/api/importer_pod.h).
base::Result<Json> RenderImporterPod(const api::DataVolume& dv, const Json& claim,
                                     const std::optional<Json>& source_claim,
                                     const ImporterConfig& config);

}  // namespace vireo::controllers
