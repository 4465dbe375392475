// What the VMI decision reads from a launcher pod, pulled out of the core/v1
// Pod JSON once so the decision reads as plain fields.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controllers/reconcile/common.h"

namespace vireo::controllers::internal {

struct PodSummary {
  std::string name;
  std::string uid;
  std::string creation_timestamp;
  bool deleting = false;
  std::string created_by;      // kCreatedByLabel
  std::string controller_uid;  // uid of the controller owner reference

  std::string phase;   // Pending, Running, Succeeded, Failed, Unknown ("" when not yet set)
  std::string reason;  // status.reason, e.g. "Evicted"
  std::string message;
  std::string node_name;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  bool ready = false;  // the Ready condition is True

  // The DisruptionTarget condition when it is True: Kubernetes is about to
  // terminate the pod (taint eviction, pod GC, preemption, the eviction API).
  bool disruption_target = false;
  std::string disruption_reason;
  std::string disruption_message;

  // The PodScheduled condition when it is False.
  bool unschedulable = false;
  std::string scheduled_reason;
  std::string scheduled_message;

  // The launcher container (kLauncherContainer).
  std::string launcher_image;
  bool launcher_running = false;
  std::optional<int64_t> launcher_exit_code;
  std::string launcher_exit_reason;  // e.g. "Error", "OOMKilled"
  std::string launcher_exit_message;

  // The pod has the accel-probe init container (kAccelProbeContainer), and
  // its termination message once it ended well: "kvm: <why>" or "tcg: <why>".
  bool has_accel_probe = false;
  std::optional<std::string> accel_verdict;
  std::string accel_verdict_at;  // when the probe ended (its finishedAt)

  // An init container that ended in failure (the tools' copy, the kernel's).
  std::string failed_init_container;
  std::string failed_init_message;

  // The launcher container is ready (its own probe: the domain runs).
  bool launcher_ready = false;
  // Another regular container (a containerDisk's server, cd-<vol>) that
  // ended in failure.
  std::string failed_container;
  std::string failed_container_message;

  // Any container (init included) waiting on ErrImagePull / ImagePullBackOff.
  std::string image_pull_reason;
  std::string image_pull_message;
};

PodSummary SummarizePod(const Json& pod);

}  // namespace vireo::controllers::internal
