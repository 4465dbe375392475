// Reads the launcher pod's fields the VMI decision needs.
#include "controllers/reconcile/pod_summary.h"

namespace vireo::controllers::internal {
namespace {

const Json* Field(const Json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return nullptr;
  return &object.at(key);
}

std::string StringField(const Json& object, const char* key) {
  const Json* v = Field(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

const Json* FindNamed(const Json* list, const std::string& name) {
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const Json& item : *list) {
    if (StringField(item, "name") == name) return &item;
  }
  return nullptr;
}

bool IsImagePullReason(const std::string& reason) {
  return reason == "ErrImagePull" || reason == "ImagePullBackOff";
}

// Records an image pull problem of one container status, the first one wins.
void NoteImagePull(const Json& container_status, PodSummary* out) {
  const Json* waiting = base::Find(container_status, "state.waiting");
  if (waiting == nullptr || !out->image_pull_reason.empty()) return;
  const std::string reason = StringField(*waiting, "reason");
  if (!IsImagePullReason(reason)) return;
  out->image_pull_reason = reason;
  out->image_pull_message = StringField(*waiting, "message");
}

}  // namespace

PodSummary SummarizePod(const Json& pod) {
  PodSummary out;
  out.name = base::NameOf(pod);
  out.uid = base::UidOf(pod);
  out.creation_timestamp = base::GetString(pod, "metadata.creationTimestamp");
  out.deleting = !base::GetString(pod, "metadata.deletionTimestamp").empty();
  if (const Json* labels = base::Find(pod, "metadata.labels")) {
    out.created_by = StringField(*labels, kCreatedByLabel);
  }
  if (const Json* owners = base::Find(pod, "metadata.ownerReferences");
      owners != nullptr && owners->is_array()) {
    for (const Json& owner : *owners) {
      const Json* controller = Field(owner, "controller");
      if (controller != nullptr && controller->is_boolean() && controller->get<bool>()) {
        out.controller_uid = StringField(owner, "uid");
      }
    }
  }
  out.node_name = base::GetString(pod, "spec.nodeName");
  if (const Json* launcher = FindNamed(base::Find(pod, "spec.containers"), kLauncherContainer)) {
    out.launcher_image = StringField(*launcher, "image");
  }
  out.has_accel_probe =
      FindNamed(base::Find(pod, "spec.initContainers"), kAccelProbeContainer) != nullptr;

  const Json* status = Field(pod, "status");
  if (status == nullptr) return out;
  out.phase = StringField(*status, "phase");
  out.reason = StringField(*status, "reason");
  out.message = StringField(*status, "message");
  out.pod_ip = StringField(*status, "podIP");
  if (const Json* ips = Field(*status, "podIPs"); ips != nullptr && ips->is_array()) {
    for (const Json& ip : *ips) {
      std::string text = StringField(ip, "ip");
      if (!text.empty()) out.pod_ips.push_back(std::move(text));
    }
  }
  if (out.pod_ips.empty() && !out.pod_ip.empty()) out.pod_ips.push_back(out.pod_ip);

  if (const Json* conditions = Field(*status, "conditions");
      conditions != nullptr && conditions->is_array()) {
    for (const Json& c : *conditions) {
      const std::string type = StringField(c, "type");
      const std::string value = StringField(c, "status");
      if (type == "Ready") out.ready = value == "True";
      if (type == "DisruptionTarget" && value == "True") {
        out.disruption_target = true;
        out.disruption_reason = StringField(c, "reason");
        out.disruption_message = StringField(c, "message");
      }
      if (type == "PodScheduled" && value == "False") {
        out.unschedulable = true;
        out.scheduled_reason = StringField(c, "reason");
        out.scheduled_message = StringField(c, "message");
      }
    }
  }

  if (const Json* launcher = FindNamed(Field(*status, "containerStatuses"), kLauncherContainer)) {
    out.launcher_running = base::Find(*launcher, "state.running") != nullptr;
    out.launcher_ready = base::GetBool(*launcher, "ready").value_or(false);
    if (const Json* ended = base::Find(*launcher, "state.terminated")) {
      out.launcher_exit_code = base::GetInt(*ended, "exitCode").value_or(-1);
      out.launcher_exit_reason = StringField(*ended, "reason");
      out.launcher_exit_message = StringField(*ended, "message");
    }
  }
  if (const Json* probe =
          FindNamed(Field(*status, "initContainerStatuses"), kAccelProbeContainer)) {
    const Json* ended = base::Find(*probe, "state.terminated");
    if (ended != nullptr && base::GetInt(*ended, "exitCode").value_or(-1) == 0) {
      out.accel_verdict = StringField(*ended, "message");
      out.accel_verdict_at = StringField(*ended, "finishedAt");
    }
  }
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const Json* statuses = Field(*status, list);
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const Json& cs : *statuses) {
      NoteImagePull(cs, &out);
      const Json* ended = base::Find(cs, "state.terminated");
      if (std::string(list) == "initContainerStatuses" && ended != nullptr &&
          base::GetInt(*ended, "exitCode").value_or(0) != 0 && out.failed_init_container.empty()) {
        out.failed_init_container = StringField(cs, "name");
        out.failed_init_message = StringField(*ended, "message");
      }
      if (std::string(list) == "containerStatuses" && ended != nullptr &&
          StringField(cs, "name") != kLauncherContainer &&
          base::GetInt(*ended, "exitCode").value_or(0) != 0 && out.failed_container.empty()) {
        out.failed_container = StringField(cs, "name");
        out.failed_container_message = StringField(*ended, "message");
        if (out.failed_container_message.empty()) {
          out.failed_container_message = StringField(*ended, "reason");
        }
      }
    }
  }
  return out;
}

}  // namespace vireo::controllers::internal
