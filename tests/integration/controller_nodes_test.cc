// T1: how vireo-controller ends a launcher pod: the grace period a deletion
// gives it, and what a dead or deleted node does to its VMI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "lib/api/resources.h"
#include "lib/base/timestamp.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using ::testing::HasSubstr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class ControllerNodesTest : public ControllerTest {
 protected:
  struct Started {
    std::string vmi_uid;
    std::string pod;
  };
  // A VM `vm` (runStrategy Always) Running with its launcher pod bound to
  // node `node`; then the fake kubelet stops, as with a dead node: nothing
  // finishes a pod's deletion any more.
  Started RunningWithoutKubelet(const std::string& vm, const std::string& node) {
    CreateVm(vm, "Always");
    Json vmi = WaitFor(
        kv::kVirtualMachineInstances, vm, [](const Json&) { return true; }, "VMI made");
    Started started{base::UidOf(vmi), base::NameOf(WaitForPod(base::UidOf(vmi)))};
    EXPECT_TRUE(kubelet_->Bind(started.pod, node).ok());
    EXPECT_TRUE(kubelet_->SetRunning(started.pod).ok());
    WaitFor(
        kv::kVirtualMachineInstances, vm, [](const Json& o) { return PhaseOf(o) == "Running"; },
        "Running");
    kubelet_.reset();
    return started;
  }
};

// `virtctl stop --grace-period N` patches the running VMI's
// terminationGracePeriodSeconds and then stops it: the launcher pod's
// DELETE must carry N + the launcher margin (15 s), not the period the pod
// was made with. With no kubelet to finish it, the pod stays Terminating and
// shows the period it was given.
TEST_F(ControllerNodesTest, ALauncherPodIsDeletedWithTheVmisCurrentGracePeriod) {
  Json vmi = NewVmi("graceful");
  vmi["spec"]["terminationGracePeriodSeconds"] = Json(100);
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachineInstances, ns_, vmi).ok());
  Json stored = WaitFor(
      kv::kVirtualMachineInstances, "graceful",
      [](const Json& o) { return !base::GetString(o, "spec.domain.machine.type").empty(); },
      "defaults applied");
  Json pod = WaitForPod(base::UidOf(stored));
  const std::string pod_name = base::NameOf(pod);
  EXPECT_EQ(base::GetInt(pod, "spec.terminationGracePeriodSeconds"), std::optional<int64_t>(115));
  // A pod on no node is deleted at once whatever the period: bind it. And
  // no fake kubelet from here on: nothing finishes the deletion.
  ASSERT_TRUE(kubelet_->Bind(pod_name).ok());
  ASSERT_TRUE(kubelet_->SetRunning(pod_name).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "graceful",
      [](const Json& o) { return PhaseOf(o) == "Running"; }, "Running");
  kubelet_.reset();

  ASSERT_TRUE(PatchSpec(kv::kVirtualMachineInstances, "graceful",
                        R"({"spec": {"terminationGracePeriodSeconds": 200}})")
                  .ok());
  WaitFor(
      kv::kVirtualMachineInstances, "graceful",
      [](const Json& o) {
        return base::GetInt(o, "spec.terminationGracePeriodSeconds") == std::optional<int64_t>(200);
      },
      "the patched grace period stored");
  // Let the controller's cache see the patch before the delete.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "graceful").ok());
  Json terminating = WaitFor(
      res::kPods, pod_name,
      [](const Json& o) { return !base::GetString(o, "metadata.deletionTimestamp").empty(); },
      "the launcher pod Terminating");
  EXPECT_EQ(base::GetInt(terminating, "metadata.deletionGracePeriodSeconds"),
            std::optional<int64_t>(215));
  // The VMI waits for its pod (its finalizer) meanwhile.
  EXPECT_TRUE(Get(kv::kVirtualMachineInstances, "graceful").has_value());

  // Play the kubelet that finished: the pod and then the VMI go.
  ASSERT_TRUE(ForceDeletePod(pod_name));
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "graceful"));
}

// Plays a node: a Node object whose Ready condition the test sets through
// the status subresource, removed at the end.
class FakeNode {
 public:
  FakeNode(kube::Client* admin, std::string name) : admin_(admin), name_(std::move(name)) {
    auto created = admin_->Create(kNodes, "", JsonOf(R"({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": ")" + name_ + R"("}})"));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    EXPECT_TRUE(SetReady("True", std::chrono::seconds(0)).ok());
  }
  ~FakeNode() { (void)admin_->Delete(kNodes, "", name_); }
  // Ready = `status` since `ago`.
  base::Status SetReady(const std::string& status, std::chrono::seconds ago) {
    const std::string since = base::FormatTime(base::Clock::Real()->WallNow() - ago);
    return admin_
        ->Patch(kNodes, "", name_, kube::PatchType::kMerge,
                JsonOf(R"({"status": {"conditions": [
            {"type": "Ready", "status": ")" +
                       status + R"(", "reason": "Test",
             "lastHeartbeatTime": ")" +
                       since + R"(", "lastTransitionTime": ")" + since + R"("}]}})"),
                "status")
        .status();
  }
  // What an admin does once the machine is known to be down.
  base::Status TaintOutOfService() {
    return admin_
        ->Patch(kNodes, "", name_, kube::PatchType::kMerge, JsonOf(R"({"spec": {"taints": [
            {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown",
             "effect": "NoExecute"}]}})"))
        .status();
  }
  base::Status Delete() { return admin_->Delete(kNodes, "", name_); }
  const std::string& name() const { return name_; }

  static inline const kube::Resource kNodes{"", "v1", "nodes", "Node", false};

 private:
  kube::Client* const admin_;
  const std::string name_;
};

// A node stops reporting (Ready=Unknown beyond the grace): the running VMI
// fails with the reason and words, and runStrategy Always replaces it, but
// only after the old pod is gone: while the node may still run the guest the
// pod is not force-deleted, so the VM waits. The admin's out-of-service
// taint lets the controller force-delete it, and the new VMI starts.
TEST_F(ControllerNodesTest, ADeadNodeFailsTheVmiAndTheOutOfServiceTaintLetsItMove) {
  FakeNode node(admin_.get(), "node-" + ns_);
  const Started started = RunningWithoutKubelet("vm-n", node.name());
  const std::string& uid = started.vmi_uid;
  const std::string& pod_name = started.pod;
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(node.SetReady("Unknown", std::chrono::minutes(10)).ok());
  // The VM replaces the failed VMI at once, so look for the failure on the
  // VMI (Failed, or being deleted) and in its Event.
  Json failed = WaitFor(
      kv::kVirtualMachineInstances, "vm-n",
      [&](const Json& o) { return base::UidOf(o) == uid && PhaseOf(o) == "Failed"; },
      "the VMI Failed");
  EXPECT_EQ(base::GetString(failed, "status.reason"), "NodeUnresponsive");
  EXPECT_THAT(SynchronizedMessage(failed), HasSubstr(node.name()));
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-n", "NodeUnresponsive"));

  // Not force-deleted: the pod hangs Terminating, the old VMI waits for it,
  // and no second VMI boots the guest twice.
  WaitFor(
      res::kPods, pod_name,
      [](const Json& o) { return !base::GetString(o, "metadata.deletionTimestamp").empty(); },
      "the pod deleted gracefully once the VM replaces the VMI");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(Get(res::kPods, pod_name).has_value()) << "force-deleted while the node may run it";
  auto still = Get(kv::kVirtualMachineInstances, "vm-n");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(base::UidOf(*still), uid);

  ASSERT_TRUE(node.TaintOutOfService().ok());
  EXPECT_TRUE(WaitGone(res::kPods, pod_name)) << "force-deleted once out of service";
  Json next = WaitFor(
      kv::kVirtualMachineInstances, "vm-n", [&](const Json& o) { return base::UidOf(o) != uid; },
      "a new VMI");
  WaitForPod(base::UidOf(next));
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-n", "ForceDelete"));
}

// A VM deleted while its guest runs, and its node stops reporting: the
// launcher pod stays Terminating and the VMI's finalizer with it. Once the
// node has been silent for the grace, the VMI says why in its Synchronized
// condition and an Event; the out-of-service taint lets the deletion end.
TEST_F(ControllerNodesTest, ADeletionHeldByASilentNodeSaysWhy) {
  FakeNode node(admin_.get(), "node-" + ns_);
  const std::string pod_name = RunningWithoutKubelet("vm-d", node.name()).pod;
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-d").ok());
  WaitFor(
      res::kPods, pod_name,
      [](const Json& o) { return !base::GetString(o, "metadata.deletionTimestamp").empty(); },
      "the launcher pod Terminating");
  ASSERT_TRUE(node.SetReady("Unknown", std::chrono::minutes(1)).ok());
  Json held = WaitFor(
      kv::kVirtualMachineInstances, "vm-d",
      [](const Json& o) { return ConditionOf(o, "Synchronized") == "False"; },
      "the VMI being deleted saying what holds it");
  EXPECT_NE(PhaseOf(held), "Failed") << "the guest may still run: the VMI did not end";
  EXPECT_THAT(SynchronizedMessage(held), HasSubstr("deletion waits for launcher pod " + pod_name));
  EXPECT_THAT(SynchronizedMessage(held), HasSubstr(node.name()));
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-d", "NodeUnresponsive"));
  ASSERT_TRUE(Get(res::kPods, pod_name).has_value()) << "force-deleted while the node may run it";

  ASSERT_TRUE(node.TaintOutOfService().ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-d")) << "the deletion ends once out of service";
}

// The Node object deleted: Kubernetes says the machine is gone, so the pod
// is force-deleted at once, and deleting the VM does not hang on it.
TEST_F(ControllerNodesTest, ADeletedNodeFreesTheVmAtOnce) {
  FakeNode node(admin_.get(), "node-" + ns_);
  const std::string pod_name = RunningWithoutKubelet("vm-g", node.name()).pod;
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(node.Delete().ok());
  EXPECT_TRUE(WaitGone(res::kPods, pod_name));
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-g").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-g")) << "deleting the VM must not hang";
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-g", "NodeGone"));
}

}  // namespace
}  // namespace vireo::testing
