// DecideVmi: the launcher pod in each state it can be in, no pod, a vanished
// pod, duplicates, missing PVCs, deletion, and the status read back.
#include "controllers/reconcile/vmi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/pod_summary.h"
#include "controllers/reconcile/test_util.h"
#include "controllers/reconcile/vm.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::Now;

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
api::VirtualMachineInstance Vmi(VmiPhase phase = VmiPhase::kUnset) {
  api::VirtualMachineInstance vmi = testing::VmiOf(testing::Vm(api::RunStrategy::kAlways), phase);
  vmi.status.phase_transition_timestamps.clear();
  api::ApplyVmiDefaults(&vmi);
  return vmi;
}

Json Pod(const api::VirtualMachineInstance& vmi, PodState state, std::string name = "",
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
                             R"(", "creationTimestamp": ")" + At(seconds(-60)) +
                             R"(", "labels": {"kubevirt.io/created-by": ")" + vmi.metadata.uid +
                             R"("}}, "spec": {)" + spec_node +
                             R"( "containers": [{"name": "compute", "image": "launcher:1"}]},
                             "status": {)" +
                             status + "}}");
}

VmiObservation Observe(const api::VirtualMachineInstance& vmi, std::vector<Json> pods = {}) {
  VmiObservation obs;
  obs.vmi = vmi;
  obs.pods = std::move(pods);
  obs.config.image = "launcher:1";
  obs.now = Now();
  return obs;
}

struct Row {
  const char* name;
  VmiPhase before;
  PodState pod;
  VmiPhase after;
  const char* ready;
};

const Row kRows[] = {
    {"created, not scheduled", VmiPhase::kPending, PodState::kPendingUnscheduled,
     VmiPhase::kScheduling, "False"},
    {"unschedulable", VmiPhase::kPending, PodState::kUnschedulable, VmiPhase::kScheduling, "False"},
    {"scheduled", VmiPhase::kScheduling, PodState::kScheduled, VmiPhase::kScheduled, "False"},
    {"image pull", VmiPhase::kScheduling, PodState::kImagePull, VmiPhase::kScheduled, "False"},
    {"running, not ready", VmiPhase::kScheduled, PodState::kRunningNotReady, VmiPhase::kScheduled,
     "False"},
    {"running and ready", VmiPhase::kScheduled, PodState::kRunningReady, VmiPhase::kRunning,
     "True"},
    {"ready skips ahead", VmiPhase::kPending, PodState::kRunningReady, VmiPhase::kRunning, "True"},
    {"readiness lost", VmiPhase::kRunning, PodState::kRunningNotReady, VmiPhase::kRunning, "False"},
    {"guest powered off", VmiPhase::kRunning, PodState::kSucceeded, VmiPhase::kSucceeded, "False"},
    {"launcher failed", VmiPhase::kRunning, PodState::kFailed, VmiPhase::kFailed, "False"},
    {"evicted", VmiPhase::kRunning, PodState::kEvicted, VmiPhase::kFailed, "False"},
    {"node lost", VmiPhase::kRunning, PodState::kUnknown, VmiPhase::kUnknown, "False"},
    {"node back", VmiPhase::kUnknown, PodState::kRunningReady, VmiPhase::kRunning, "True"},
};

TEST(DecideVmi, PhaseFollowsThePod) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.name);
    const VmiDecision d = DecideVmi(Observe(Vmi(row.before), {Pod(Vmi(), row.pod)}));
    EXPECT_FALSE(d.create_pod.has_value()) << "a pod exists";
    EXPECT_TRUE(d.delete_pods.empty());
    ASSERT_TRUE(d.status.has_value());
    EXPECT_EQ(d.status->phase, row.after);
    const api::Condition* ready = api::FindCondition(d.status->conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, row.ready);
    // The pod is recorded, so its disappearance is noticed later.
    EXPECT_EQ(base::GetString(d.status->extra, "activePods.pod-uid-1"),
              row.pod == PodState::kPendingUnscheduled || row.pod == PodState::kUnschedulable
                  ? ""
                  : "node-1");
    EXPECT_TRUE(d.status->extra.at("activePods").contains("pod-uid-1"));
    if (row.after != row.before) {
      ASSERT_FALSE(d.status->phase_transition_timestamps.empty());
      EXPECT_EQ(d.status->phase_transition_timestamps.back().phase, row.after);
      EXPECT_EQ(d.status->phase_transition_timestamps.back().phase_transition_timestamp,
                At(seconds(0)));
    }
    // Deciding again from the written status changes nothing.
    VmiObservation again = Observe(Vmi(row.before), {Pod(Vmi(), row.pod)});
    again.vmi.status = *d.status;
    const VmiDecision second = DecideVmi(again);
    EXPECT_FALSE(second.status.has_value());
    EXPECT_TRUE(second.events.empty());
  }
}

TEST(DecideVmi, NoPodMakesOneNamedAfterTheUid) {
  const VmiDecision d = DecideVmi(Observe(Vmi()));
  ASSERT_TRUE(d.create_pod.has_value());
  EXPECT_EQ(base::NameOf(*d.create_pod), LauncherPodName(Vmi()));
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  EXPECT_FALSE(d.finalizers.has_value());
  EXPECT_FALSE(d.spec.has_value());
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "SuccessfulCreate");
  const api::Condition* emulation = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  ASSERT_NE(emulation, nullptr);
  EXPECT_EQ(emulation->status, "Unknown");

  // The informer has not shown the pod yet: the same create again, which
  // meets AlreadyExists thanks to the name.
  VmiObservation obs = Observe(Vmi());
  obs.vmi.status = *d.status;
  const VmiDecision again = DecideVmi(obs);
  ASSERT_TRUE(again.create_pod.has_value());
  EXPECT_EQ(base::NameOf(*again.create_pod), base::NameOf(*d.create_pod));
}

// Vireo runs no hook sidecars: the VMI says so when its pod is made.
TEST(DecideVmi, HookSidecarsAreIgnoredWithAWarning) {
  api::VirtualMachineInstance vmi = Vmi();
  vmi.metadata.annotations[kHookSidecarsAnnotation] = R"([{"image": "registry.example/hook:v1"}])";
  const VmiDecision d = DecideVmi(Observe(vmi));
  ASSERT_TRUE(d.create_pod.has_value());
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].type, kube::EventType::kWarning);
  EXPECT_EQ(d.events[1].reason, "HookSidecarsIgnored");
  EXPECT_THAT(d.events[1].message, ::testing::HasSubstr("hooks.kubevirt.io/hookSidecars"));
}

TEST(DecideVmi, EmulationConditionFollowsTheMode) {
  for (auto [mode, want] :
       {std::pair{EmulationMode::kOn, "True"}, std::pair{EmulationMode::kOff, "False"}}) {
    VmiObservation obs = Observe(Vmi());
    obs.config.emulation = mode;
    const VmiDecision d = DecideVmi(obs);
    EXPECT_EQ(api::FindCondition(d.status->conditions, "SoftwareEmulation")->status, want);
  }
}

// networkData naming a NIC the guest will not have: a condition and one
// Warning Event naming it; fixed networkData clears the condition.
TEST(DecideVmi, NetworkDataNamingNoGuestNicIsShown) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kScheduled);
  api::Volume seed;
  seed.name = "cloudinit";
  seed.cloud_init_no_cloud.emplace();
  seed.cloud_init_no_cloud->network_data = "version: 2\nethernets:\n  ens3:\n    dhcp4: true\n";
  vmi.spec.volumes.push_back(seed);
  VmiObservation obs = Observe(vmi);
  obs.pods = {Pod(obs.vmi, PodState::kRunningReady)};
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  const api::Condition* c = api::FindCondition(d.status->conditions, "NetworkDataMismatch");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "UnknownInterface");
  EXPECT_THAT(c->message, ::testing::HasSubstr("'ens3'"));
  EXPECT_THAT(c->message, ::testing::HasSubstr("enp1s0"));
  auto warned = [](const VmiDecision& decision) {
    return std::count_if(decision.events.begin(), decision.events.end(),
                         [](const Event& e) { return e.reason == "NetworkDataMismatch"; });
  };
  EXPECT_EQ(warned(d), 1);
  // Decided again with that status stored: no second Event.
  obs.vmi.status = *d.status;
  EXPECT_EQ(warned(DecideVmi(obs)), 0);
  // networkData as a KubeVirt guest gets it: no condition.
  obs.vmi.spec.volumes.back().cloud_init_no_cloud->network_data =
      "version: 2\nethernets:\n  enp1s0:\n    dhcp4: true\n";
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, "NetworkDataMismatch"), nullptr);
}

// A running pod whose accel-probe init container ended with `message`.
Json PodWithAccelVerdict(const api::VirtualMachineInstance& vmi, const std::string& message,
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

TEST(DecideVmi, EmulationAutoWithAPluginShowsTheProbesVerdict) {
  const std::string tcg =
      "tcg: /dev/kvm opens, but KVM runs guests far too slowly: the probe guest did 1000000 of "
      "20000000 loop iterations in 1000 ms (working KVM needs ~10 ms)\n";
  VmiObservation obs = Observe(Vmi(VmiPhase::kScheduled));
  obs.config.kvm_resource_offered = true;
  obs.pods = {PodWithAccelVerdict(obs.vmi, tcg)};
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  const api::Condition* c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "True");
  EXPECT_EQ(c->reason, "NoUsableKvm");
  EXPECT_THAT(c->message, ::testing::HasSubstr("far too slowly"));
  EXPECT_THAT(c->message, ::testing::Not(::testing::HasSubstr("\n")));
  auto event = std::find_if(d.events.begin(), d.events.end(),
                            [](const Event& e) { return e.reason == "SoftwareEmulation"; });
  ASSERT_NE(event, d.events.end());
  EXPECT_EQ(event->type, kube::EventType::kWarning);
  EXPECT_THAT(event->message, ::testing::HasSubstr("far too slowly"));

  // Decided again with that status stored: no second Event.
  obs.vmi.status = *d.status;
  d = DecideVmi(obs);
  EXPECT_TRUE(std::none_of(d.events.begin(), d.events.end(),
                           [](const Event& e) { return e.reason == "SoftwareEmulation"; }));

  obs.pods = {
      PodWithAccelVerdict(obs.vmi, "kvm: /dev/kvm works: the probe guest ran its loop in 9 ms")};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->reason, "KvmAvailable");

  // Before the probe ended: Unknown.
  Json waiting = Pod(obs.vmi, PodState::kScheduled);
  waiting["spec"]["initContainers"] = testing::ParseOrDie(R"([{"name": "accel-probe"}])");
  obs.pods = {waiting};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->status, "Unknown");
  EXPECT_EQ(c->reason, "LauncherChooses");

  // A pod made before the plugin was turned on has no probe: the condition
  // follows the pod, not today's flags.
  obs.pods = {Pod(obs.vmi, PodState::kRunningReady)};
  d = DecideVmi(obs);
  c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  EXPECT_EQ(c->reason, "NoKvmResource");
}

TEST(DecideVmi, EmulationAutoWithoutAPluginSaysSo) {
  const VmiDecision d = DecideVmi(Observe(Vmi()));
  const api::Condition* c = api::FindCondition(d.status->conditions, "SoftwareEmulation");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "Unknown");
  EXPECT_EQ(c->reason, "NoKvmResource");
}

TEST(DecideVmi, VanishedPodFailsTheVmiAndIsNotReplaced) {
  for (VmiPhase phase : {VmiPhase::kScheduling, VmiPhase::kScheduled, VmiPhase::kRunning}) {
    SCOPED_TRACE(api::VmiPhaseName(phase));
    const VmiDecision d = DecideVmi(Observe(Vmi(phase)));
    EXPECT_FALSE(d.create_pod.has_value());
    EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
    EXPECT_EQ(d.status->reason, "PodVanished");
    ASSERT_FALSE(d.events.empty());
    EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
  }
  // Pending, but a pod was recorded: same.
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kPending);
  vmi.status.extra = testing::ParseOrDie(R"({"activePods": {"pod-uid-1": ""}})");
  EXPECT_EQ(DecideVmi(Observe(vmi)).status->reason, "PodVanished");
}

TEST(DecideVmi, DuplicatesAreDeletedKeepingTheNamedPod) {
  const api::VirtualMachineInstance vmi = Vmi(VmiPhase::kScheduled);
  const VmiDecision d = DecideVmi(
      Observe(vmi, {Pod(vmi, PodState::kScheduled, "virt-launcher-vm1-extra", "pod-uid-2"),
                    Pod(vmi, PodState::kRunningReady)}));
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].name, "virt-launcher-vm1-extra");
  EXPECT_EQ(d.delete_pods[0].uid, "pod-uid-2");
  EXPECT_EQ(d.status->phase, VmiPhase::kRunning) << "read from the pod that stays";
}

TEST(DecideVmi, PodsOfAnotherVmiAreIgnored) {
  api::VirtualMachineInstance old_vmi = Vmi();
  old_vmi.metadata.uid = "old-uid";
  const VmiDecision d = DecideVmi(Observe(Vmi(), {Pod(old_vmi, PodState::kRunningReady)}));
  EXPECT_TRUE(d.create_pod.has_value());
  EXPECT_TRUE(d.delete_pods.empty());
}

TEST(DecideVmi, StatusCarriesNodeIpAndConditions) {
  VmiDecision d =
      DecideVmi(Observe(Vmi(VmiPhase::kScheduled), {Pod(Vmi(), PodState::kRunningReady)}));
  EXPECT_EQ(d.status->node_name, "node-1");
  ASSERT_EQ(d.status->interfaces.size(), 1u);
  EXPECT_EQ(d.status->interfaces[0].name, "default");
  EXPECT_EQ(d.status->interfaces[0].ip_address, "10.244.0.9");
  EXPECT_THAT(d.status->interfaces[0].ip_addresses,
              ::testing::ElementsAre("10.244.0.9", "fd00::9"));
  EXPECT_EQ(d.status->launcher_container_image_version, "launcher:1");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "Started");
  // KubeVirt's LiveMigratable on every VMI (kubectl get vmi -o wide): False.
  const api::Condition* migratable = api::FindCondition(d.status->conditions, "LiveMigratable");
  ASSERT_NE(migratable, nullptr);
  EXPECT_EQ(migratable->status, "False");
  EXPECT_EQ(migratable->reason, "NotMigratable");
  EXPECT_THAT(migratable->message, ::testing::HasSubstr("does not live-migrate"));

  d = DecideVmi(Observe(Vmi(VmiPhase::kPending), {Pod(Vmi(), PodState::kUnschedulable)}));
  const api::Condition* scheduled = api::FindCondition(d.status->conditions, "PodScheduled");
  ASSERT_NE(scheduled, nullptr);
  EXPECT_EQ(scheduled->status, "False");
  EXPECT_EQ(scheduled->reason, "Unschedulable");
  EXPECT_THAT(scheduled->message, ::testing::HasSubstr("Insufficient memory"));

  d = DecideVmi(Observe(Vmi(VmiPhase::kScheduling), {Pod(Vmi(), PodState::kImagePull)}));
  const api::Condition* synced = api::FindCondition(d.status->conditions, "Synchronized");
  ASSERT_NE(synced, nullptr);
  EXPECT_EQ(synced->reason, "ErrImagePull");
}

TEST(DecideVmi, FailureSaysWhy) {
  VmiDecision d = DecideVmi(Observe(Vmi(VmiPhase::kRunning), {Pod(Vmi(), PodState::kFailed)}));
  EXPECT_EQ(d.status->reason, "LauncherFailed");
  ASSERT_FALSE(d.events.empty());
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("exited with code 3"));
  d = DecideVmi(Observe(Vmi(VmiPhase::kRunning), {Pod(Vmi(), PodState::kEvicted)}));
  EXPECT_EQ(d.status->reason, "Evicted");
}

TEST(DecideVmi, PodDeletedUnderARunningVmiFailsIt) {
  Json pod = Pod(Vmi(), PodState::kSucceeded);
  pod["metadata"]["deletionTimestamp"] = Json(At(seconds(-1)));
  const VmiDecision d = DecideVmi(Observe(Vmi(VmiPhase::kRunning), {pod}));
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "PodDeleted");
}

// The VMI a VM makes comes back from the apiserver already defaulted: its
// first decision makes the pod, with no extra write of the spec.
TEST(DecideVmi, VmiMadeByAVmNeedsNoSpecWrite) {
  const api::VirtualMachine vm = testing::Vm(api::RunStrategy::kAlways);
  auto vmi = api::FromJson<api::VirtualMachineInstance>(NewVmiFor(vm));
  ASSERT_TRUE(vmi.ok());
  vmi->metadata.uid = testing::kVmiUid;
  vmi->metadata.creation_timestamp = At(seconds(0));
  const VmiDecision d = DecideVmi(Observe(*vmi));
  EXPECT_FALSE(d.spec.has_value());
  EXPECT_FALSE(d.finalizers.has_value());
  EXPECT_TRUE(d.create_pod.has_value());
}

TEST(DecideVmi, MissingClaimWaitsBrieflyThenFails) {
  api::VirtualMachineInstance vmi = Vmi();
  testing::AddClaim(&vmi.spec, "data", "data-pvc");
  api::ApplyVmiDefaults(&vmi);
  vmi.metadata.creation_timestamp = At(seconds(-4));
  VmiDecision d = DecideVmi(Observe(vmi));
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  EXPECT_EQ(d.requeue_after, seconds(6));

  vmi.metadata.creation_timestamp = At(seconds(-60));
  d = DecideVmi(Observe(vmi));
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "PvcNotFound");
  // kubectl describe keeps the words after the Event expires.
  const api::Condition* synced = api::FindCondition(d.status->conditions, "Synchronized");
  ASSERT_NE(synced, nullptr);
  EXPECT_EQ(synced->reason, "PvcNotFound");
  EXPECT_THAT(synced->message, ::testing::HasSubstr("data-pvc"));
  ASSERT_FALSE(d.events.empty());
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("data-pvc"));

  VmiObservation obs = Observe(vmi);
  obs.claims["data-pvc"] = VolumeMode::kBlock;
  d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  EXPECT_EQ(d.create_pod->at("spec")
                .at("containers")
                .at(0)
                .at("volumeDevices")
                .at(0)
                .at("devicePath")
                .get<std::string>(),
            "/dev/vireo/data");
}

// Vmi() with a volume "data" from the DataVolume `name`, defaults applied.
api::VirtualMachineInstance VmiWithDataVolume(const std::string& name) {
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
Json Created(Json pod, seconds age = seconds(0)) {
  pod["metadata"]["uid"] = "6f1c0000-0000-4000-8000-0000000000a1";
  pod["metadata"]["creationTimestamp"] = At(-age);
  pod["status"]["phase"] = "Pending";
  return pod;
}

std::vector<std::string> PhasesOf(const api::VirtualMachineInstanceStatus& status) {
  std::vector<std::string> phases;
  for (const auto& t : status.phase_transition_timestamps) {
    phases.push_back(std::string(api::VmiPhaseName(t.phase)));
  }
  return phases;
}

// The probe ends a second or two before the launcher is ready: its verdict
// waits for the Running it leads to, and one write carries both, with the
// verdict's Event.
TEST(DecideVmi, TheProbesVerdictWaitsForRunning) {
  const std::string tcg = "tcg: /dev/kvm is missing\n";
  VmiObservation obs = Observe(Vmi(VmiPhase::kScheduled));
  obs.config.kvm_resource_offered = true;
  Json probing = Pod(obs.vmi, PodState::kScheduled);
  probing["spec"]["initContainers"] = testing::ParseOrDie(R"([{"name": "accel-probe"}])");
  obs.pods = {probing};
  VmiDecision shown = DecideVmi(obs);
  ASSERT_TRUE(shown.status.has_value());
  ASSERT_EQ(api::FindCondition(shown.status->conditions, "SoftwareEmulation")->reason,
            "LauncherChooses");
  obs.vmi.status = *shown.status;

  auto ended = [&](seconds ago, PodState state) {
    Json pod = PodWithAccelVerdict(obs.vmi, tcg, state);
    pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["finishedAt"] = At(-ago);
    return pod;
  };
  // Ended a second ago, the launcher not ready yet: nothing is written.
  obs.pods = {ended(seconds(1), PodState::kScheduled)};
  VmiDecision d = DecideVmi(obs);
  EXPECT_FALSE(d.status.has_value());
  EXPECT_TRUE(d.status_waits);
  EXPECT_TRUE(d.events.empty()) << "the Event goes with the write";
  ASSERT_TRUE(d.requeue_after.has_value());
  EXPECT_LE(*d.requeue_after, seconds(3));
  EXPECT_GE(*d.requeue_after, seconds(2));

  // Ready: one write says Running and the verdict, with its Event.
  obs.pods = {ended(seconds(2), PodState::kRunningReady)};
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kRunning);
  EXPECT_EQ(api::FindCondition(d.status->conditions, "SoftwareEmulation")->reason, "NoUsableKvm");
  EXPECT_EQ(std::count_if(d.events.begin(), d.events.end(),
                          [](const Event& e) { return e.reason == "SoftwareEmulation"; }),
            1);

  // The wait is over, the node's clock is ahead of ours, or the launcher
  // failed: the status is written at once, with the verdict and its Event.
  for (const Json& pod :
       {ended(seconds(4), PodState::kScheduled), ended(seconds(-3), PodState::kScheduled),
        ended(seconds(1), PodState::kFailed)}) {
    obs.pods = {pod};
    d = DecideVmi(obs);
    ASSERT_TRUE(d.status.has_value()) << pod.dump();
    EXPECT_FALSE(d.status_waits);
    EXPECT_EQ(api::FindCondition(d.status->conditions, "SoftwareEmulation")->reason, "NoUsableKvm");
    EXPECT_EQ(std::count_if(d.events.begin(), d.events.end(),
                            [](const Event& e) { return e.reason == "SoftwareEmulation"; }),
              1);
  }
}

TEST(DecideVmiAfterPodCreate, TheFirstStatusWaitsForTheBinding) {
  const VmiObservation obs = Observe(Vmi());
  const VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  const Json pod = Created(*d.create_pod);

  // Pending and then Scheduling would be overwritten by Scheduled a moment
  // later: nothing is written, the VMI is looked at again when the wait ends.
  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, pod);
  EXPECT_FALSE(after.status.has_value());
  EXPECT_TRUE(after.status_waits);
  EXPECT_EQ(after.requeue_after, seconds(2));
  EXPECT_FALSE(after.create_pod.has_value());

  // The informer shows the pod unbound: still nothing to write.
  VmiDecision seen = DecideVmi(Observe(obs.vmi, {pod}));
  EXPECT_FALSE(seen.status.has_value());
  EXPECT_TRUE(seen.status_waits);
  EXPECT_FALSE(seen.create_pod.has_value());

  // Bound: one write says Scheduled, with the pod in activePods.
  Json bound = pod;
  bound["spec"]["nodeName"] = "node-1";
  seen = DecideVmi(Observe(obs.vmi, {bound}));
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_FALSE(seen.status_waits);
  EXPECT_EQ(seen.status->phase, VmiPhase::kScheduled);
  EXPECT_THAT(PhasesOf(*seen.status), ::testing::ElementsAre("Scheduled"));
  EXPECT_EQ(api::ToJson(*seen.status).at("activePods").dump(),
            R"({"6f1c0000-0000-4000-8000-0000000000a1":"node-1"})");
}

TEST(DecideVmi, AnUnboundPodIsShownOnceTheWaitEndsOrTheSchedulerRefusesIt) {
  const api::VirtualMachineInstance vmi = Vmi();
  const Json pod = Created(*DecideVmi(Observe(vmi)).create_pod);

  Json late = pod;
  late["metadata"]["creationTimestamp"] = At(seconds(-2));
  VmiDecision d = DecideVmi(Observe(vmi, {late}));
  ASSERT_TRUE(d.status.has_value());
  EXPECT_FALSE(d.status_waits);
  EXPECT_EQ(d.status->phase, VmiPhase::kScheduling);

  Json refused = pod;
  refused["status"]["conditions"] = testing::ParseOrDie(
      R"([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
           "message": "0/1 nodes are available: 1 Insufficient memory."}])");
  d = DecideVmi(Observe(vmi, {refused}));
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kScheduling);
  EXPECT_EQ(api::FindCondition(d.status->conditions, "PodScheduled")->reason, "Unschedulable");

  // Only a first status waits: a VMI already shown Scheduling is not held
  // back from showing what changes next.
  d = DecideVmi(Observe(Vmi(VmiPhase::kScheduling), {refused}));
  EXPECT_FALSE(d.status_waits);
  ASSERT_TRUE(d.status.has_value());
}

// With no wait (here the pod is 2 s old), one status carries the decision's
// Pending and the Scheduling the pod leads to.
TEST(DecideVmiAfterPodCreate, OneStatusCarriesThePodJustMade) {
  const VmiObservation obs = Observe(Vmi());
  const VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  ASSERT_EQ(d.status->phase, VmiPhase::kPending);

  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, Created(*d.create_pod, seconds(2)));
  EXPECT_FALSE(after.create_pod.has_value());
  EXPECT_TRUE(after.delete_pods.empty());
  ASSERT_TRUE(after.status.has_value());
  EXPECT_EQ(after.status->phase, VmiPhase::kScheduling);
  EXPECT_EQ(api::ToJson(*after.status).at("activePods").dump(),
            R"({"6f1c0000-0000-4000-8000-0000000000a1":""})");
  EXPECT_THAT(PhasesOf(*after.status), ::testing::ElementsAre("Pending", "Scheduling"));
  // What the decision set and the pod does not touch stays.
  EXPECT_EQ(api::FindCondition(after.status->conditions, "SoftwareEmulation")->status, "Unknown");
  EXPECT_EQ(api::FindCondition(after.status->conditions, "Ready")->reason, "PodNotReady");
}

TEST(DecideVmiAfterPodCreate, KeepsWhatTheDecisionChanged) {
  // The DataVolume succeeded: the decision turns DataVolumesReady True and
  // makes the pod; the status written with the pod says so.
  api::VirtualMachineInstance vmi = VmiWithDataVolume("debian");
  VmiObservation obs = Observe(vmi);
  obs.data_volumes["debian"] = {"ImportInProgress", "45.20%", "", false};
  obs.vmi.status = *DecideVmi(obs).status;
  ASSERT_EQ(api::FindCondition(obs.vmi.status.conditions, "DataVolumesReady")->status, "False");

  obs.data_volumes["debian"] = {"Succeeded", "100.0%", "", false};
  obs.claims["debian"] = VolumeMode::kFilesystem;
  const VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, Created(*d.create_pod, seconds(2)));
  ASSERT_TRUE(after.status.has_value());
  EXPECT_EQ(after.status->phase, VmiPhase::kScheduling);
  EXPECT_EQ(api::FindCondition(after.status->conditions, "DataVolumesReady")->status, "True");

  // When that write waits for the binding, the status written once the pod
  // is bound says it all the same.
  Json pod = Created(*d.create_pod);
  ASSERT_TRUE(DecideVmiAfterPodCreate(obs, d, pod).status_waits);
  pod["spec"]["nodeName"] = "node-1";
  VmiObservation bound = obs;
  bound.pods = {pod};
  const VmiDecision seen = DecideVmi(bound);
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_EQ(seen.status->phase, VmiPhase::kScheduled);
  EXPECT_EQ(api::FindCondition(seen.status->conditions, "DataVolumesReady")->status, "True");
}

TEST(DecideVmi, ThePodWaitsForItsDataVolumesToSucceed) {
  api::VirtualMachineInstance vmi = VmiWithDataVolume("debian");
  vmi.metadata.creation_timestamp = At(seconds(-60));

  VmiDecision d = DecideVmi(Observe(vmi));  // no DataVolume yet: waits, never fails
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  const api::Condition* ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  EXPECT_THAT(ready->message, ::testing::HasSubstr("debian not found"));

  VmiObservation obs = Observe(vmi);
  obs.data_volumes["debian"] = {"ImportInProgress", "45.20%", "", false};
  d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  EXPECT_THAT(ready->message, ::testing::HasSubstr("ImportInProgress (45.20%)"));
  EXPECT_TRUE(d.events.empty());

  obs.data_volumes["debian"] = {"Failed", "N/A", "HTTP 404 Not Found", false};
  d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kPending);
  ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  EXPECT_EQ(ready->reason, "DataVolumeFailed");
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("404"));

  obs.data_volumes["debian"] = {"Succeeded", "100.0%", "", false};
  obs.claims["debian"] = VolumeMode::kFilesystem;
  d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, "DataVolumesReady")->status, "True");
  const Json& volumes = d.create_pod->at("spec").at("volumes");
  bool mounted = false;
  for (const Json& v : volumes) {
    mounted |= base::GetString(v, "persistentVolumeClaim.claimName") == "debian";
  }
  EXPECT_TRUE(mounted);
}

TEST(DecideVmi, AClaimADataVolumeFillsIsNotBootedBlank) {
  api::VirtualMachineInstance vmi = Vmi();
  testing::AddClaim(&vmi.spec, "data", "debian");
  api::ApplyVmiDefaults(&vmi);
  vmi.metadata.creation_timestamp = At(seconds(-60));
  VmiObservation obs = Observe(vmi);
  ClaimInfo claim(VolumeMode::kFilesystem);
  claim.data_volume = "debian";
  obs.claims["debian"] = claim;
  obs.data_volumes["debian"] = {"ImportInProgress", "3.00%", "", false};
  VmiDecision d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  const api::Condition* ready = api::FindCondition(d.status->conditions, "DataVolumesReady");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, "False");
  obs.data_volumes["debian"].phase = "Succeeded";
  EXPECT_TRUE(DecideVmi(obs).create_pod.has_value());
}

TEST(DecideVmi, EndedVmiKeepsItsPodAndGetsNoOther) {
  for (VmiPhase phase : {VmiPhase::kSucceeded, VmiPhase::kFailed}) {
    const VmiDecision with_pod = DecideVmi(Observe(Vmi(phase), {Pod(Vmi(), PodState::kSucceeded)}));
    EXPECT_FALSE(with_pod.create_pod.has_value());
    EXPECT_TRUE(with_pod.delete_pods.empty());
    const VmiDecision without = DecideVmi(Observe(Vmi(phase)));
    EXPECT_FALSE(without.create_pod.has_value());
    ASSERT_TRUE(without.status.has_value());  // Ready and emulation conditions
    EXPECT_EQ(without.status->phase, phase);
  }
}

TEST(DecideVmi, DeletionDrainsPodsThenReleasesTheFinalizer) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kRunning);
  vmi.metadata.deletion_timestamp = At(seconds(-1));
  VmiDecision d = DecideVmi(Observe(vmi, {Pod(vmi, PodState::kRunningReady)}));
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].uid, "pod-uid-1");
  EXPECT_FALSE(d.finalizers.has_value());
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, "Ready")->status, "False");

  Json going = Pod(vmi, PodState::kRunningReady);
  going["metadata"]["deletionTimestamp"] = Json(At(seconds(0)));
  d = DecideVmi(Observe(vmi, {going}));
  EXPECT_TRUE(d.delete_pods.empty()) << "already being deleted";

  d = DecideVmi(Observe(vmi));
  ASSERT_TRUE(d.finalizers.has_value());
  EXPECT_TRUE(d.finalizers->empty());
  EXPECT_FALSE(d.create_pod.has_value());
}

// `virtctl stop --grace-period N` patches the VMI's
// terminationGracePeriodSeconds before it stops the VM: the pod's deletion
// must carry the VMI's value now, not the one the pod was made with.
TEST(DecideVmi, PodsAreDeletedWithTheVmisCurrentGracePeriodPlusTheMargin) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kRunning);
  const Json pod = Pod(vmi, PodState::kRunningReady);  // made with the default 30 s
  vmi.metadata.deletion_timestamp = At(seconds(-1));
  VmiObservation obs = Observe(vmi, {pod});
  obs.config.termination_grace_margin_seconds = 15;
  VmiDecision d = DecideVmi(obs);
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(30 + 15));

  obs.vmi.spec.termination_grace_period_seconds = 600;
  obs.config.termination_grace_margin_seconds = 20;
  d = DecideVmi(obs);
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(620));

  obs.vmi.spec.termination_grace_period_seconds = 0;
  d = DecideVmi(obs);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(20));

  // A duplicate pod goes with the same period: it may run a guest too.
  api::VirtualMachineInstance live = Vmi(VmiPhase::kRunning);
  live.spec.termination_grace_period_seconds = 90;
  VmiObservation dup =
      Observe(live, {Pod(live, PodState::kRunningReady),
                     Pod(live, PodState::kRunningReady, "virt-launcher-other", "pod-uid-2")});
  d = DecideVmi(dup);
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].name, "virt-launcher-other");
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds,
            std::optional<int64_t>(90 + dup.config.termination_grace_margin_seconds));
}

TEST(DecideVmi, VmiWithoutDefaultsGetsThemBeforeItsPod) {
  api::VirtualMachineInstance vmi = Vmi();
  vmi.spec.domain.machine.reset();
  vmi.metadata.finalizers.clear();
  const VmiDecision d = DecideVmi(Observe(vmi));
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.spec.has_value());
  EXPECT_EQ(d.spec->domain.machine->type, "q35");
  ASSERT_TRUE(d.finalizers.has_value());
  EXPECT_THAT(*d.finalizers, ::testing::ElementsAre(kVmiFinalizer));
}

TEST(DecideVmi, InvalidVmiFails) {
  api::VirtualMachineInstance vmi = Vmi();
  vmi.spec.domain.devices.disks[0].name = "no-such-volume";
  const VmiDecision d = DecideVmi(Observe(vmi));
  EXPECT_FALSE(d.create_pod.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "InvalidSpec");
}

// Sent again, a refused pod would be refused again: only the first refusal
// of kind Invalid or admission-Forbidden is final.
TEST(PermanentRefusal, TellsAdmissionAndInvalidFromQuotaRbacAndOutages) {
  using base::Code;
  EXPECT_TRUE(IsPermanentRefusal(
      base::Status(Code::kInvalid,
                   "Pod \"virt-launcher-x\" is invalid: metadata.name: must be no more "
                   "than 63 characters",
                   422)));
  EXPECT_TRUE(IsPermanentRefusal(base::Status(
      Code::kForbidden,
      "pods \"virt-launcher-x\" is forbidden: violates PodSecurity \"restricted:latest\": "
      "allowPrivilegeEscalation != false",
      403)));
  EXPECT_TRUE(IsPermanentRefusal(base::Status(
      Code::kForbidden, "admission webhook \"deny.example.com\" denied the request: no", 403)));
  EXPECT_TRUE(IsPermanentRefusal(base::Status(Code::kBadRequest, "bad body", 400)));
  // Quota frees up when other pods end: transient.
  EXPECT_FALSE(IsPermanentRefusal(base::Status(
      Code::kForbidden,
      "pods \"virt-launcher-x\" is forbidden: exceeded quota: q, requested: pods=1, used: "
      "pods=1, limited: pods=1",
      403)));
  // Our own RBAC: the admin's fix makes every object recover.
  EXPECT_FALSE(IsPermanentRefusal(base::Status(
      Code::kForbidden,
      "pods is forbidden: User \"system:serviceaccount:vireo-system:vireo-controller\" cannot "
      "create resource \"pods\" in API group \"\" in the namespace \"ns\"",
      403)));
  EXPECT_FALSE(IsPermanentRefusal(base::Status(
      Code::kForbidden,
      "pods \"p\" is forbidden: unable to create new content in namespace ns because it is "
      "being terminated",
      403)));
  for (Code code : {Code::kUnavailable, Code::kTimeout, Code::kTooManyRequests, Code::kInternal,
                    Code::kConflict, Code::kUnauthorized}) {
    EXPECT_FALSE(IsPermanentRefusal(base::Status(code, "x", 500))) << base::CodeName(code);
  }
}

TEST(DecideVmi, ARefusedPodFailsTheVmiWithTheApiserversWords) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kPending);
  const std::string words =
      "pods \"" + LauncherPodName(vmi) + "\" is forbidden: violates PodSecurity ...";
  VmiDecision d = RefusedPodDecision(vmi, vmi.status, words, Now());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "FailedCreate");
  const api::Condition* sync = api::FindCondition(d.status->conditions, kConditionSynchronized);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(sync->status, "False");
  EXPECT_EQ(sync->reason, "FailedCreate");
  EXPECT_THAT(sync->message, ::testing::HasSubstr(words));
  EXPECT_TRUE(internal::HasCondition(d.status->conditions, kConditionReady, "False"));
  EXPECT_TRUE(internal::HasCondition(d.status->conditions, kConditionLiveMigratable, "False",
                                     "NotMigratable"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
  EXPECT_EQ(d.events[0].reason, "FailedCreate");
  EXPECT_THAT(d.events[0].message, ::testing::HasSubstr(words));
  ASSERT_FALSE(d.status->phase_transition_timestamps.empty());
  EXPECT_EQ(d.status->phase_transition_timestamps.back().phase, VmiPhase::kFailed);
  EXPECT_FALSE(d.create_pod.has_value());

  // Failed is final: the next decision makes no pod and keeps the words.
  vmi.status = *d.status;
  VmiObservation obs;
  obs.vmi = vmi;
  obs.now = Now();
  VmiDecision next = DecideVmi(obs);
  EXPECT_FALSE(next.create_pod.has_value());
  const api::VirtualMachineInstanceStatus& kept = next.status.value_or(vmi.status);
  EXPECT_EQ(kept.phase, VmiPhase::kFailed);
  EXPECT_TRUE(
      internal::HasCondition(kept.conditions, kConditionSynchronized, "False", "FailedCreate"));
}

NodeState Ready(const std::string& status, seconds since) {
  NodeState node;
  node.ready = status;
  node.ready_since = At(since);
  return node;
}

// A dead node: the VMI fails once Kubernetes says the node is lost, but its
// pod is force-deleted only when Kubernetes says the node is gone or shut
// down: a partitioned node may still run the guest.
TEST(DecideVmiNodes, ANodeSilentBeyondTheGraceFailsTheVmiWithoutForce) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kRunning);
  VmiObservation obs = Observe(vmi, {Pod(vmi, PodState::kRunningReady)});
  obs.node_grace = seconds(30);
  obs.nodes = Nodes{{"node-1", Ready("True", seconds(-3600))}};
  VmiDecision d = DecideVmi(obs);
  EXPECT_FALSE(d.status.has_value() && d.status->phase != VmiPhase::kRunning);

  // Unknown for 10 s: not yet; look again when the grace ends.
  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-10))}};
  d = DecideVmi(obs);
  EXPECT_TRUE(!d.status.has_value() || d.status->phase == VmiPhase::kRunning);
  ASSERT_TRUE(d.requeue_after.has_value());
  EXPECT_GE(*d.requeue_after, seconds(20));
  EXPECT_LE(*d.requeue_after, seconds(21));

  for (const char* ready : {"Unknown", "False"}) {
    obs.nodes = Nodes{{"node-1", Ready(ready, seconds(-31))}};
    d = DecideVmi(obs);
    ASSERT_TRUE(d.status.has_value()) << ready;
    EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
    EXPECT_EQ(d.status->reason, "NodeUnresponsive");
    const api::Condition* sync = api::FindCondition(d.status->conditions, kConditionSynchronized);
    ASSERT_NE(sync, nullptr);
    EXPECT_THAT(sync->message, ::testing::HasSubstr("node-1"));
    EXPECT_THAT(sync->message, ::testing::HasSubstr("node.kubernetes.io/out-of-service"));
    EXPECT_TRUE(d.delete_pods.empty()) << "never force-delete a pod the node may still run";
  }
}

TEST(DecideVmiNodes, ADeletedOrDisruptedPodOnASilentNodeFailsAtOnce) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kRunning);
  Json pod = Pod(vmi, PodState::kRunningReady);
  pod["status"]["conditions"][1] = base::ParseJson(R"({"type": "DisruptionTarget",
      "status": "True", "reason": "DeletionByTaintManager", "message": "Taint manager"})",
                                                   "c")
                                       .value();
  VmiObservation obs = Observe(vmi, {pod});
  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-1))}};
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "NodeUnresponsive");
  EXPECT_THAT(d.status->conditions.empty()
                  ? ""
                  : api::FindCondition(d.status->conditions, kConditionSynchronized)->message,
              ::testing::HasSubstr("DeletionByTaintManager"));
  EXPECT_TRUE(d.delete_pods.empty());

  Json deleting = Pod(vmi, PodState::kRunningReady);
  deleting["metadata"]["deletionTimestamp"] = Json(At(seconds(-1)));
  obs.pods = {deleting};
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_TRUE(d.delete_pods.empty());

  // The same pod on a Ready node: the kubelet stops it, nothing to judge.
  obs.nodes = Nodes{{"node-1", Ready("True", seconds(-1))}};
  d = DecideVmi(obs);
  EXPECT_TRUE(!d.status.has_value() || d.status->phase == VmiPhase::kRunning);
}

TEST(DecideVmiNodes, ANodeGoneOrOutOfServiceFailsTheVmiAndForceDeletesThePod) {
  api::VirtualMachineInstance vmi = Vmi(VmiPhase::kRunning);
  VmiObservation obs = Observe(vmi, {Pod(vmi, PodState::kRunningReady)});
  obs.nodes = Nodes{};  // node-1 deleted
  VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "NodeGone");
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(0));

  NodeState shut = Ready("Unknown", seconds(-1));
  shut.out_of_service = true;
  obs.nodes = Nodes{{"node-1", shut}};
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->reason, "NodeOutOfService");
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(0));

  // A VMI being deleted whose pod hangs Terminating on that node: forced.
  api::VirtualMachineInstance going = Vmi(VmiPhase::kFailed);
  going.metadata.deletion_timestamp = At(seconds(-5));
  Json stuck = Pod(going, PodState::kRunningReady);
  stuck["metadata"]["deletionTimestamp"] = Json(At(seconds(-5)));
  VmiObservation deleting = Observe(going, {stuck});
  deleting.nodes = Nodes{{"node-1", shut}};
  d = DecideVmi(deleting);
  ASSERT_EQ(d.delete_pods.size(), 1u);
  EXPECT_EQ(d.delete_pods[0].grace_period_seconds, std::optional<int64_t>(0));
  // ... but not while the node may still run the guest.
  deleting.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-3600))}};
  EXPECT_TRUE(DecideVmi(deleting).delete_pods.empty());
}

TEST(PodSummary, ReadsTheDisruptionTarget) {
  Json pod = base::ParseJson(R"({"metadata": {"name": "p"}, "status": {"conditions": [
      {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
       "message": "Eviction API: evicting"}]}})",
                             "pod")
                 .value();
  internal::PodSummary summary = internal::SummarizePod(pod);
  EXPECT_TRUE(summary.disruption_target);
  EXPECT_EQ(summary.disruption_reason, "EvictionByEvictionAPI");
}

TEST(NodeStateOf, ReadsReadyAndTheOutOfServiceTaint) {
  Json node = base::ParseJson(R"({"metadata": {"name": "n"},
      "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                          {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown",
                           "effect": "NoExecute"}]},
      "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": "Unknown", "lastTransitionTime": "2026-12-05T10:00:00Z"}]}})",
                              "node")
                  .value();
  NodeState state = NodeStateOf(node);
  EXPECT_EQ(state.ready, "Unknown");
  EXPECT_EQ(state.ready_since, "2026-12-05T10:00:00Z");
  EXPECT_TRUE(state.out_of_service);
}

}  // namespace
}  // namespace vireo::controllers
