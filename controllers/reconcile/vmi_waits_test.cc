// The waits of a VMI's status (vmi_waits.h), and DecideVmiAfterPodCreate
// whose single status they shape.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/conditions.h"
#include "controllers/reconcile/vmi.h"
#include "controllers/reconcile/vmi_test_util.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::Created;
using testing::Observe;
using testing::PhasesOf;
using testing::Pod;
using testing::PodState;
using testing::PodWithAccelVerdict;
using testing::Vmi;
using testing::VmiWithDataVolume;

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

TEST(DecideVmiAfterPodCreate, TheFirstStatusWaitsForRunning) {
  const VmiObservation obs = Observe(Vmi());
  const VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  const Json pod = Created(*d.create_pod);

  // Pending, Scheduling and Scheduled would each be overwritten a moment
  // later: nothing is written, the VMI is looked at again when the wait ends.
  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, pod);
  EXPECT_FALSE(after.status.has_value());
  EXPECT_TRUE(after.status_waits);
  EXPECT_EQ(after.requeue_after, seconds(3));
  EXPECT_FALSE(after.create_pod.has_value());

  // The informer shows the pod unbound, then bound: still nothing to write.
  VmiDecision seen = DecideVmi(Observe(obs.vmi, {pod}));
  EXPECT_FALSE(seen.status.has_value());
  EXPECT_TRUE(seen.status_waits);
  EXPECT_FALSE(seen.create_pod.has_value());
  Json bound = pod;
  bound["spec"]["nodeName"] = "node-1";
  seen = DecideVmi(Observe(obs.vmi, {bound}));
  EXPECT_FALSE(seen.status.has_value());
  EXPECT_TRUE(seen.status_waits);

  // Ready: one write says Running, with the pod in activePods.
  Json ready = Pod(obs.vmi, PodState::kRunningReady);
  ready["metadata"]["creationTimestamp"] = pod["metadata"]["creationTimestamp"];
  seen = DecideVmi(Observe(obs.vmi, {ready}));
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_FALSE(seen.status_waits);
  EXPECT_EQ(seen.status->phase, VmiPhase::kRunning);
  EXPECT_TRUE(api::ToJson(*seen.status).contains("activePods"));

  // A pod being deleted is written at once, in activePods, so that its end
  // fails the VMI instead of making another pod.
  Json deleting = bound;
  deleting["metadata"]["deletionTimestamp"] = At(seconds(0));
  seen = DecideVmi(Observe(obs.vmi, {deleting}));
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_FALSE(seen.status_waits);
  EXPECT_TRUE(api::ToJson(*seen.status).contains("activePods"));

  // An image that does not pull, and a creationTimestamp ahead of our clock
  // (the apiserver's), are written at once.
  Json pulling = Pod(obs.vmi, PodState::kImagePull);
  pulling["metadata"]["creationTimestamp"] = pod["metadata"]["creationTimestamp"];
  seen = DecideVmi(Observe(obs.vmi, {pulling}));
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_EQ(api::FindCondition(seen.status->conditions, "Synchronized")->reason, "ErrImagePull");
  Json ahead = bound;
  ahead["metadata"]["creationTimestamp"] = At(seconds(2));
  seen = DecideVmi(Observe(obs.vmi, {ahead}));
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_EQ(seen.status->phase, VmiPhase::kScheduled);

  // Still only bound when the wait ends: one write says Scheduled.
  bound["metadata"]["creationTimestamp"] = At(seconds(-3));
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
  late["metadata"]["creationTimestamp"] = At(seconds(-3));
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

// With no wait (here the pod is 3 s old), one status carries the decision's
// Pending and the Scheduling the pod leads to.
TEST(DecideVmiAfterPodCreate, OneStatusCarriesThePodJustMade) {
  const VmiObservation obs = Observe(Vmi());
  const VmiDecision d = DecideVmi(obs);
  ASSERT_TRUE(d.create_pod.has_value());
  ASSERT_EQ(d.status->phase, VmiPhase::kPending);

  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, Created(*d.create_pod, seconds(3)));
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
  const VmiDecision after = DecideVmiAfterPodCreate(obs, d, Created(*d.create_pod, seconds(3)));
  ASSERT_TRUE(after.status.has_value());
  EXPECT_EQ(after.status->phase, VmiPhase::kScheduling);
  EXPECT_EQ(api::FindCondition(after.status->conditions, "DataVolumesReady")->status, "True");

  // When that write waits for Running, the status written once the pod is
  // ready says it all the same.
  Json pod = Created(*d.create_pod);
  ASSERT_TRUE(DecideVmiAfterPodCreate(obs, d, pod).status_waits);
  Json ready = Pod(obs.vmi, PodState::kRunningReady);
  ready["metadata"]["creationTimestamp"] = pod["metadata"]["creationTimestamp"];
  VmiObservation running = obs;
  running.pods = {ready};
  const VmiDecision seen = DecideVmi(running);
  ASSERT_TRUE(seen.status.has_value());
  EXPECT_EQ(seen.status->phase, VmiPhase::kRunning);
  EXPECT_EQ(api::FindCondition(seen.status->conditions, "DataVolumesReady")->status, "True");
}

// A pod the reconciler made or saw while the first status waited, gone
// before that status recorded it, fails the VMI instead of making another.
TEST(DecideVmi, APodSeenWhileTheFirstStatusWaitedIsNotMadeAgain) {
  VmiObservation obs = Observe(Vmi());
  ASSERT_TRUE(DecideVmi(obs).create_pod.has_value());
  obs.pod_seen = true;
  const VmiDecision d = DecideVmi(obs);
  EXPECT_FALSE(d.create_pod.has_value());
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "PodVanished");
}

}  // namespace
}  // namespace vireo::controllers
