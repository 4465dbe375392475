// T1: what vireo-controller reports when things go wrong (missing PVC, no
// node, a launcher that fails before the guest runs, a pod that vanishes or
// only leaves the cache, a missing instance type), standalone VMIs, instance types and preferences,
// its endpoints, and its command line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "lib/api/resources.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using ::testing::HasSubstr;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class ControllerStatusTest : public ControllerTest {
 protected:
  // The launcher pod of a VMI made on its own (no VM) from the test VM's
  // template, once the controller has written the VMI's defaults.
  Json StandaloneVmiPod(const std::string& name) {
    Json vmi = MakeVm(name)["spec"]["template"];
    vmi["apiVersion"] = Json("kubevirt.io/v1");
    vmi["kind"] = Json("VirtualMachineInstance");
    vmi["metadata"] = Json::object();
    vmi["metadata"]["name"] = Json(name);
    EXPECT_TRUE(admin_->Create(kv::kVirtualMachineInstances, ns_, vmi).ok());
    // Defaults are written into the VMI, so it shows what runs.
    Json defaulted = WaitFor(
        kv::kVirtualMachineInstances, name,
        [](const Json& o) { return base::GetString(o, "spec.domain.machine.type") == "q35"; },
        "defaults applied");
    return WaitForPod(base::UidOf(defaulted));
  }
  // StandaloneVmiPod("name") bound and Running, then taken out of the
  // launcher pods' label selector and gone from the controller's cache
  // while it runs on: a cache that does not show a pod the apiserver has.
  Json RunningPodTheCacheDrops(const std::string& name) {
    Json pod = StandaloneVmiPod(name);
    EXPECT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
    EXPECT_TRUE(kubelet_->SetRunning(base::NameOf(pod)).ok());
    WaitFor(
        kv::kVirtualMachineInstances, name, [](const Json& o) { return PhaseOf(o) == "Running"; },
        "Running");
    Json unlabel;
    unlabel["metadata"]["labels"]["kubevirt.io"] = nullptr;
    EXPECT_TRUE(
        admin_->Patch(res::kPods, ns_, base::NameOf(pod), kube::PatchType::kMerge, unlabel).ok());
    EXPECT_TRUE(Eventually(
        [&] { return controller_->Metric(R"(vireo_cached_objects{resource="pods"})") == 0.0; },
        kLimit))
        << "the informer dropped the pod";
    return pod;
  }
};

TEST_F(ControllerStatusTest, AMissingPvcHoldsTheStartUntilItExists) {
  Json vm = NewVm("vm-pvc", "Always");
  vm["spec"]["template"]["spec"]["volumes"][1] =
      JsonOf(R"({"name": "data", "persistentVolumeClaim": {"claimName": "disk-a"}})");
  vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"][1] =
      JsonOf(R"({"name": "data", "disk": {"bus": "virtio"}})");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, vm).ok());
  WaitFor(
      kv::kVirtualMachines, "vm-pvc",
      [](const Json& o) { return PrintableStatusOf(o) == "ErrorPvcNotFound"; }, "ErrorPvcNotFound");
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-pvc").has_value());

  ASSERT_TRUE(admin_
                  ->Create(res::kPersistentVolumeClaims, ns_, JsonOf(R"({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "disk-a"},
    "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Block",
             "resources": {"requests": {"storage": "1Gi"}}}})"))
                  .ok());
  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-pvc", [](const Json&) { return true; },
      "a VMI once the claim exists");
  Json pod = WaitForPod(base::UidOf(vmi));
  // A block claim reaches the launcher as a device.
  EXPECT_THAT(base::DumpJson(pod), HasSubstr("/dev/vireo/data"));
}

// A VM naming an instance type that does not exist yet says so and waits;
// once it and the preference exist, the VMI has their vCPUs, memory and
// disk bus.
TEST_F(ControllerStatusTest, AnInstancetypeAndPreferenceShapeTheVmi) {
  // Cluster-wide, so named after this test's namespace.
  const std::string instancetype = ns_ + "-size";
  Json vm = NewVm("vm-it", "Always");
  Json& domain = vm["spec"]["template"]["spec"]["domain"];
  domain.erase("memory");
  domain["devices"]["disks"][0] = JsonOf(R"({"name": "root"})");
  vm["spec"]["instancetype"] = JsonOf(R"({"name": ")" + instancetype + R"("})");
  vm["spec"]["preference"] = JsonOf(R"({"name": "linux", "kind": "VirtualMachinePreference"})");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, vm).ok());
  const std::string missing = "VirtualMachineClusterInstancetype " + instancetype + " not found";
  WaitFor(
      kv::kVirtualMachines, "vm-it",
      [&](const Json& o) { return base::DumpJson(o).find(missing) != std::string::npos; },
      "a Failure condition saying " + missing);
  EXPECT_TRUE(WaitForEvent("VirtualMachine", "vm-it", "FailedCreate"));
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-it").has_value());

  ASSERT_TRUE(admin_
                  ->Create(kv::kVirtualMachineClusterInstancetypes, "", JsonOf(R"({
    "apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
    "metadata": {"name": ")" + instancetype + R"("},
    "spec": {"cpu": {"guest": 2}, "memory": {"guest": "96Mi"}}})"))
                  .ok());
  ASSERT_TRUE(admin_
                  ->Create(kv::kVirtualMachinePreferences, ns_, JsonOf(R"({
    "apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachinePreference",
    "metadata": {"name": "linux"},
    "spec": {"cpu": {"preferredCPUTopology": "cores"}, "devices": {"preferredDiskBus": "sata"}}})"))
                  .ok());
  // Nothing watches instance types: the VM looks again within 15 s.
  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-it", [](const Json&) { return true; },
      "a VMI once the instance type exists");
  EXPECT_EQ(vmi["spec"]["domain"]["cpu"], JsonOf(R"({"sockets": 1, "cores": 2, "threads": 1})"));
  EXPECT_EQ(base::GetString(vmi, "spec.domain.memory.guest"), "96Mi");
  EXPECT_EQ(vmi["spec"]["domain"]["devices"]["disks"][0]["disk"]["bus"], "sata");
  EXPECT_EQ(vmi["metadata"]["annotations"]["kubevirt.io/cluster-instancetype-name"], instancetype);
  EXPECT_EQ(vmi["metadata"]["annotations"]["kubevirt.io/preference-name"], "linux");
  WaitFor(
      kv::kVirtualMachines, "vm-it",
      [](const Json& o) { return ConditionOf(o, "Failure").empty(); },
      "the Failure condition gone");

  // While the VMI made from the VM's generation lives, the VM's reconciles
  // (one for each VMI status here) read no instance type
  // (NeedsExpandedTemplate): one edited now is not compared with the VMI,
  // which would make the VM RestartRequired.
  Json bigger;
  bigger["spec"]["memory"]["guest"] = "128Mi";
  ASSERT_TRUE(admin_
                  ->Patch(kv::kVirtualMachineClusterInstancetypes, "", instancetype,
                          kube::PatchType::kMerge, bigger)
                  .ok());
  const Json pod = WaitForPod(base::UidOf(vmi));
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  ASSERT_TRUE(kubelet_->SetRunning(base::NameOf(pod)).ok());
  Json running = WaitFor(
      kv::kVirtualMachines, "vm-it",
      [](const Json& o) { return PrintableStatusOf(o) == "Running"; }, "Running");
  EXPECT_EQ(ConditionOf(running, "RestartRequired"), "");
  EXPECT_TRUE(admin_->Delete(kv::kVirtualMachineClusterInstancetypes, "", instancetype).ok());
}

TEST_F(ControllerStatusTest, AnUnschedulablePodShowsOnTheVm) {
  CreateVm("vm-u", "Always");
  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-u", [](const Json&) { return true; }, "VMI made");
  Json pod = WaitForPod(base::UidOf(vmi));
  ASSERT_TRUE(kubelet_->SetUnschedulable(base::NameOf(pod)).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "vm-u",
      [](const Json& o) { return ConditionOf(o, "PodScheduled") == "False"; },
      "PodScheduled False on the VMI");
  WaitFor(
      kv::kVirtualMachines, "vm-u",
      [](const Json& o) { return PrintableStatusOf(o) == "ErrorUnschedulable"; },
      "ErrorUnschedulable");
}

TEST_F(ControllerStatusTest, ALauncherThatFailsBeforeRunningBacksOff) {
  CreateVm("vm-c", "Always");
  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-c", [](const Json&) { return true; }, "VMI made");
  Json pod = WaitForPod(base::UidOf(vmi));
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  ASSERT_TRUE(kubelet_->SetExited(base::NameOf(pod), 3).ok());
  Json vm = WaitFor(
      kv::kVirtualMachines, "vm-c",
      [](const Json& o) { return PrintableStatusOf(o) == "CrashLoopBackOff"; }, "CrashLoopBackOff");
  EXPECT_EQ(base::GetInt(vm, "status.startFailure.consecutiveFailCount"),
            std::optional<int64_t>(1));
  EXPECT_EQ(base::GetString(vm, "status.startFailure.lastFailedVMIUID"), base::UidOf(vmi));
  // The failed VMI ended Failed and is removed; the next waits for the back-off.
  EXPECT_TRUE(Eventually(
      [&] {
        auto now = Get(kv::kVirtualMachineInstances, "vm-c");
        return !now.has_value() || base::UidOf(*now) != base::UidOf(vmi) ||
               PhaseOf(*now) == "Failed";
      },
      kLimit));
}

TEST_F(ControllerStatusTest, AStandaloneVmiFailsWhenItsPodVanishes) {
  const Json pod = StandaloneVmiPod("solo");
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  ASSERT_TRUE(kubelet_->SetRunning(base::NameOf(pod)).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "solo", [](const Json& o) { return PhaseOf(o) == "Running"; },
      "Running");

  Json failed = ForceDeletePodUntilFailed(base::NameOf(pod), "solo");
  EXPECT_FALSE(base::GetString(failed, "status.reason").empty());
  // A VMI never gets a second pod.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(PodsOf(base::UidOf(failed)).empty());

  // Deleting it removes its finalizer and lets it go.
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "solo").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "solo"));
}

// The VMI's first status waits up to 3 s for Running (reconcile/vmi.h,
// "Writes"): a pod bound and force-deleted in those seconds, before the
// status records it, fails the VMI all the same, and no second pod is made.
// A controller that sees the pod marked deleted writes the status at once;
// one whose informer shows only its removal remembers the pod it made
// (pod_seen, controllers/pods_seen.h). Runs here have taken both paths
// (the unit test of PodsSeen takes the second for sure); both must keep to
// one pod.
TEST_F(ControllerStatusTest, APodForceDeletedBeforeTheFirstStatusFailsTheVmi) {
  const Json pod = StandaloneVmiPod("early");
  ASSERT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
  auto before = admin_->Get(kv::kVirtualMachineInstances, ns_, "early");
  ASSERT_TRUE(before.ok());
  // Else the status recorded the pod already and this shows nothing. (A VMI
  // made without defaults shows Pending from the write that adds them.)
  ASSERT_TRUE(PhaseOf(*before) == "" || PhaseOf(*before) == "Pending") << PhaseOf(*before);
  ASSERT_EQ(base::Find(*before, "status.activePods"), nullptr)
      << "the first status came before the delete";

  Json failed = ForceDeletePodUntilFailed(base::NameOf(pod), "early");
  EXPECT_EQ(base::GetString(failed, "status.reason"), "PodVanished");
  // A second pod (the same name, another uid) would be in activePods.
  if (const Json* active = base::Find(failed, "status.activePods")) {
    for (const auto& [uid, node] : active->items()) {
      EXPECT_EQ(uid, base::UidOf(pod)) << "a second pod was made: " << active->dump();
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(PodsOf(base::UidOf(failed)).empty());
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "early").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "early"));
}

// A pod the cache no longer shows is not taken for gone until the apiserver
// says so (VmiReconciler::LivePodOf): an informer may lag its apiserver by
// more than a create expectation's 30 s. Here the pod leaves the launcher
// pods' label selector, so the informer drops it while it runs on; only its
// deletion then fails the VMI.
TEST_F(ControllerStatusTest, APodTheCacheDropsIsAskedForBeforeTheVmiFails) {
  const Json pod = RunningPodTheCacheDrops("lagging");
  ASSERT_FALSE(HasFailure());
  // A reconcile after the cache dropped the pod: the annotation's.
  const auto reconciles = [&] {
    return controller_->Metric(R"(vireo_reconcile_total{controller="vmi"})").value_or(-1);
  };
  const double before = reconciles();
  Json touch;
  touch["metadata"]["annotations"]["vireo.test/touch"] = "1";
  ASSERT_TRUE(
      admin_->Patch(kv::kVirtualMachineInstances, ns_, "lagging", kube::PatchType::kMerge, touch)
          .ok());
  EXPECT_TRUE(Eventually([&] { return reconciles() > before; }, kLimit));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto running = Get(kv::kVirtualMachineInstances, "lagging");
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(PhaseOf(*running), "Running") << base::GetString(*running, "status.reason");

  // No event tells of the pod now: the VMI is looked at again 10 s after
  // the cache dropped it (LivePodRechecks).
  Json failed = ForceDeletePodUntilFailed(base::NameOf(pod), "lagging");
  EXPECT_EQ(base::GetString(failed, "status.reason"), "PodVanished");
  EXPECT_TRUE(PodsOf(base::UidOf(failed)).empty());
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "lagging").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "lagging"));
}

// The same for a VMI being deleted: its finalizer holds while the pod its
// cache no longer shows exists, so no new VMI boots on the same disks while
// the guest may still run; the controller deletes that pod itself.
TEST_F(ControllerStatusTest, APodTheCacheDropsHoldsTheVmisDeletion) {
  const Json pod = RunningPodTheCacheDrops("held");
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "held").ok());
  // With no kubelet to finish it, the pod stays Terminating.
  WaitFor(
      res::kPods, base::NameOf(pod),
      [](const Json& o) { return base::Find(o, "metadata.deletionTimestamp") != nullptr; },
      "the pod being deleted");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(Get(kv::kVirtualMachineInstances, "held").has_value())
      << "the VMI went while its pod was still there";

  ASSERT_TRUE(ForceDeletePod(base::NameOf(pod)));
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "held"));
}

TEST_F(ControllerStatusTest, HealthReadinessAndMetrics) {
  std::string body;
  EXPECT_EQ(HttpGet(controller_->health_port(), "/healthz", &body), 200);
  EXPECT_EQ(body, "ok\n");
  EXPECT_EQ(HttpGet(controller_->health_port(), "/readyz", &body), 200);
  EXPECT_EQ(HttpGet(controller_->health_port(), "/nothing", &body), 404);

  CreateVm("vm-m", "Always");
  WaitFor(
      kv::kVirtualMachineInstances, "vm-m", [](const Json&) { return true; }, "VMI made");
  // A reconcile is counted when it returns, a moment after its writes show.
  ASSERT_TRUE(Eventually(
      [&] {
        return controller_->Metric(R"(vireo_cached_objects{resource="pods"})") == 1.0 &&
               controller_->Metric(R"(vireo_reconcile_total{controller="vm"})").value_or(0) >= 1 &&
               controller_->Metric(R"(vireo_reconcile_total{controller="vmi"})").value_or(0) >= 1;
      },
      kLimit))
      << "pods cached, VM and VMI reconciles counted";
  EXPECT_EQ(controller_->Metric(R"(vireo_cached_objects{resource="virtualmachines"})"), 1.0);
  EXPECT_TRUE(controller_->Metric(R"(vireo_reconcile_errors_total{controller="vm"})").has_value());
  EXPECT_TRUE(controller_->Metric(R"(vireo_reconcile_duration_seconds_count{controller="vmi"})")
                  .has_value());
  EXPECT_TRUE(controller_->Metric(R"(vireo_workqueue_depth{queue="vm"})").has_value());
  EXPECT_EQ(controller_->Metric("vireo_leader"), 1.0);
  EXPECT_GT(controller_->Metric("process_resident_memory_bytes").value_or(0), 0.0);
  ASSERT_EQ(HttpGet(controller_->metrics_port(), "/metrics", &body), 200);
  EXPECT_THAT(body, HasSubstr("# TYPE vireo_reconcile_duration_seconds histogram"));
}

TEST_F(ControllerStatusTest, QuietInSteadyState) {
  CreateVm("vm-q", "Halted");
  WaitFor(
      kv::kVirtualMachines, "vm-q", [](const Json& o) { return PrintableStatusOf(o) == "Stopped"; },
      "Stopped");
  // Nothing changes now: the controller writes nothing more and logs
  // nothing at info level.
  auto before = Get(kv::kVirtualMachines, "vm-q");
  ASSERT_TRUE(before.has_value());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto after = Get(kv::kVirtualMachines, "vm-q");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(base::ResourceVersionOf(*after), base::ResourceVersionOf(*before));
  std::string log = controller_->Log();
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(R"("level":"info")"), 1u) << "only the start-up line:\n" << log;
  EXPECT_EQ(count(R"("level":"warn")"), 0u) << log;
  EXPECT_EQ(count(R"("level":"error")"), 0u) << log;
}

TEST(ControllerCommandLineTest, BadFlagsAndHelp) {
  std::string bin = std::getenv("VIREO_CONTROLLER_BIN") ? std::getenv("VIREO_CONTROLLER_BIN") : "";
  ASSERT_FALSE(bin.empty());
  std::string out;
  EXPECT_EQ(RunCommand(bin + " --emulation=kvm", &out), 2);
  EXPECT_THAT(out, HasSubstr("--emulation=kvm: expected auto, on or off"));
  EXPECT_EQ(RunCommand(bin + " --workers", &out), 2);
  EXPECT_THAT(out, HasSubstr("--workers needs a value"));
  EXPECT_EQ(RunCommand(bin + " --help", &out), 0);
  EXPECT_THAT(out, HasSubstr("--leader-elect"));
  // No cluster to be found: a message, exit 1.
  EXPECT_EQ(RunCommand(bin + " --kubeconfig=/nonexistent/kubeconfig", &out), 1);
  EXPECT_THAT(out, HasSubstr("/nonexistent/kubeconfig"));
}

}  // namespace
}  // namespace vireo::testing
