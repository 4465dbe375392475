// The VMI decision's test fixtures: a standalone VMI, its launcher pod in
// each state DecideVmi tells apart, and the observation of both.
#pragma once

#include <string>
#include <vector>

#include "controllers/reconcile/test_util.h"
#include "controllers/reconcile/vmi.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::controllers::testing {

enum class PodState {
  kPendingUnscheduled,
  kUnschedulable,
  kScheduled,
  kImagePull,
  kRunningNotReady,
  kRunningReady,
  kSucceeded,
  kFailed,
  kEvicted,
  kUnknown,
};

// A standalone VMI as DecideVmi sees it once defaulted and stored.
inline api::VirtualMachineInstance Vmi(api::VmiPhase phase = api::VmiPhase::kUnset) {
  api::VirtualMachineInstance vmi = testing::VmiOf(testing::Vm(api::RunStrategy::kAlways), phase);
  vmi.status.phase_transition_timestamps.clear();
  api::ApplyVmiDefaults(&vmi);
  return vmi;
}

inline Json Pod(const api::VirtualMachineInstance& vmi, PodState state, std::string name = "",
                const std::string& uid = "pod-uid-1") {
  if (name.empty()) name = LauncherPodName(vmi);
  std::string status;
  const std::string node = R"("nodeName": "node-1",)";
  std::string spec_node;
  auto launcher = [](const std::string& state_json, bool ready) {
    return std::string(R"("containerStatuses": [{"name": "compute", "ready": )") +
           (ready ? "true" : "false") + R"(, "state": )" + state_json + "}]";
  };
  switch (state) {
    case PodState::kPendingUnscheduled:
      status = R"("phase": "Pending")";
      break;
    case PodState::kUnschedulable:
      status = R"("phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
          "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient memory."}])";
      break;
    case PodState::kScheduled:
      spec_node = node;
      status = R"("phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}])";
      break;
    case PodState::kImagePull:
      spec_node = node;
      status = R"("phase": "Pending", "initContainerStatuses": [{"name": "cd-root", "ready": false,
          "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}])";
      break;
    case PodState::kRunningNotReady:
      spec_node = node;
      status =
          R"("phase": "Running", "podIP": "10.244.0.9", )" + launcher(R"({"running": {}})", false);
      break;
    case PodState::kRunningReady:
      spec_node = node;
      status = R"("phase": "Running", "podIP": "10.244.0.9",
          "podIPs": [{"ip": "10.244.0.9"}, {"ip": "fd00::9"}],
          "conditions": [{"type": "Ready", "status": "True"}], )" +
               launcher(R"({"running": {}})", true);
      break;
    case PodState::kSucceeded:
      spec_node = node;
      status = R"("phase": "Succeeded", )" +
               launcher(R"({"terminated": {"exitCode": 0, "reason": "Completed"}})", false);
      break;
    case PodState::kFailed:
      spec_node = node;
      status = R"("phase": "Failed", )" +
               launcher(R"({"terminated": {"exitCode": 3, "reason": "Error"}})", false);
      break;
    case PodState::kEvicted:
      spec_node = node;
      status = R"("phase": "Failed", "reason": "Evicted", "message": "low on memory")";
      break;
    case PodState::kUnknown:
      spec_node = node;
      status = R"("phase": "Unknown")";
      break;
  }
  return testing::ParseOrDie(R"({"metadata": {"name": ")" + name + R"(", "uid": ")" + uid +
                             R"(", "creationTimestamp": ")" + At(std::chrono::seconds(-60)) +
                             R"(", "labels": {"kubevirt.io/created-by": ")" + vmi.metadata.uid +
                             R"("}}, "spec": {)" + spec_node +
                             R"( "containers": [{"name": "compute", "image": "launcher:1"}]},
                             "status": {)" +
                             status + "}}");
}

inline VmiObservation Observe(const api::VirtualMachineInstance& vmi, std::vector<Json> pods = {}) {
  VmiObservation obs;
  obs.vmi = vmi;
  obs.pods = std::move(pods);
  obs.config.image = "launcher:1";
  obs.now = Now();
  return obs;
}

// A running pod whose accel-probe init container ended with `message`.
inline Json PodWithAccelVerdict(const api::VirtualMachineInstance& vmi, const std::string& message,
                                PodState state = PodState::kRunningReady) {
  Json pod = Pod(vmi, state);
  pod["spec"]["initContainers"] = testing::ParseOrDie(R"([{"name": "accel-probe"}])");
  Json statuses = base::JsonArray(1);
  statuses[0] = testing::ParseOrDie(R"({"name": "accel-probe", "ready": false,
      "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}})");
  statuses[0]["state"]["terminated"]["message"] = Json(message);
  pod["status"]["initContainerStatuses"] = statuses;
  return pod;
}

// Vmi() with a volume "data" from the DataVolume `name`, defaults applied.
inline api::VirtualMachineInstance VmiWithDataVolume(const std::string& name) {
  api::VirtualMachineInstance vmi = Vmi();
  api::Volume volume;
  volume.name = "data";
  volume.data_volume.emplace().name = name;
  vmi.spec.volumes.push_back(volume);
  api::ApplyVmiDefaults(&vmi);
  return vmi;
}

// The pod as the apiserver returns it from the create: a uid, no node yet,
// made `age` ago (a pod the apiserver returns from a create is new; an older
// one stands for a pod the scheduler has left unbound for a while).
inline Json Created(Json pod, std::chrono::seconds age = std::chrono::seconds(0)) {
  pod["metadata"]["uid"] = "6f1c0000-0000-4000-8000-0000000000a1";
  pod["metadata"]["creationTimestamp"] = At(-age);
  pod["status"]["phase"] = "Pending";
  return pod;
}

inline std::vector<std::string> PhasesOf(const api::VirtualMachineInstanceStatus& status) {
  std::vector<std::string> phases;
  for (const auto& t : status.phase_transition_timestamps) {
    phases.push_back(std::string(api::VmiPhaseName(t.phase)));
  }
  return phases;
}

}  // namespace vireo::controllers::testing
