// DecideDataVolume: phases, conditions, retries; the claim and pod it
// renders are datavolume_pod.cc's.
#include "controllers/reconcile/datavolume.h"

#include <algorithm>
#include <string>
#include <utility>

#include "controllers/reconcile/conditions.h"
#include "lib/api/importer_pod.h"
#include "lib/base/timestamp.h"

namespace vireo::controllers {
namespace {

using api::DataVolumeSourceKind;
using base::Code;
using base::Result;
using base::Status;
namespace importer = api::importer;
namespace phase = api::dv_phase;
namespace cond = api::dv_condition;

bool ControlledBy(const Json& object, const std::string& uid) {
  const Json* owners = base::Find(object, "metadata.ownerReferences");
  if (owners == nullptr || !owners->is_array()) return false;
  return std::any_of(owners->begin(), owners->end(), [&](const Json& o) {
    return base::GetBool(o, "controller").value_or(false) && base::GetString(o, "uid") == uid;
  });
}

bool IsClone(const api::DataVolume& dv) {
  return dv.spec.source.kind == DataVolumeSourceKind::kPvc;
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
  const std::string pod_phase = base::GetString(pod, "status.phase");
  auto terminated = [](const Json& status) -> std::optional<Ended> {
    const Json* t = base::Find(status, "state.terminated");
    if (t == nullptr) return std::nullopt;
    Ended e;
    e.code = static_cast<int>(base::GetInt(*t, "exitCode").value_or(importer::kFailed));
    e.succeeded = e.code == 0;
    e.message = base::GetString(*t, "message");
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' ')) {
      e.message.pop_back();
    }
    if (e.message.empty()) e.message = base::GetString(*t, "reason");
    return e;
  };
  for (const char* list : {"status.initContainerStatuses", "status.containerStatuses"}) {
    const Json* statuses = base::Find(pod, list);
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const Json& status : *statuses) {
      const std::string name = base::GetString(status, "name");
      const std::string waiting = base::GetString(status, "state.waiting.reason");
      if (waiting == "ErrImagePull" || waiting == "ImagePullBackOff" ||
          waiting == "InvalidImageName" || waiting == "ErrImageNeverPull") {
        Ended e;
        e.code = waiting == "InvalidImageName" || waiting == "ErrImageNeverPull"
                     ? importer::kSourceNotFound
                     : importer::kSourceUnreachable;
        e.message = "image " + base::GetString(status, "image") + " cannot be pulled (" + waiting +
                    "): " + base::GetString(status, "state.waiting.message");
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
    e.message = "importer pod failed: " + base::GetString(pod, "status.reason") + " " +
                base::GetString(pod, "status.message");
    return e;
  }
  if (pod_phase == "Succeeded") return Ended{true, 0, ""};
  return std::nullopt;
}

bool Running(const Json& pod) {
  const Json* statuses = base::Find(pod, "status.containerStatuses");
  if (statuses == nullptr || !statuses->is_array()) return false;
  return std::any_of(statuses->begin(), statuses->end(), [](const Json& s) {
    return base::GetString(s, "name") == kImporterContainer &&
           base::Find(s, "state.running") != nullptr;
  });
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
    internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse, reason, message,
                           now);
    internal::SetCondition(&status.conditions, cond::kReady, internal::kFalse, reason, message,
                           now);
  };
  auto finish = [&] {
    if (api::ToJson(status) != api::ToJson(dv.status)) d.status = std::move(status);
    return std::move(d);
  };

  // Final: clean the pods up, never touch the claim.
  if (status.phase == phase::kSucceeded || status.phase == phase::kFailed) {
    for (const Json& pod : obs.pods) {
      if (base::Find(pod, "metadata.deletionTimestamp") != nullptr) continue;
      d.delete_pods.push_back({base::NameOf(pod), base::GetString(pod, "metadata.uid")});
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
      internal::SetCondition(&status.conditions, cond::kBound, internal::kFalse,
                             "StorageClassNotFound", message, now);
      return finish();
    }
    Result<Json> claim = RenderClaim(dv, obs.source_claim);
    if (!claim.ok()) {
      if (clone && !obs.source_claim.has_value()) {
        const std::string message =
            "source claim " + dv.spec.source.pvc_name + " not found; the clone waits for it";
        WarnOnce(dv.status, cond::kBound, "CloneSourceNotFound", message, &d);
        internal::SetCondition(&status.conditions, cond::kBound, internal::kFalse,
                               "CloneSourceNotFound", message, now);
        return finish();
      }
      WarnOnce(dv.status, cond::kRunning, "InvalidSpec", claim.status().message(), &d);
      fail("InvalidSpec", claim.status().message());
      return finish();
    }
    d.create_claim = std::move(*claim);
    internal::SetCondition(&status.conditions, cond::kBound, internal::kFalse, "Pending",
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
    internal::SetCondition(&status.conditions, cond::kBound, internal::kFalse, "ClaimNotOwned",
                           message, now);
    return finish();
  }
  status.claim_name = dv.metadata.name;
  const std::string claim_phase = base::GetString(claim, "status.phase");
  if (claim_phase == "Lost") {
    const std::string message = "claim " + dv.metadata.name + " lost its volume";
    WarnOnce(dv.status, cond::kBound, "ClaimLost", message, &d);
    internal::SetCondition(&status.conditions, cond::kBound, internal::kFalse, "ClaimLost", message,
                           now);
    fail("ClaimLost", message);
    return finish();
  }
  if (claim_phase == "Bound") {
    internal::SetCondition(&status.conditions, cond::kBound, internal::kTrue, "Bound",
                           "PVC " + dv.metadata.name + " Bound", now);
  } else {
    internal::SetCondition(
        &status.conditions, cond::kBound, internal::kFalse, "Pending",
        "PVC " + dv.metadata.name + " Pending (bound when the importer pod is scheduled)", now);
  }

  // One pod at a time: the newest decides; the others go.
  const Json* pod = nullptr;
  for (const Json& p : obs.pods) {
    if (base::Find(p, "metadata.deletionTimestamp") != nullptr) continue;
    if (base::NameOf(p) == ImporterPodName(dv.metadata.name) && pod == nullptr) {
      pod = &p;
    } else {
      d.delete_pods.push_back({base::NameOf(p), base::GetString(p, "metadata.uid")});
    }
  }
  const bool deleting_pods = std::any_of(obs.pods.begin(), obs.pods.end(), [](const Json& p) {
    return base::Find(p, "metadata.deletionTimestamp") != nullptr;
  });

  if (pod != nullptr) {
    const std::string pod_name = base::NameOf(*pod);
    const std::string pod_uid = base::GetString(*pod, "metadata.uid");
    std::optional<Ended> ended = EndOf(*pod);
    // A failed pod already counted (its deletion not yet in the cache):
    // its attempt label is behind restartCount.
    std::string attempt;
    if (const Json* labels = base::Find(*pod, "metadata.labels");
        labels != nullptr && labels->is_object() && labels->contains(kImporterAttemptLabel)) {
      attempt = labels->at(kImporterAttemptLabel).is_string()
                    ? labels->at(kImporterAttemptLabel).get<std::string>()
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
        internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse, "Completed",
                               message, now);
        internal::SetCondition(&status.conditions, cond::kReady, internal::kTrue, "", "", now);
        internal::SetCondition(&status.conditions, cond::kBound, internal::kTrue, "Bound",
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
        internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse, reason,
                               message, now);
        internal::SetCondition(&status.conditions, cond::kReady, internal::kFalse, reason, message,
                               now);
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
      internal::SetCondition(&status.conditions, cond::kRunning, internal::kTrue, "Pod is running",
                             "", now);
      d.requeue_after = obs.config.progress_interval;
    } else {
      status.phase = scheduled;
      internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse, "Pending",
                             "importer pod " + pod_name + " is not running yet", now);
    }
    internal::SetCondition(&status.conditions, cond::kReady, internal::kFalse, "", "", now);
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
      internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse,
                             "CloneSourceNotFound", message, now);
      return finish();
    }
    if (!obs.source_in_use_by.empty()) {
      const std::string message = "source claim " + dv.spec.source.pvc_name +
                                  " is in use by VirtualMachineInstance " + obs.source_in_use_by +
                                  "; the clone starts once it has stopped";
      WarnOnce(dv.status, cond::kRunning, "CloneSourceInUse", message, &d);
      status.phase = phase::kPending;
      internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse,
                             "CloneSourceInUse", message, now);
      return finish();
    }
  }

  // A retry waits its turn.
  if (status.restart_count > 0) {
    const api::Condition* running = api::FindCondition(dv.status.conditions, cond::kRunning);
    const auto failed_at =
        running != nullptr ? base::ParseMicroTime(running->last_transition_time) : std::nullopt;
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
  internal::SetCondition(&status.conditions, cond::kRunning, internal::kFalse, "Pending",
                         "importer pod " + ImporterPodName(dv.metadata.name) + " created", now);
  d.events.push_back({kube::EventType::kNormal, clone ? "CloneScheduled" : "ImportScheduled",
                      "Created importer pod " + ImporterPodName(dv.metadata.name)});
  return finish();
}

}  // namespace vireo::controllers
