// DecideDataVolume, the claim and the importer pod it renders. The pod is
// the contract of lib/api/importer_pod.h (docs/importer-pod.md).
#include "controllers/reconcile/datavolume.h"

#include <algorithm>
#include <string>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/launcher_pod.h"
#include "controllers/reconcile/pod_json.h"
#include "lib/api/importer_pod.h"
#include "lib/api/quantity.h"
#include "lib/kube/timestamp.h"

namespace vireo::controllers {
namespace {

using namespace pod_json;  // NOLINT(google-build-using-namespace): the pod's JSON vocabulary
using api::DataVolumeSourceKind;
using kube::Code;
using kube::Result;
using kube::Status;
namespace importer = api::importer;
namespace phase = api::dv_phase;
namespace cond = api::dv_condition;

constexpr char kLauncherBinary[] = "vireo-launcher";
constexpr char kTargetVolume[] = "vireo-target";
constexpr char kSourceVolume[] = "vireo-source";
constexpr char kScratchVolume[] = "vireo-scratch";
constexpr char kToolsVolume[] = "vireo-tools";  // ToolsInitContainer's
constexpr char kImageVolume[] = "vireo-image";
// The importer runs as KubeVirt's and CDI's unprivileged user; fsGroup makes
// the claim and the scratch volume its own.
constexpr int64_t kImporterUid = 107;
constexpr char kTerminationMessagePolicy[] = "FallbackToLogsOnError";

Json OwnerReference(const api::DataVolume& dv) {
  Json owner = Json::object();
  owner["apiVersion"] = Str(api::kCdiApiVersion);
  owner["kind"] = Str(api::kDataVolumeKind);
  owner["name"] = Str(dv.metadata.name);
  owner["uid"] = Str(dv.metadata.uid);
  owner["controller"] = Json::boolean(true);
  owner["blockOwnerDeletion"] = Json::boolean(true);
  Json owners = Json::array(1);
  owners[0] = std::move(owner);
  return owners;
}

bool ControlledBy(const Json& object, const std::string& uid) {
  const Json* owners = kube::Find(object, "metadata.ownerReferences");
  if (owners == nullptr || !owners->is_array()) return false;
  return std::any_of(owners->as_array().begin(), owners->as_array().end(), [&](const Json& o) {
    return kube::GetBool(o, "controller").value_or(false) && kube::GetString(o, "uid") == uid;
  });
}

bool IsClone(const api::DataVolume& dv) {
  return dv.spec.source.kind == DataVolumeSourceKind::kPvc;
}

const char* SourceFlag(DataVolumeSourceKind kind) {
  switch (kind) {
    case DataVolumeSourceKind::kHttp:
      return importer::kSourceHttp;
    case DataVolumeSourceKind::kRegistry:
      return importer::kSourceRegistry;
    case DataVolumeSourceKind::kPvc:
      return importer::kSourcePvc;
    default:
      return importer::kSourceBlank;
  }
}

// "docker://host/image:tag" → "host/image:tag".
std::string ImageOf(const std::string& url) {
  constexpr std::string_view kScheme = "docker://";
  return url.starts_with(kScheme) ? url.substr(kScheme.size()) : url;
}

// The claim's size in bytes: its capacity once bound, else its request.
std::optional<int64_t> ClaimBytes(const Json& claim) {
  const ClaimInfo info = ClaimInfoOf(claim);
  for (const std::string& text : {info.capacity, info.request}) {
    if (text.empty()) continue;
    if (Result<int64_t> bytes = api::ParseQuantityBytes(text); bytes.ok()) return *bytes;
  }
  return std::nullopt;
}

struct Ended {
  bool succeeded = false;
  int code = importer::kFailed;
  std::string message;
};

// How an importer pod ended, if it did: its importer container's exit code
// and termination message; a failed copy-image init container is a source
// without a disk; an image that cannot be pulled ends it too (the kubelet
// would retry it forever).
std::optional<Ended> EndOf(const Json& pod) {
  const std::string pod_phase = kube::GetString(pod, "status.phase");
  auto terminated = [](const Json& status) -> std::optional<Ended> {
    const Json* t = kube::Find(status, "state.terminated");
    if (t == nullptr) return std::nullopt;
    Ended e;
    e.code = static_cast<int>(kube::GetInt(*t, "exitCode").value_or(importer::kFailed));
    e.succeeded = e.code == 0;
    e.message = kube::GetString(*t, "message");
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' ')) {
      e.message.pop_back();
    }
    if (e.message.empty()) e.message = kube::GetString(*t, "reason");
    return e;
  };
  for (const char* list : {"status.initContainerStatuses", "status.containerStatuses"}) {
    const Json* statuses = kube::Find(pod, list);
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const Json& status : statuses->as_array()) {
      const std::string name = kube::GetString(status, "name");
      const std::string waiting = kube::GetString(status, "state.waiting.reason");
      if (waiting == "ErrImagePull" || waiting == "ImagePullBackOff" ||
          waiting == "InvalidImageName" || waiting == "ErrImageNeverPull") {
        Ended e;
        e.code = waiting == "InvalidImageName" || waiting == "ErrImageNeverPull"
                     ? importer::kSourceNotFound
                     : importer::kSourceUnreachable;
        e.message = "image " + kube::GetString(status, "image") + " cannot be pulled (" + waiting +
                    "): " + kube::GetString(status, "state.waiting.message");
        return e;
      }
      std::optional<Ended> e = terminated(status);
      if (!e.has_value()) continue;
      if (name == kImageCopyContainer && !e->succeeded) {
        e->code = importer::kSourceNotFound;
        return e;
      }
      if (name == kImporterContainer) return e;
    }
  }
  if (pod_phase == "Failed") {
    Ended e;
    e.message = "importer pod failed: " + kube::GetString(pod, "status.reason") + " " +
                kube::GetString(pod, "status.message");
    return e;
  }
  if (pod_phase == "Succeeded") return Ended{true, 0, ""};
  return std::nullopt;
}

bool Running(const Json& pod) {
  const Json* statuses = kube::Find(pod, "status.containerStatuses");
  if (statuses == nullptr || !statuses->is_array()) return false;
  return std::any_of(statuses->as_array().begin(), statuses->as_array().end(), [](const Json& s) {
    return kube::GetString(s, "name") == kImporterContainer &&
           kube::Find(s, "state.running") != nullptr;
  });
}

// Sets a condition and, when it moves to a new reason, records the Event.
void Condition(api::DataVolumeStatus* status, std::string_view type, std::string_view value,
               std::string_view reason, std::string_view message, WallTime now) {
  internal::SetCondition(&status->conditions, type, value, reason, message, now);
}

void WarnOnce(const api::DataVolumeStatus& before, std::string_view type, std::string_view reason,
              const std::string& message, DataVolumeDecision* d) {
  const api::Condition* old = api::FindCondition(before.conditions, type);
  if (old != nullptr && old->reason == reason && old->message == message) return;
  d->events.push_back({kube::EventType::kWarning, std::string(reason), message});
}

std::chrono::seconds RetryDelay(const ImporterConfig& config, int64_t failures) {
  std::chrono::seconds delay = config.first_retry_delay;
  for (int64_t i = 1; i < failures && delay < std::chrono::seconds(300); ++i) delay *= 2;
  return delay;
}

}  // namespace

std::string ImporterPodName(const std::string& dv_name) {
  std::string name = "importer-" + dv_name;
  if (name.size() <= 63) return name;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(StableHash(dv_name)));
  return name.substr(0, 63 - 9) + "-" + std::string(hash, 8);
}

Result<Json> RenderClaim(const api::DataVolume& dv, const std::optional<Json>& source_claim) {
  Json spec = dv.spec.claim.is_object() ? dv.spec.claim : Json::object();
  std::string request = dv.spec.storage_request;
  bool inflate = dv.spec.storage_api && dv.spec.volume_mode != "Block";
  if (request.empty() && IsClone(dv) && source_claim.has_value()) {
    request = ClaimInfoOf(*source_claim).request;
    inflate = false;  // the source's claim already has the room
  }
  const std::string field = dv.spec.storage_api ? "spec.storage" : "spec.pvc";
  if (request.empty()) {
    return Status(Code::kInvalid, field + ".resources.requests.storage: the size is required");
  }
  Result<int64_t> bytes = api::ParseQuantityBytes(request);
  if (!bytes.ok()) {
    return Status(Code::kInvalid,
                  field + ".resources.requests.storage: " + bytes.status().message());
  }
  if (inflate) request = std::to_string(importer::ClaimBytesForDisk(*bytes));
  spec["resources"]["requests"]["storage"] = Str(request);
  if (dv.spec.storage_api) {
    if (!spec.has_field("accessModes") || spec.at("accessModes").size() == 0) {
      spec["accessModes"] = StringArray({"ReadWriteOnce"});
    }
    if (!spec.has_field("volumeMode")) spec["volumeMode"] = Str("Filesystem");
  }

  Json claim = Json::object();
  claim["apiVersion"] = Str("v1");
  claim["kind"] = Str("PersistentVolumeClaim");
  claim["metadata"]["name"] = Str(dv.metadata.name);
  claim["metadata"]["namespace"] = Str(dv.metadata.namespace_);
  claim["metadata"]["labels"][kImporterAppLabel] = Str(kImporterAppValue);
  for (const auto& [k, v] : dv.metadata.labels) claim["metadata"]["labels"][k] = Str(v);
  claim["metadata"]["ownerReferences"] = OwnerReference(dv);
  claim["spec"] = std::move(spec);
  return claim;
}

Result<Json> RenderImporterPod(const api::DataVolume& dv, const Json& claim,
                               const std::optional<Json>& source_claim,
                               const ImporterConfig& config) {
  const std::optional<int64_t> claim_bytes = ClaimBytes(claim);
  if (!claim_bytes.has_value()) {
    return Status(Code::kInvalid, "claim " + dv.metadata.name + " has no size");
  }
  const bool block = VolumeModeOf(claim) == VolumeMode::kBlock;
  Json volumes = Json::array();
  Json mounts = Json::array();
  Json devices = Json::array();
  Json init_containers = Json::array();

  Push(&volumes, ClaimVolume(kTargetVolume, dv.metadata.name, false));
  if (block) {
    Push(&devices, Device(kTargetVolume, importer::kTargetDevice));
  } else {
    Push(&mounts, Mount(kTargetVolume, importer::kTargetDir, false));
  }
  Push(&volumes, EmptyDirVolume(kScratchVolume));
  Push(&mounts, Mount(kScratchVolume, importer::kScratchDir, false));

  std::vector<std::string> command = {kLauncherBinary, "import",
                                      std::string("--source=") + SourceFlag(dv.spec.source.kind),
                                      "--claim-bytes=" + std::to_string(*claim_bytes)};
  bool source_block = false;
  switch (dv.spec.source.kind) {
    case DataVolumeSourceKind::kHttp:
      command.push_back("--url=" + dv.spec.source.url);
      break;
    case DataVolumeSourceKind::kRegistry: {
      // The containerDisk's file lands in its own emptyDir, which the
      // importer sees at kImageDir inside its scratch folder.
      Json resources = Json::object();
      resources["requests"]["cpu"] = Str("100m");
      resources["requests"]["memory"] = Str("64Mi");
      Push(&init_containers, ToolsInitContainer(config.image, config.image_pull_policy, resources));
      Push(&init_containers, ContainerDiskCopyContainer(
                                 kImageCopyContainer, ImageOf(dv.spec.source.url), "IfNotPresent",
                                 "", kImageVolume, importer::kImageDir, resources));
      Push(&volumes, EmptyDirVolume(kToolsVolume));
      Push(&volumes, EmptyDirVolume(kImageVolume));
      Push(&mounts, Mount(kImageVolume, importer::kImageDir, true));
      break;
    }
    case DataVolumeSourceKind::kPvc: {
      Push(&volumes, ClaimVolume(kSourceVolume, dv.spec.source.pvc_name, true));
      source_block = source_claim.has_value() && VolumeModeOf(*source_claim) == VolumeMode::kBlock;
      if (source_block) {
        Push(&devices, Device(kSourceVolume, importer::kSourceDevice));
      } else {
        Push(&mounts, Mount(kSourceVolume, importer::kSourceDir, true));
      }
      break;
    }
    default:
      break;
  }

  Json container = Json::object();
  container["name"] = Str(kImporterContainer);
  container["image"] = Str(config.image);
  container["imagePullPolicy"] = Str(config.image_pull_policy);
  Json args = Json::array();
  for (const std::string& part : command) Push(&args, Str(part));
  container["command"] = std::move(args);
  container["resources"]["requests"]["cpu"] = Str("100m");
  container["resources"]["requests"]["memory"] = Str("128Mi");
  container["resources"]["limits"]["memory"] = Str("1Gi");
  container["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
  container["securityContext"]["allowPrivilegeEscalation"] = Json::boolean(false);
  container["securityContext"]["capabilities"]["drop"] = StringArray({"ALL"});
  container["volumeMounts"] = std::move(mounts);
  if (devices.size() > 0) container["volumeDevices"] = std::move(devices);

  Json pod_spec = Json::object();
  pod_spec["automountServiceAccountToken"] = Json::boolean(false);
  pod_spec["enableServiceLinks"] = Json::boolean(false);
  pod_spec["restartPolicy"] = Str("Never");
  pod_spec["terminationGracePeriodSeconds"] = Json::number(5);
  // Block devices are the kubelet's root:disk, which fsGroup does not
  // reach: an import onto a block claim runs as the image's user (root),
  // still without capabilities.
  Json security = Json::object();
  security["seccompProfile"]["type"] = Str("RuntimeDefault");
  if (!block && !source_block) {
    security["runAsNonRoot"] = Json::boolean(true);
    security["runAsUser"] = Json::number(kImporterUid);
    security["runAsGroup"] = Json::number(kImporterUid);
    security["fsGroup"] = Json::number(kImporterUid);
  }
  pod_spec["securityContext"] = std::move(security);
  if (init_containers.size() > 0) {
    for (size_t i = 0; i < init_containers.size(); ++i) {
      init_containers[i]["securityContext"] = container["securityContext"];
    }
    pod_spec["initContainers"] = std::move(init_containers);
  }
  pod_spec["containers"] = Json::array(1);
  pod_spec["containers"][0] = std::move(container);
  pod_spec["volumes"] = std::move(volumes);

  Json pod = Json::object();
  pod["apiVersion"] = Str("v1");
  pod["kind"] = Str("Pod");
  pod["metadata"]["name"] = Str(ImporterPodName(dv.metadata.name));
  pod["metadata"]["namespace"] = Str(dv.metadata.namespace_);
  pod["metadata"]["labels"][kImporterAppLabel] = Str(kImporterAppValue);
  pod["metadata"]["labels"][kImporterForLabel] = Str(dv.metadata.uid);
  pod["metadata"]["labels"][kImporterAttemptLabel] = Str(std::to_string(dv.status.restart_count));
  pod["metadata"]["ownerReferences"] = OwnerReference(dv);
  pod["spec"] = std::move(pod_spec);
  return pod;
}

DataVolumeDecision DecideDataVolume(const DataVolumeObservation& obs) {
  DataVolumeDecision d;
  const api::DataVolume& dv = obs.dv;
  if (!dv.metadata.deletion_timestamp.empty()) return d;  // the garbage collector's now
  api::DataVolumeStatus status = dv.status;
  const WallTime now = obs.now;
  const bool clone = IsClone(dv);
  const char* scheduled = clone ? phase::kCloneScheduled : phase::kImportScheduled;
  const char* in_progress = clone ? phase::kCloneInProgress : phase::kImportInProgress;
  if (status.phase.empty()) status.phase = phase::kPending;
  if (status.progress.empty()) status.progress = "N/A";

  auto fail = [&](std::string_view reason, const std::string& message) {
    status.phase = phase::kFailed;
    Condition(&status, cond::kRunning, internal::kFalse, reason, message, now);
    Condition(&status, cond::kReady, internal::kFalse, reason, message, now);
  };
  auto finish = [&] {
    if (api::ToJson(status) != api::ToJson(dv.status)) d.status = std::move(status);
    return std::move(d);
  };

  // Final: clean the pods up, never touch the claim.
  if (status.phase == phase::kSucceeded || status.phase == phase::kFailed) {
    for (const Json& pod : obs.pods) {
      if (kube::Find(pod, "metadata.deletionTimestamp") != nullptr) continue;
      d.delete_pods.push_back({kube::NameOf(pod), kube::GetString(pod, "metadata.uid")});
    }
    return finish();
  }

  if (clone && !dv.spec.source.pvc_namespace.empty() &&
      dv.spec.source.pvc_namespace != dv.metadata.namespace_) {
    const std::string message = "spec.source.pvc.namespace " + dv.spec.source.pvc_namespace +
                                ": cloning from another namespace is not supported; clone "
                                "within " +
                                dv.metadata.namespace_;
    WarnOnce(dv.status, cond::kRunning, "CrossNamespaceClone", message, &d);
    fail("CrossNamespaceClone", message);
    return finish();
  }

  // The claim.
  if (!obs.claim.has_value()) {
    status.phase = phase::kPending;
    if (!obs.storage_class_exists) {
      const std::string message =
          obs.storage_class.empty()
              ? "spec names no storageClassName and the cluster has no default StorageClass; "
                "name one or mark one default"
              : "StorageClass " + obs.storage_class +
                    " not found; the claim is made once it exists";
      WarnOnce(dv.status, cond::kBound, "StorageClassNotFound", message, &d);
      Condition(&status, cond::kBound, internal::kFalse, "StorageClassNotFound", message, now);
      return finish();
    }
    Result<Json> claim = RenderClaim(dv, obs.source_claim);
    if (!claim.ok()) {
      if (clone && !obs.source_claim.has_value()) {
        const std::string message =
            "source claim " + dv.spec.source.pvc_name + " not found; the clone waits for it";
        WarnOnce(dv.status, cond::kBound, "CloneSourceNotFound", message, &d);
        Condition(&status, cond::kBound, internal::kFalse, "CloneSourceNotFound", message, now);
        return finish();
      }
      WarnOnce(dv.status, cond::kRunning, "InvalidSpec", claim.status().message(), &d);
      fail("InvalidSpec", claim.status().message());
      return finish();
    }
    d.create_claim = std::move(*claim);
    Condition(&status, cond::kBound, internal::kFalse, "Pending",
              "claim " + dv.metadata.name + " created", now);
    return finish();
  }
  const Json& claim = *obs.claim;
  if (!ControlledBy(claim, dv.metadata.uid)) {
    const std::string message = "PersistentVolumeClaim " + dv.metadata.name +
                                " exists and is not this DataVolume's; its data is left alone. "
                                "Delete it or give the DataVolume another name";
    WarnOnce(dv.status, cond::kBound, "ClaimNotOwned", message, &d);
    status.phase = phase::kPending;
    Condition(&status, cond::kBound, internal::kFalse, "ClaimNotOwned", message, now);
    return finish();
  }
  status.claim_name = dv.metadata.name;
  const std::string claim_phase = kube::GetString(claim, "status.phase");
  if (claim_phase == "Lost") {
    const std::string message = "claim " + dv.metadata.name + " lost its volume";
    WarnOnce(dv.status, cond::kBound, "ClaimLost", message, &d);
    Condition(&status, cond::kBound, internal::kFalse, "ClaimLost", message, now);
    fail("ClaimLost", message);
    return finish();
  }
  if (claim_phase == "Bound") {
    Condition(&status, cond::kBound, internal::kTrue, "Bound", "PVC " + dv.metadata.name + " Bound",
              now);
  } else {
    Condition(&status, cond::kBound, internal::kFalse, "Pending",
              "PVC " + dv.metadata.name + " Pending (bound when the importer pod is scheduled)",
              now);
  }

  // One pod at a time: the newest decides; the others go.
  const Json* pod = nullptr;
  for (const Json& p : obs.pods) {
    if (kube::Find(p, "metadata.deletionTimestamp") != nullptr) continue;
    if (kube::NameOf(p) == ImporterPodName(dv.metadata.name) && pod == nullptr) {
      pod = &p;
    } else {
      d.delete_pods.push_back({kube::NameOf(p), kube::GetString(p, "metadata.uid")});
    }
  }
  const bool deleting_pods = std::any_of(obs.pods.begin(), obs.pods.end(), [](const Json& p) {
    return kube::Find(p, "metadata.deletionTimestamp") != nullptr;
  });

  if (pod != nullptr) {
    const std::string pod_name = kube::NameOf(*pod);
    const std::string pod_uid = kube::GetString(*pod, "metadata.uid");
    std::optional<Ended> ended = EndOf(*pod);
    // A failed pod already counted (its deletion not yet in the cache):
    // its attempt label is behind restartCount.
    std::string attempt;
    if (const Json* labels = kube::Find(*pod, "metadata.labels");
        labels != nullptr && labels->is_object() && labels->has_field(kImporterAttemptLabel)) {
      attempt = labels->at(kImporterAttemptLabel).is_string()
                    ? labels->at(kImporterAttemptLabel).as_string()
                    : "";
    }
    if (ended.has_value() && !ended->succeeded && attempt != std::to_string(status.restart_count)) {
      d.delete_pods.push_back({pod_name, pod_uid});
      return finish();
    }
    if (ended.has_value()) {
      d.delete_pods.push_back({pod_name, pod_uid});
      if (ended->succeeded) {
        status.phase = phase::kSucceeded;
        status.progress = "100.0%";
        const std::string message = ended->message.empty()
                                        ? (clone ? "Clone Complete" : "Import Complete")
                                        : ended->message;
        Condition(&status, cond::kRunning, internal::kFalse, "Completed", message, now);
        Condition(&status, cond::kReady, internal::kTrue, "", "", now);
        Condition(&status, cond::kBound, internal::kTrue, "Bound",
                  "PVC " + dv.metadata.name + " Bound", now);
        d.events.push_back(
            {kube::EventType::kNormal, clone ? "CloneSucceeded" : "ImportSucceeded", message});
        return finish();
      }
      const std::string reason(importer::ReasonForExitCode(ended->code));
      status.restart_count += 1;
      const bool again =
          importer::IsTransient(ended->code) && status.restart_count < obs.config.attempts;
      std::string message = ended->message.empty() ? reason : ended->message;
      if (again) {
        const auto delay = RetryDelay(obs.config, status.restart_count);
        d.events.push_back({kube::EventType::kWarning, reason,
                            "attempt " + std::to_string(status.restart_count) + " of " +
                                std::to_string(obs.config.attempts) + " failed: " + message +
                                "; next in " + std::to_string(delay.count()) + " s"});
        status.phase = phase::kPending;
        // The failure's time is when the next attempt's delay starts.
        internal::RemoveCondition(&status.conditions, cond::kRunning);
        Condition(&status, cond::kRunning, internal::kFalse, reason, message, now);
        Condition(&status, cond::kReady, internal::kFalse, reason, message, now);
        d.requeue_after = delay;
      } else {
        d.events.push_back(
            {kube::EventType::kWarning, reason,
             message + (status.restart_count > 1
                            ? " (attempt " + std::to_string(status.restart_count) + ", no more)"
                            : "")});
        fail(reason, message);
      }
      return finish();
    }
    if (Running(*pod)) {
      status.phase = in_progress;
      if (obs.progress.has_value()) status.progress = *obs.progress;
      Condition(&status, cond::kRunning, internal::kTrue, "Pod is running", "", now);
      d.requeue_after = obs.config.progress_interval;
    } else {
      status.phase = scheduled;
      Condition(&status, cond::kRunning, internal::kFalse, "Pending",
                "importer pod " + pod_name + " is not running yet", now);
    }
    Condition(&status, cond::kReady, internal::kFalse, "", "", now);
    return finish();
  }
  if (deleting_pods) return finish();  // the old pod's volumes first

  // Clone: the source must exist and rest.
  if (clone) {
    if (!obs.source_claim.has_value()) {
      const std::string message =
          "source claim " + dv.spec.source.pvc_name + " not found; the clone waits for it";
      WarnOnce(dv.status, cond::kRunning, "CloneSourceNotFound", message, &d);
      status.phase = phase::kPending;
      Condition(&status, cond::kRunning, internal::kFalse, "CloneSourceNotFound", message, now);
      return finish();
    }
    if (!obs.source_in_use_by.empty()) {
      const std::string message = "source claim " + dv.spec.source.pvc_name +
                                  " is in use by VirtualMachineInstance " + obs.source_in_use_by +
                                  "; the clone starts once it has stopped";
      WarnOnce(dv.status, cond::kRunning, "CloneSourceInUse", message, &d);
      status.phase = phase::kPending;
      Condition(&status, cond::kRunning, internal::kFalse, "CloneSourceInUse", message, now);
      return finish();
    }
  }

  // A retry waits its turn.
  if (status.restart_count > 0) {
    const api::Condition* running = api::FindCondition(dv.status.conditions, cond::kRunning);
    const auto failed_at =
        running != nullptr ? kube::ParseMicroTime(running->last_transition_time) : std::nullopt;
    if (failed_at.has_value()) {
      const auto due = *failed_at + RetryDelay(obs.config, status.restart_count);
      if (now < due) {
        d.requeue_after = std::chrono::ceil<std::chrono::seconds>(due - now);
        return finish();
      }
    }
  }

  Result<Json> rendered = RenderImporterPod(dv, claim, obs.source_claim, obs.config);
  if (!rendered.ok()) {
    WarnOnce(dv.status, cond::kRunning, "InvalidSpec", rendered.status().message(), &d);
    fail("InvalidSpec", rendered.status().message());
    return finish();
  }
  d.create_pod = std::move(*rendered);
  status.phase = scheduled;
  Condition(&status, cond::kRunning, internal::kFalse, "Pending",
            "importer pod " + ImporterPodName(dv.metadata.name) + " created", now);
  d.events.push_back({kube::EventType::kNormal, clone ? "CloneScheduled" : "ImportScheduled",
                      "Created importer pod " + ImporterPodName(dv.metadata.name)});
  return finish();
}

}  // namespace vireo::controllers
