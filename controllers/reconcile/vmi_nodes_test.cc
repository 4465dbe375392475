// DecideVmi and dead nodes: the node's Ready condition, its out-of-service
// taint and a pod's DisruptionTarget decide when a VMI fails and when its pod
// is force-deleted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/reconcile/pod_summary.h"
#include "controllers/reconcile/vmi.h"
#include "controllers/reconcile/vmi_test_util.h"

namespace vireo::controllers {
namespace {

using api::VmiPhase;
using std::chrono::seconds;
using testing::At;
using testing::Observe;
using testing::Pod;
using testing::PodState;
using testing::Vmi;

NodeState Ready(const std::string& status, seconds since) {
  NodeState node;
  node.ready = status;
  node.ready_since = At(since);
  return node;
}

// `d` fails the VMI for its silent node, with `words` and what the admin
// does in its Synchronized condition, and force-deletes no pod.
void ExpectNodeUnresponsive(const VmiDecision& d, const std::string& words) {
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kFailed);
  EXPECT_EQ(d.status->reason, "NodeUnresponsive");
  const api::Condition* sync = api::FindCondition(d.status->conditions, kConditionSynchronized);
  ASSERT_NE(sync, nullptr);
  EXPECT_THAT(sync->message, ::testing::HasSubstr(words));
  EXPECT_THAT(sync->message, ::testing::HasSubstr("node.kubernetes.io/out-of-service"));
  EXPECT_TRUE(d.delete_pods.empty()) << "never force-delete a pod the node may still run";
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
    SCOPED_TRACE(ready);
    ExpectNodeUnresponsive(DecideVmi(obs), "node-1");
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

// A VMI deleted while its node is silent: the pod stays Terminating and
// the finalizer waits for it. Once the node has been silent for the grace,
// the VMI says what holds it, once; its phase stays what the pod says.
TEST(DecideVmiNodes, AVmiBeingDeletedSaysThatItsPodWaitsForASilentNode) {
  api::VirtualMachineInstance going = Vmi(VmiPhase::kRunning);
  going.metadata.deletion_timestamp = At(seconds(-5));
  Json stuck = Pod(going, PodState::kRunningReady);
  stuck["metadata"]["deletionTimestamp"] = Json(At(seconds(-5)));
  VmiObservation obs = Observe(going, {stuck});
  obs.node_grace = seconds(30);

  // A blip during an ordinary stop: nothing yet, a look when the grace ends.
  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-1))}};
  VmiDecision d = DecideVmi(obs);
  EXPECT_TRUE(!d.status.has_value() || d.status->phase == VmiPhase::kRunning);
  EXPECT_EQ(api::FindCondition(d.status.value_or(going.status).conditions, kConditionSynchronized),
            nullptr);
  EXPECT_TRUE(d.events.empty());
  ASSERT_TRUE(d.requeue_after.has_value());
  EXPECT_GE(*d.requeue_after, seconds(29));
  EXPECT_LE(*d.requeue_after, seconds(30));

  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-60))}};
  d = DecideVmi(obs);
  EXPECT_TRUE(d.delete_pods.empty()) << "the node may still run the guest";
  EXPECT_FALSE(d.finalizers.has_value()) << "the finalizer waits for the pod";
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(d.status->phase, VmiPhase::kRunning) << "the guest may still run";
  const api::Condition* sync = api::FindCondition(d.status->conditions, kConditionSynchronized);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(sync->status, "False");
  EXPECT_EQ(sync->reason, "NodeUnresponsive");
  EXPECT_THAT(sync->message, ::testing::HasSubstr("deletion waits for launcher pod"));
  EXPECT_THAT(sync->message, ::testing::HasSubstr("node-1"));
  EXPECT_THAT(sync->message, ::testing::HasSubstr("node.kubernetes.io/out-of-service"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, kube::EventType::kWarning);
  EXPECT_EQ(d.events[0].reason, "NodeUnresponsive");

  // Said once: looked at again, nothing changes and nothing is said.
  const api::VirtualMachineInstanceStatus held = *d.status;
  obs.vmi.status = held;
  d = DecideVmi(obs);
  EXPECT_FALSE(d.status.has_value());
  EXPECT_TRUE(d.events.empty());

  // A pod disrupted by Kubernetes on a silent node is said at once.
  obs.vmi.status = going.status;
  Json evicted = stuck;
  evicted["status"]["conditions"][1] = base::ParseJson(R"({"type": "DisruptionTarget",
      "status": "True", "reason": "DeletionByTaintManager", "message": "Taint manager"})",
                                                       "c")
                                           .value();
  obs.pods = {evicted};
  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-1))}};
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  sync = api::FindCondition(d.status->conditions, kConditionSynchronized);
  ASSERT_NE(sync, nullptr);
  EXPECT_THAT(sync->message, ::testing::HasSubstr("DeletionByTaintManager"));

  // On a Ready node the kubelet is stopping the guest: nothing to say.
  obs.pods = {stuck};
  obs.nodes = Nodes{{"node-1", Ready("True", seconds(-60))}};
  d = DecideVmi(obs);
  EXPECT_TRUE(!d.status.has_value() || d.status->phase == VmiPhase::kRunning);
  EXPECT_TRUE(d.events.empty());
  // ... and what was said goes once the node is back.
  obs.vmi.status = held;
  d = DecideVmi(obs);
  ASSERT_TRUE(d.status.has_value());
  EXPECT_EQ(api::FindCondition(d.status->conditions, kConditionSynchronized), nullptr);
  EXPECT_TRUE(d.events.empty());
}

// A VMI that ended for another reason keeps its words while its deletion
// waits: they say why it failed, after the Event expires.
TEST(DecideVmiNodes, AnEndedVmiBeingDeletedKeepsItsOwnWords) {
  api::VirtualMachineInstance going = Vmi(VmiPhase::kFailed);
  testing::SetFailed(&going.status, "LauncherFailed", "the launcher exited with 4");
  going.metadata.deletion_timestamp = At(seconds(-5));
  Json stuck = Pod(going, PodState::kRunningReady);
  stuck["metadata"]["deletionTimestamp"] = Json(At(seconds(-5)));
  VmiObservation obs = Observe(going, {stuck});
  obs.nodes = Nodes{{"node-1", Ready("Unknown", seconds(-3600))}};
  const VmiDecision d = DecideVmi(obs);
  const api::VirtualMachineInstanceStatus& after = d.status.value_or(going.status);
  const api::Condition* sync = api::FindCondition(after.conditions, kConditionSynchronized);
  ASSERT_NE(sync, nullptr);
  EXPECT_EQ(sync->message, "the launcher exited with 4");
  EXPECT_EQ(after.reason, "LauncherFailed");
  EXPECT_TRUE(d.events.empty());
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
