// T1: vireo-controller as a separate process, authenticated as the
// ServiceAccount of manifests/rbac, against the real apiserver. The test
// plays the kubelet (binding, pod status) and checks VM/VMI status, Events
// and objects after each step: every runStrategy, stop/start/restart through
// spec patches and stateChangeRequests, and deletion.
#include <gtest/gtest.h>

#include "lib/api/resources.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

std::string Uid(const Json& o) { return base::UidOf(o); }

bool HasFinalizer(const Json& o, const std::string& finalizer) {
  const Json* list = base::Find(o, "metadata.finalizers");
  if (list == nullptr || !list->is_array()) return false;
  for (const Json& f : *list) {
    if (f.is_string() && f.get<std::string>() == finalizer) return true;
  }
  return false;
}

class ControllerLifecycleTest : public ControllerTest {
 protected:
  // Waits for the VMI of `vm` (not `old_uid`), schedules its pod and lets
  // the launcher report the guest running. Returns the VMI.
  Json StartAndRun(const std::string& vm, const std::string& old_uid = "") {
    Json vmi = WaitFor(
        kv::kVirtualMachineInstances, vm, [&](const Json& o) { return Uid(o) != old_uid; },
        "a new VMI for " + vm);
    Json pod = WaitForPod(Uid(vmi));
    std::string name = base::NameOf(pod);
    EXPECT_TRUE(kubelet_->Bind(name).ok());
    EXPECT_TRUE(kubelet_->SetRunning(name).ok());
    return WaitFor(
        kv::kVirtualMachineInstances, vm,
        [&](const Json& o) { return Uid(o) == Uid(vmi) && PhaseOf(o) == "Running"; },
        "VMI " + vm + " Running");
  }
  // The launcher of the VMI `vmi` exits with `code`.
  void Exit(const Json& vmi, int code) {
    auto pods = PodsOf(Uid(vmi));
    ASSERT_EQ(pods.size(), 1u);
    ASSERT_TRUE(kubelet_->SetExited(base::NameOf(pods[0]), code).ok());
  }
  Json WaitVm(const std::string& name, const std::string& printable) {
    return WaitFor(
        kv::kVirtualMachines, name,
        [&](const Json& o) { return PrintableStatusOf(o) == printable; }, name + " " + printable);
  }
};

TEST_F(ControllerLifecycleTest, AlwaysFollowsThePodThroughEveryPhase) {
  Json vm = CreateVm("vm-a", "Always");
  Json vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-a", [](const Json&) { return true; }, "VMI made");
  // The VMI belongs to the VM and carries the template's labels.
  const Json& owner = vmi.at("metadata").at("ownerReferences").at(0);
  EXPECT_EQ(base::GetString(owner, "uid"), Uid(vm));
  EXPECT_EQ(base::GetBool(owner, "controller"), std::optional<bool>(true));
  EXPECT_EQ(vmi.at("metadata").at("labels").at("kubevirt.io/vm").get<std::string>(), "vm-a");
  EXPECT_TRUE(HasFinalizer(vmi, "kubevirt.io/foregroundDeleteVirtualMachine"));
  WaitFor(
      kv::kVirtualMachines, "vm-a",
      [](const Json& o) { return HasFinalizer(o, "kubevirt.io/virtualMachineControllerFinalize"); },
      "VM finalizer");

  Json pod = WaitForPod(Uid(vmi));
  std::string pod_name = base::NameOf(pod);
  EXPECT_EQ(pod_name.rfind("virt-launcher-vm-a-", 0), 0u) << pod_name;
  EXPECT_EQ(pod.at("metadata").at("ownerReferences").at(0).at("uid").get<std::string>(), Uid(vmi));
  EXPECT_EQ(base::GetBool(pod, "spec.automountServiceAccountToken"), std::optional<bool>(false));
  // The launcher: the last container, after the containerDisk's server.
  EXPECT_EQ(pod.at("spec").at("containers").back().at("name").get<std::string>(), "compute");
  EXPECT_EQ(pod.at("spec").at("containers").back().at("image").get<std::string>(),
            "vireo-launcher:t1");
  WaitFor(
      kv::kVirtualMachineInstances, "vm-a",
      [](const Json& o) { return PhaseOf(o) == "Scheduling"; }, "Scheduling once the pod exists");
  WaitVm("vm-a", "Starting");

  ASSERT_TRUE(kubelet_->Bind(pod_name).ok());
  vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-a", [](const Json& o) { return PhaseOf(o) == "Scheduled"; },
      "Scheduled once bound");
  EXPECT_EQ(base::GetString(vmi, "status.nodeName"), "node-1");

  ASSERT_TRUE(kubelet_->SetRunning(pod_name, "10.244.0.9").ok());
  vmi = WaitFor(
      kv::kVirtualMachineInstances, "vm-a",
      [](const Json& o) { return PhaseOf(o) == "Running" && ConditionOf(o, "Ready") == "True"; },
      "Running and Ready");
  EXPECT_EQ(vmi.at("status").at("interfaces").at(0).at("ipAddress").get<std::string>(),
            "10.244.0.9");
  vm = WaitFor(
      kv::kVirtualMachines, "vm-a",
      [](const Json& o) {
        return PrintableStatusOf(o) == "Running" && base::GetBool(o, "status.ready") == true;
      },
      "VM Running and ready");
  EXPECT_EQ(base::GetBool(vm, "status.created"), std::optional<bool>(true));
  WaitForEvent("VirtualMachine", "vm-a", "SuccessfulCreate");
  WaitForEvent("VirtualMachineInstance", "vm-a", "SuccessfulCreate");

  // The guest powers off: Succeeded, and Always starts it again as a new VMI.
  Exit(vmi, 0);
  WaitFor(
      kv::kVirtualMachineInstances, "vm-a",
      [&](const Json& o) { return Uid(o) != Uid(vmi) || PhaseOf(o) == "Succeeded"; },
      "Succeeded (or already replaced)");
  Json again = StartAndRun("vm-a", Uid(vmi));
  EXPECT_NE(Uid(again), Uid(vmi));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(vmi)).empty(); }, kLimit))
      << "the old launcher pod goes with its VMI";
  EXPECT_EQ(PodsOf(Uid(again)).size(), 1u);
}

TEST_F(ControllerLifecycleTest, RerunOnFailureRestartsAfterFailureOnly) {
  CreateVm("vm-r", "RerunOnFailure");
  Json first = StartAndRun("vm-r");
  Exit(first, 1);
  Json second = StartAndRun("vm-r", Uid(first));
  EXPECT_NE(Uid(second), Uid(first));
  Exit(second, 0);
  WaitVm("vm-r", "Stopped");
  // A guest that powered off stays off: the Succeeded VMI remains.
  auto vmi = Get(kv::kVirtualMachineInstances, "vm-r");
  ASSERT_TRUE(vmi.has_value());
  EXPECT_EQ(Uid(*vmi), Uid(second));
  EXPECT_EQ(PhaseOf(*vmi), "Succeeded");
}

TEST_F(ControllerLifecycleTest, OnceRunsOnce) {
  CreateVm("vm-o", "Once");
  Json vmi = StartAndRun("vm-o");
  Exit(vmi, 1);
  WaitVm("vm-o", "Stopped");
  auto after = Get(kv::kVirtualMachineInstances, "vm-o");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(Uid(*after), Uid(vmi)) << "Once never makes a second VMI";
  EXPECT_EQ(PhaseOf(*after), "Failed");
}

TEST_F(ControllerLifecycleTest, ManualActsOnlyOnStateChangeRequests) {
  CreateVm("vm-m", "Manual");
  WaitVm("vm-m", "Stopped");
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-m").has_value());

  ASSERT_TRUE(PatchStatus(kv::kVirtualMachines, "vm-m",
                          R"({"status": {"stateChangeRequests": [{"action": "Start"}]}})")
                  .ok());
  Json vmi = StartAndRun("vm-m");
  Json vm = WaitFor(
      kv::kVirtualMachines, "vm-m",
      [](const Json& o) {
        return PrintableStatusOf(o) == "Running" &&
               base::Find(o, "status.stateChangeRequests") == nullptr;
      },
      "Running with the Start request done");

  ASSERT_TRUE(PatchStatus(kv::kVirtualMachines, "vm-m",
                          R"({"status": {"stateChangeRequests": [{"action": "Stop", "uid": ")" +
                              Uid(vmi) + R"("}]}})")
                  .ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "vm-m"));
  EXPECT_TRUE(PodsOf(Uid(vmi)).empty());
  WaitVm("vm-m", "Stopped");
  WaitForEvent("VirtualMachine", "vm-m", "SuccessfulDelete");
}

TEST_F(ControllerLifecycleTest, StopStartRestartThroughSpecAndRequests) {
  CreateVm("vm-s", "Halted");
  WaitVm("vm-s", "Stopped");
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-s").has_value());

  // start: runStrategy Always
  ASSERT_TRUE(
      PatchSpec(kv::kVirtualMachines, "vm-s", R"({"spec": {"runStrategy": "Always"}})").ok());
  Json first = StartAndRun("vm-s");
  WaitVm("vm-s", "Running");

  // restart: stop this VMI, then start a new one
  ASSERT_TRUE(PatchStatus(kv::kVirtualMachines, "vm-s",
                          R"({"status": {"stateChangeRequests": [{"action": "Stop", "uid": ")" +
                              Uid(first) + R"("}, {"action": "Start"}]}})")
                  .ok());
  Json second = StartAndRun("vm-s", Uid(first));
  EXPECT_NE(Uid(second), Uid(first));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(first)).empty(); }, kLimit));

  // stop: runStrategy Halted
  ASSERT_TRUE(
      PatchSpec(kv::kVirtualMachines, "vm-s", R"({"spec": {"runStrategy": "Halted"}})").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "vm-s"));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(second)).empty(); }, kLimit));
  WaitVm("vm-s", "Stopped");

  // The deprecated `running` field: true is Always, false is Halted.
  ASSERT_TRUE(
      PatchSpec(kv::kVirtualMachines, "vm-s", R"({"spec": {"runStrategy": null, "running": true}})")
          .ok());
  Json third = StartAndRun("vm-s");
  ASSERT_TRUE(PatchSpec(kv::kVirtualMachines, "vm-s", R"({"spec": {"running": false}})").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "vm-s"));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(third)).empty(); }, kLimit));
  WaitVm("vm-s", "Stopped");
}

TEST_F(ControllerLifecycleTest, DeletingAVmRemovesItsVmiAndPod) {
  CreateVm("vm-d", "Always");
  Json vmi = StartAndRun("vm-d");
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-d").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-d"));
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "vm-d"));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(vmi)).empty(); }, kLimit));

  // A VM without a VMI is deleted at once: its finalizer waits for nothing.
  CreateVm("vm-h", "Halted");
  WaitFor(
      kv::kVirtualMachines, "vm-h",
      [](const Json& o) { return HasFinalizer(o, "kubevirt.io/virtualMachineControllerFinalize"); },
      "VM finalizer");
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-h").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-h"));
}

// The chart's MutatingAdmissionPolicy (manifests/vm-finalizer-policy.yaml)
// has the apiserver set the finalizer as the VM is made, so the controller
// has nothing to PATCH before it starts the VM (bench/controller counts the
// writes); deleting the VM still takes its VMI and pod with it.
TEST_F(ControllerLifecycleTest, TheFinalizerPolicySetsTheFinalizerOnCreate) {
  VmFinalizerPolicy policy(ns_);
  const base::Status installed = policy.Install();
  ASSERT_TRUE(installed.ok()) << installed.ToString();
  Json vm = CreateVm("vm-p", "Always");
  EXPECT_TRUE(HasFinalizer(vm, "kubevirt.io/virtualMachineControllerFinalize"))
      << "the create's reply carries the finalizer: " << base::DumpJson(vm.at("metadata"));
  Json vmi = StartAndRun("vm-p");
  WaitVm("vm-p", "Running");
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, "vm-p").ok());
  EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, "vm-p"));
  EXPECT_TRUE(WaitGone(kv::kVirtualMachines, "vm-p"));
  EXPECT_TRUE(Eventually([&] { return PodsOf(Uid(vmi)).empty(); }, kLimit));
}

TEST_F(ControllerLifecycleTest, ADeletedVmiIsReplacedForAlways) {
  CreateVm("vm-x", "Always");
  Json vmi = StartAndRun("vm-x");
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "vm-x").ok());
  Json replacement = StartAndRun("vm-x", Uid(vmi));
  EXPECT_NE(Uid(replacement), Uid(vmi));
  EXPECT_TRUE(PodsOf(Uid(vmi)).empty());
}

// Editing a running VM's template: the guest keeps running, the VM says
// RestartRequired (KubeVirt's condition) until a VMI of the new template runs.
TEST_F(ControllerLifecycleTest, ATemplateEditShowsRestartRequiredUntilTheRestart) {
  CreateVm("vm-e", "Always");
  Json vmi = StartAndRun("vm-e");
  EXPECT_EQ(ConditionOf(WaitVm("vm-e", "Running"), "RestartRequired"), "");
  ASSERT_TRUE(
      PatchSpec(kv::kVirtualMachines, "vm-e",
                R"({"spec": {"template": {"spec": {"domain": {"memory": {"guest": "96Mi"}}}}}})")
          .ok());
  Json vm = WaitFor(
      kv::kVirtualMachines, "vm-e",
      [](const Json& o) { return ConditionOf(o, "RestartRequired") == "True"; },
      "RestartRequired True");
  EXPECT_EQ(PrintableStatusOf(vm), "Running");
  EXPECT_TRUE(WaitForEvent("VirtualMachine", "vm-e", "RestartRequired"));
  EXPECT_EQ(Uid(*Get(kv::kVirtualMachineInstances, "vm-e")), Uid(vmi)) << "not restarted for it";

  // The restart (here: the VMI deleted) brings a VMI of the new template.
  ASSERT_TRUE(admin_->Delete(kv::kVirtualMachineInstances, ns_, "vm-e").ok());
  Json next = StartAndRun("vm-e", Uid(vmi));
  EXPECT_EQ(base::GetString(next, "spec.domain.memory.guest"), "96Mi");
  WaitFor(
      kv::kVirtualMachines, "vm-e",
      [](const Json& o) {
        return ConditionOf(o, "RestartRequired").empty() && PrintableStatusOf(o) == "Running";
      },
      "RestartRequired gone after the restart");
}

}  // namespace
}  // namespace vireo::testing
