// CDI's cdi.kubevirt.io/v1beta1 DataVolume, the subset Vireo supports
// (docs/datavolume.md): where a disk comes from (http, registry, blank, a
// clone of a claim), the claim to put it on (spec.storage or the older
// spec.pvc), and the status CDI reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::api {

inline constexpr char kCdiApiVersion[] = "cdi.kubevirt.io/v1beta1";
inline constexpr char kDataVolumeKind[] = "DataVolume";

// status.phase values (CDI's DataVolumePhase), as `kubectl get dv` shows them.
namespace dv_phase {
inline constexpr char kPending[] = "Pending";
inline constexpr char kPvcBound[] = "PVCBound";
inline constexpr char kImportScheduled[] = "ImportScheduled";
inline constexpr char kImportInProgress[] = "ImportInProgress";
inline constexpr char kCloneScheduled[] = "CloneScheduled";
inline constexpr char kCloneInProgress[] = "CloneInProgress";
inline constexpr char kSucceeded[] = "Succeeded";
inline constexpr char kFailed[] = "Failed";
}  // namespace dv_phase

// status.conditions types (CDI's).
namespace dv_condition {
inline constexpr char kBound[] = "Bound";
inline constexpr char kReady[] = "Ready";
inline constexpr char kRunning[] = "Running";
}  // namespace dv_condition

enum class DataVolumeSourceKind { kNone, kHttp, kRegistry, kBlank, kPvc };

struct DataVolumeSource {
  DataVolumeSourceKind kind = DataVolumeSourceKind::kNone;
  std::string url;            // http.url, registry.url ("docker://image")
  std::string pull_method;    // registry.pullMethod: "pod" (default) or "node"
  std::string pvc_namespace;  // pvc.namespace ("" : the DataVolume's)
  std::string pvc_name;       // pvc.name
};

struct DataVolumeSpec {
  DataVolumeSource source;
  // Which form sized the claim: spec.storage (CDI fills in defaults and
  // makes room for the filesystem's overhead) or spec.pvc (taken as written).
  bool storage_api = true;
  // spec.storage or spec.pvc as written (accessModes, volumeMode, resources,
  // storageClassName, selector, volumeName): the claim is made from it.
  Json claim;
  std::optional<std::string> storage_class_name;
  std::string volume_mode;   // "", "Filesystem" or "Block"
  Quantity storage_request;  // resources.requests.storage; may be empty (clone)
};

struct DataVolumeStatus {
  std::string phase;
  std::string progress;  // "45.20%", "N/A"
  int64_t restart_count = 0;
  std::string claim_name;
  std::vector<Condition> conditions;
  Json extra;
};

struct DataVolume {
  ObjectMeta metadata;
  DataVolumeSpec spec;
  DataVolumeStatus status;
};

// Decodes a DataVolume as the apiserver stored it (the CRD schema checked
// the fields already): kInvalid naming the field on a type mismatch or a
// spec without exactly one source or one of storage/pvc.
base::Result<DataVolume> DataVolumeFromJson(const Json& json);
Json ToJson(const DataVolumeStatus& status);

// The DataVolume names of a VMI spec's dataVolume volumes, in volume order,
// without repeats.
std::vector<std::string> DataVolumeNames(const VirtualMachineInstanceSpec& spec);

}  // namespace vireo::api
