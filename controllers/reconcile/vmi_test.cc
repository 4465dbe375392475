// DecideVmi: the launcher pod in each state it can be in, no pod, a vanished
// pod, duplicates, missing PVCs, deletion, and the status read back.
#include "controllers/reconcile/vmi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/pod_summary.h"
#include "controllers/reconcile/vm.h"
#include "controllers/reconcile/vmi_test_util.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::Now;
using testing::Observe;
using testing::Pod;
using testing::PodState;
using testing::Vmi;

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

// A containerDisk's server that ends before the domain runs, without an
// answer for the launcher (here killed for memory), fails the VMI with its
// name; once the domain runs, its end changes nothing (QEMU holds the file).
TEST(DecideVmi, AContainerDiskServerThatEndsBeforeTheDomainFailsTheVmi) {
  for (const bool domain_running : {false, true}) {
    SCOPED_TRACE(domain_running ? "domain running" : "before the domain");
    Json pod = Pod(Vmi(), domain_running ? PodState::kRunningReady : PodState::kRunningNotReady);
    Json server = testing::ParseOrDie(
        R"({"name": "cd-root", "ready": false, "state": {"terminated": {"exitCode": 137,
            "reason": "OOMKilled"}}})");
    pod["status"]["containerStatuses"].push_back(std::move(server));
    const VmiDecision d = DecideVmi(Observe(Vmi(VmiPhase::kScheduled), {pod}));
    ASSERT_TRUE(d.status.has_value());
    if (domain_running) {
      EXPECT_EQ(d.status->phase, VmiPhase::kRunning);
      continue;
    }
    EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
    EXPECT_EQ(d.status->reason, "ContainerDiskFailed");
    ASSERT_FALSE(d.events.empty());
    EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("container cd-root of pod"));
    EXPECT_THAT(d.events[0].message, ::testing::HasSubstr("OOMKilled"));
  }
}

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
                .back()  // the launcher, after the containerDisk's server
                .at("volumeDevices")
                .at(0)
                .at("devicePath")
                .get<std::string>(),
            "/dev/vireo/data");
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

}  // namespace
}  // namespace vireo::controllers
