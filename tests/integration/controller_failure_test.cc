// T1: what vireo-controller does when Kubernetes says no for good: a launcher
// pod or a VMI the apiserver or an admission policy refuses. (A launcher
// pod's deletion and dead nodes: controller_nodes_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
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

class ControllerFailureTest : public ControllerTest {
 protected:
  // The messages of the Events about `name`, one a line.
  std::string EventMessages(const std::string& kind, const std::string& name) const {
    kube::ListOptions options;
    options.field_selector = "involvedObject.kind=" + kind + ",involvedObject.name=" + name;
    auto list = admin_->List(res::kEvents, ns_, options);
    std::string all;
    if (list.ok()) {
      for (const Json& e : list->items) all += base::GetString(e, "message") + "\n";
    }
    return all;
  }
  // A ValidatingAdmissionPolicy (403 Forbidden, as a webhook or PodSecurity
  // would answer) that refuses to create `resource_rule`'s objects
  // ({"apiGroups": ..., "resources": ...}) labelled vireo-test/refuse in
  // this test's namespace, saying `message`. The apiserver's admission chain
  // learns of a policy a moment after it is stored: made, and removed, once
  // a dry-run create of `probe` (such an object, labelled) says so.
  class RefusalPolicy {
   public:
    RefusalPolicy(kube::Client* client, std::string name, std::string message,
                  kube::Resource probe_resource, Json probe)
        : client_(client),
          name_(std::move(name)),
          message_(std::move(message)),
          probe_resource_(std::move(probe_resource)),
          probe_(std::move(probe)) {}
    ~RefusalPolicy() { Delete(); }
    // Whether the apiserver refuses the probe now, with the policy's words.
    bool Refuses() const {
      kube::WriteOptions dry_run;
      dry_run.dry_run = true;
      auto made = client_->Create(probe_resource_, base::NamespaceOf(probe_), probe_, dry_run);
      return !made.ok() && made.status().message().find(message_) != std::string::npos;
    }
    void Remove() {
      Delete();
      EXPECT_TRUE(Eventually([&] { return !Refuses(); }, kLimit)) << "the policy still refuses";
    }

   private:
    void Delete() {
      (void)client_->Delete(kBindings, "", name_);
      (void)client_->Delete(kPolicies, "", name_);
    }
    kube::Client* client_;
    std::string name_;
    std::string message_;
    kube::Resource probe_resource_;
    Json probe_;
  };
  static inline const kube::Resource kPolicies{"admissionregistration.k8s.io", "v1",
                                               "validatingadmissionpolicies",
                                               "ValidatingAdmissionPolicy", false};
  static inline const kube::Resource kBindings{"admissionregistration.k8s.io", "v1",
                                               "validatingadmissionpolicybindings",
                                               "ValidatingAdmissionPolicyBinding", false};
  std::unique_ptr<RefusalPolicy> RefuseLabelled(const std::string& resource_rule,
                                                const std::string& message,
                                                const kube::Resource& probe_resource, Json probe) {
    const std::string policy = "refuse-" + ns_;
    const std::string kRefuseExpression =
        R"x("!has(object.metadata.labels) || !('vireo-test/refuse' in object.metadata.labels)")x";
    EXPECT_TRUE(admin_
                    ->Create(kPolicies, "",
                             JsonOf(R"({
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": ")" + policy +
                                    R"("},
    "spec": {"failurePolicy": "Fail",
      "matchConstraints": {"resourceRules": [)" +
                                    resource_rule + R"(]},
      "validations": [{"expression": )" +
                                    kRefuseExpression + R"(,
        "message": ")" + message + R"(", "reason": "Forbidden"}]}})"))
                    .ok());
    EXPECT_TRUE(admin_
                    ->Create(kBindings, "",
                             JsonOf(R"({
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
    "metadata": {"name": ")" + policy +
                                    R"("},
    "spec": {"policyName": ")" + policy +
                                    R"(", "validationActions": ["Deny"],
      "matchResources": {"namespaceSelector": {"matchLabels":
        {"kubernetes.io/metadata.name": ")" +
                                    ns_ + R"("}}}}})"))
                    .ok());
    probe["metadata"]["namespace"] = ns_;
    probe["metadata"]["labels"]["vireo-test/refuse"] = "yes";
    auto made =
        std::make_unique<RefusalPolicy>(admin_.get(), policy, message, probe_resource, probe);
    EXPECT_TRUE(Eventually([&] { return made->Refuses(); }, kLimit))
        << "the policy never took effect";
    return made;
  }
  // No VMI replaces the last failed one before the back-off's
  // retryAfterTimestamp in `vm` (10 s or more after the failure): watched
  // for 6 s, however slow the machine.
  void ExpectNoVmiBeforeTheBackOffEnds(const std::string& name, const Json& vm) {
    const std::string uid = base::GetString(vm, "status.startFailure.lastFailedVMIUID");
    ASSERT_FALSE(uid.empty());
    const std::string retry_after = base::GetString(vm, "status.startFailure.retryAfterTimestamp");
    const auto not_before = base::ParseMicroTime(retry_after);
    ASSERT_TRUE(not_before.has_value()) << retry_after;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(6);
    while (std::chrono::steady_clock::now() < until) {
      auto now = Get(kv::kVirtualMachineInstances, name);
      if (now.has_value() && base::UidOf(*now) != uid) {
        const auto made = base::ParseMicroTime(base::GetString(*now, "metadata.creationTimestamp"));
        ASSERT_TRUE(made.has_value());
        // creationTimestamp has whole seconds.
        EXPECT_GE(*made + std::chrono::seconds(1), *not_before)
            << "a new VMI before the back-off ended (" << retry_after << ")";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
};

// A 64-character VMI name makes the pod's vm.kubevirt.io/name label invalid:
// the apiserver answers 422, which no retry changes. The VMI fails at once
// with the apiserver's words, and the controller does not retry.
TEST_F(ControllerFailureTest, AnInvalidLauncherPodFailsTheVmiWithTheApiserversWords) {
  const std::string name(64, 'v');
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachineInstances, ns_, NewVmi(name)).ok());
  Json failed = WaitFor(
      kv::kVirtualMachineInstances, name, [](const Json& o) { return PhaseOf(o) == "Failed"; },
      "Failed after the pod was refused");
  EXPECT_EQ(base::GetString(failed, "status.reason"), "FailedCreate");
  EXPECT_THAT(SynchronizedMessage(failed), HasSubstr("FailedCreate: launcher pod virt-launcher-"));
  EXPECT_THAT(SynchronizedMessage(failed), HasSubstr("must be no more than 63"));
  EXPECT_EQ(ConditionOf(failed, "Synchronized"), "False");
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", name, "FailedCreate"));
  EXPECT_TRUE(PodsOf(base::UidOf(failed)).empty());
  // Not retried: no reconcile of a VMI failed (a refusal is no error).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(controller_->Metric(R"(vireo_reconcile_errors_total{controller="vmi"})"),
            std::optional<double>(0));
  EXPECT_EQ(PhaseOf(*Get(kv::kVirtualMachineInstances, name)), "Failed");
}

// spec.priorityClassName reaches the launcher pod, whose priority the
// apiserver then sets from the class; a class that does not exist makes the
// apiserver refuse the pod, and the VMI fails with its words.
TEST_F(ControllerFailureTest, APriorityClassReachesThePodAndAMissingOneFailsTheVmi) {
  const kube::Resource priority_classes{"scheduling.k8s.io", "v1", "priorityclasses",
                                        "PriorityClass", false};
  const std::string klass = "vireo-t1-" + ns_;
  Json pc = JsonOf(R"({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                      "value": 1000})");
  pc["metadata"]["name"] = Json(klass);
  ASSERT_TRUE(admin_->Create(priority_classes, "", pc).ok());

  Json vmi = NewVmi("with-class");
  vmi["spec"]["priorityClassName"] = Json(klass);
  auto made = admin_->Create(kv::kVirtualMachineInstances, ns_, vmi);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const Json pod = WaitForPod(base::UidOf(*made));
  EXPECT_EQ(base::GetString(pod, "spec.priorityClassName"), klass);
  EXPECT_EQ(base::GetInt(pod, "spec.priority"), std::optional<int64_t>(1000));
  EXPECT_TRUE(admin_->Delete(priority_classes, "", klass).ok());

  vmi = NewVmi("missing-class");
  vmi["spec"]["priorityClassName"] = Json("vireo-no-such-class");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachineInstances, ns_, vmi).ok());
  Json failed = WaitFor(
      kv::kVirtualMachineInstances, "missing-class",
      [](const Json& o) { return PhaseOf(o) == "Failed"; }, "Failed after the pod was refused");
  EXPECT_EQ(base::GetString(failed, "status.reason"), "FailedCreate");
  EXPECT_THAT(SynchronizedMessage(failed),
              HasSubstr("no PriorityClass with name vireo-no-such-class was found"));
  EXPECT_TRUE(PodsOf(base::UidOf(failed)).empty());
}

// A namespace that enforces PodSecurity `restricted`: a launcher pod that
// does not comply is refused (403, permanent), and the VMI must say so
// instead of staying Pending; a VM with runStrategy Always then backs off
// (CrashLoopBackOff) rather than making VMIs in a loop. Once launcher pods
// comply, the pod is admitted: either way the VMI never sits Pending
// without a pod and without a word.
TEST_F(ControllerFailureTest, ARestrictedNamespaceEitherAdmitsThePodOrFailsTheVmi) {
  ASSERT_TRUE(admin_
                  ->Patch(res::kNamespaces, "", ns_, kube::PatchType::kMerge, JsonOf(R"({
    "metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted",
                            "pod-security.kubernetes.io/enforce-version": "latest"}}})"))
                  .ok());
  CreateVm("vm-r", "Always");
  // The VMI may live only milliseconds (made, refused, failed and replaced
  // between two polls): then the VM's record names it.
  Json vmi;
  std::string outcome;
  ASSERT_TRUE(Eventually(
      [&] {
        if (auto now = Get(kv::kVirtualMachineInstances, "vm-r"); now.has_value()) {
          vmi = *now;
          if (!PodsOf(base::UidOf(*now)).empty()) {
            outcome = "admitted";
            return true;
          }
          if (PhaseOf(*now) == "Failed") {
            outcome = "refused";
            return true;
          }
        }
        auto vm = Get(kv::kVirtualMachines, "vm-r");
        if (vm.has_value() &&
            !base::GetString(*vm, "status.startFailure.lastFailedVMIUID").empty()) {
          outcome = "refused";
          return true;
        }
        return false;
      },
      kLimit))
      << "the VMI neither got a pod nor failed";
  std::printf("restricted namespace: launcher pod %s\n", outcome.c_str());
  if (outcome == "admitted") return;  // launcher pods comply with restricted

  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-r", "FailedCreate"));
  if (PhaseOf(vmi) == "Failed") {
    EXPECT_THAT(SynchronizedMessage(vmi), HasSubstr("violates PodSecurity"));
  }
  Json vm = WaitFor(
      kv::kVirtualMachines, "vm-r",
      [](const Json& o) { return PrintableStatusOf(o) == "CrashLoopBackOff"; }, "CrashLoopBackOff");
  EXPECT_TRUE(WaitForEvent("VirtualMachine", "vm-r", "CrashLoopBackOff"));
  ExpectNoVmiBeforeTheBackOffEnds("vm-r", vm);
}

// An admission policy that refuses the pod (403 Forbidden, as a webhook or
// PodSecurity would) fails the VMI with its words; runStrategy Always
// backs off instead of making VMIs in a loop, and the VM says why.
TEST_F(ControllerFailureTest, APodRefusedByAdmissionFailsTheVmiAndTheVmBacksOff) {
  auto policy = RefuseLabelled(
      R"({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
          "resources": ["pods"]})",
      "pods labelled vireo-test/refuse are not welcome here", res::kPods, JsonOf(R"({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
    "spec": {"containers": [{"name": "c", "image": "probe"}]}})"));

  Json vm = NewVm("vm-a", "Always");
  vm["spec"]["template"]["metadata"]["labels"]["vireo-test/refuse"] = Json("yes");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, vm).ok());
  // A refused VMI may live for milliseconds: the VM replaces a failed VMI at
  // once (runStrategy Always), and a poll for the VMI can miss it whole. So
  // the failed VMI's uid comes from whichever is seen first: the Failed VMI,
  // or the VM's record of it.
  std::string uid;
  ASSERT_TRUE(Eventually(
      [&] {
        auto now = Get(kv::kVirtualMachineInstances, "vm-a");
        if (now.has_value() && PhaseOf(*now) == "Failed") {
          EXPECT_EQ(base::GetString(*now, "status.reason"), "FailedCreate");
          EXPECT_THAT(SynchronizedMessage(*now),
                      HasSubstr("pods labelled vireo-test/refuse are not welcome here"));
          uid = base::UidOf(*now);
          return true;
        }
        auto vm = Get(kv::kVirtualMachines, "vm-a");
        if (vm.has_value()) uid = base::GetString(*vm, "status.startFailure.lastFailedVMIUID");
        return !uid.empty();
      },
      kLimit))
      << "the VMI never failed";
  EXPECT_TRUE(PodsOf(uid).empty());
  EXPECT_TRUE(WaitForEvent("VirtualMachineInstance", "vm-a", "FailedCreate"));
  EXPECT_THAT(EventMessages("VirtualMachineInstance", "vm-a"),
              HasSubstr("pods labelled vireo-test/refuse are not welcome here"));

  Json backing_off = WaitFor(
      kv::kVirtualMachines, "vm-a",
      [](const Json& o) { return PrintableStatusOf(o) == "CrashLoopBackOff"; }, "CrashLoopBackOff");
  EXPECT_FALSE(base::GetString(backing_off, "status.startFailure.lastFailedVMIUID").empty());
  EXPECT_TRUE(WaitForEvent("VirtualMachine", "vm-a", "CrashLoopBackOff"));
  EXPECT_THAT(EventMessages("VirtualMachine", "vm-a"), HasSubstr("FailedCreate: launcher pod"));
  ExpectNoVmiBeforeTheBackOffEnds("vm-a", backing_off);
  EXPECT_EQ(controller_->Metric(R"(vireo_reconcile_errors_total{controller="vmi"})"),
            std::optional<double>(0));
}

// A VMI the apiserver refuses to create (here an admission policy; a VMI
// schema or CEL rule would answer 422 the same way) shows on its VM as
// KubeVirt's does: the Failure condition with reason FailedCreate and the
// apiserver's words, beside the Event, until a create passes.
TEST_F(ControllerFailureTest, AVmiRefusedByAdmissionShowsOnTheVmUntilACreatePasses) {
  auto policy = RefuseLabelled(
      R"({"apiGroups": ["kubevirt.io"], "apiVersions": ["v1"], "operations": ["CREATE"],
          "resources": ["virtualmachineinstances"]})",
      "VMIs labelled vireo-test/refuse are not welcome here", kv::kVirtualMachineInstances,
      NewVmi("probe"));
  Json vm = NewVm("vm-v", "Always");
  vm["spec"]["template"]["metadata"]["labels"]["vireo-test/refuse"] = Json("yes");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, vm).ok());
  const auto failure = [](const Json& o) -> const Json* {
    if (const Json* conditions = base::Find(o, "status.conditions");
        conditions != nullptr && conditions->is_array()) {
      for (const Json& c : *conditions) {
        if (base::GetString(c, "type") == "Failure") return &c;
      }
    }
    return nullptr;
  };
  Json refused = WaitFor(
      kv::kVirtualMachines, "vm-v", [&](const Json& o) { return failure(o) != nullptr; },
      "the Failure condition");
  const Json* condition = failure(refused);
  EXPECT_EQ(base::GetString(*condition, "status"), "True");
  EXPECT_EQ(base::GetString(*condition, "reason"), "FailedCreate");
  EXPECT_THAT(base::GetString(*condition, "message"),
              HasSubstr("VMIs labelled vireo-test/refuse are not welcome here"));
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-v").has_value());
  EXPECT_TRUE(WaitForEvent("VirtualMachine", "vm-v", "FailedCreate"));

  policy->Remove();
  Json touch;
  touch["metadata"]["annotations"]["vireo.test/touch"] = "1";
  ASSERT_TRUE(
      admin_->Patch(kv::kVirtualMachines, ns_, "vm-v", kube::PatchType::kMerge, touch).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "vm-v", [](const Json&) { return true; }, "the VMI made");
  WaitFor(
      kv::kVirtualMachines, "vm-v", [&](const Json& o) { return failure(o) == nullptr; },
      "the Failure condition gone once the VMI exists");
}

}  // namespace
}  // namespace vireo::testing
