// ControllerTest: the per-test namespace, controller and kubelet of the T1
// controller tests, and the polling reads they assert on.
#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "lib/api/resources.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {

using base::Json;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

void ControllerTest::SetUp() {
  env_ = &ClusterEnv::Get();
  admin_ = env_->AdminClient();
  ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
  kubelet_ = std::make_unique<FakeKubelet>(admin_.get(), ns_);
  ControllerProcess::Flags flags;
  flags.ns = ns_;
  flags.extra = ExtraControllerFlags();
  controller_ = std::make_unique<ControllerProcess>(flags);
  controller_->Start();
  ASSERT_TRUE(controller_->WaitReady(kLimit)) << controller_->Log();
}

void ControllerTest::TearDown() {
  if (controller_ != nullptr && controller_->running()) {
    controller_->Signal(SIGTERM);
    EXPECT_EQ(controller_->Wait(kLimit), std::optional<int>(0)) << "SIGTERM must end it cleanly";
  }
  if (HasFailure() && controller_ != nullptr) {
    std::string log = controller_->Log();
    if (log.size() > 6000) log = "...\n" + log.substr(log.size() - 6000);
    std::printf("--- controller log (%s):\n%s\n", controller_->log_path().c_str(), log.c_str());
  }
  kubelet_.reset();
}

Json ControllerTest::NewVmi(const std::string& name) const {
  Json vmi = MakeVm(name)["spec"]["template"];
  vmi["apiVersion"] = Json("kubevirt.io/v1");
  vmi["kind"] = Json("VirtualMachineInstance");
  vmi["metadata"] = Json::object();
  vmi["metadata"]["name"] = Json(name);
  return vmi;
}

Json ControllerTest::NewVm(const std::string& name, const std::string& strategy) const {
  Json vm = MakeVm(name);
  if (strategy.empty()) {
    vm["spec"].erase("runStrategy");
  } else {
    vm["spec"]["runStrategy"] = Json(strategy);
  }
  return vm;
}

Json ControllerTest::CreateVm(const std::string& name, const std::string& strategy) {
  auto created = admin_->Create(kv::kVirtualMachines, ns_, NewVm(name, strategy));
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  return created.ok() ? *created : Json();
}

std::optional<Json> ControllerTest::Get(const kube::Resource& resource,
                                        const std::string& name) const {
  auto got = admin_->Get(resource, ns_, name);
  if (!got.ok()) return std::nullopt;
  return *got;
}

Json ControllerTest::WaitFor(const kube::Resource& resource, const std::string& name,
                             const std::function<bool(const Json&)>& ok, const std::string& what) {
  std::optional<Json> last;
  bool met = Eventually(
      [&] {
        last = Get(resource, name);
        return last.has_value() && ok(*last);
      },
      kLimit);
  if (!met) {
    ADD_FAILURE() << "never: " << what << "; " << resource.plural << " " << name << " was "
                  << (last ? base::DumpJson(*last) : "absent");
  }
  return last.value_or(Json());
}

bool ControllerTest::WaitGone(const kube::Resource& resource, const std::string& name) {
  return Eventually([&] { return !Get(resource, name).has_value(); }, kLimit);
}

bool ControllerTest::ForceDeletePod(const std::string& name) {
  kube::DeleteOptions now;
  now.grace_period_seconds = 0;
  base::Status deleted = admin_->Delete(res::kPods, ns_, name, now);
  EXPECT_TRUE(deleted.ok()) << "force-delete pod " << name << ": " << deleted.ToString();
  return deleted.ok();
}

Json ControllerTest::ForceDeletePodUntilFailed(const std::string& pod, const std::string& vmi) {
  if (!ForceDeletePod(pod)) return Json();
  return WaitFor(
      kv::kVirtualMachineInstances, vmi, [](const Json& o) { return PhaseOf(o) == "Failed"; },
      "Failed once its pod " + pod + " was deleted");
}

std::vector<Json> ControllerTest::PodsOf(const std::string& vmi_uid) const {
  kube::ListOptions options;
  options.label_selector = "kubevirt.io/created-by=" + vmi_uid;
  auto list = admin_->List(res::kPods, ns_, options);
  return list.ok() ? list->items : std::vector<Json>{};
}

Json ControllerTest::WaitForPod(const std::string& vmi_uid) {
  std::vector<Json> pods;
  if (!Eventually(
          [&] {
            pods = PodsOf(vmi_uid);
            return !pods.empty();
          },
          kLimit)) {
    ADD_FAILURE() << "no launcher pod for VMI uid " << vmi_uid;
    return Json();
  }
  EXPECT_EQ(pods.size(), 1u) << "one launcher pod per VMI";
  return pods[0];
}

std::vector<std::string> ControllerTest::EventReasons(const std::string& kind,
                                                      const std::string& name) const {
  kube::ListOptions options;
  options.field_selector = "involvedObject.kind=" + kind + ",involvedObject.name=" + name;
  auto list = admin_->List(res::kEvents, ns_, options);
  std::vector<std::string> reasons;
  if (list.ok()) {
    for (const Json& e : list->items) reasons.push_back(base::GetString(e, "reason"));
  }
  return reasons;
}

bool ControllerTest::WaitForEvent(const std::string& kind, const std::string& name,
                                  const std::string& reason) {
  bool seen = Eventually(
      [&] {
        auto reasons = EventReasons(kind, name);
        return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
      },
      kLimit);
  if (!seen) {
    std::string all;
    for (const auto& r : EventReasons(kind, name)) all += r + " ";
    ADD_FAILURE() << "no " << reason << " Event on " << kind << " " << name << " (have: " << all
                  << ")";
  }
  return seen;
}

base::Status ControllerTest::PatchStatus(const kube::Resource& resource, const std::string& name,
                                         const std::string& merge_patch) {
  return admin_->Patch(resource, ns_, name, kube::PatchType::kMerge, JsonOf(merge_patch), "status")
      .status();
}

base::Status ControllerTest::PatchSpec(const kube::Resource& resource, const std::string& name,
                                       const std::string& merge_patch) {
  return admin_->Patch(resource, ns_, name, kube::PatchType::kMerge, JsonOf(merge_patch)).status();
}

std::string PhaseOf(const Json& vmi) { return base::GetString(vmi, "status.phase"); }

std::string PrintableStatusOf(const Json& vm) {
  return base::GetString(vm, "status.printableStatus");
}

std::string ConditionOf(const Json& object, const std::string& type) {
  const Json* conditions = base::Find(object, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const Json& c : *conditions) {
    if (base::GetString(c, "type") == type) return base::GetString(c, "status");
  }
  return "";
}

std::string SynchronizedMessage(const Json& vmi) {
  const Json* conditions = base::Find(vmi, "status.conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const Json& c : *conditions) {
    if (base::GetString(c, "type") == "Synchronized") {
      return base::GetString(c, "reason") + ": " + base::GetString(c, "message");
    }
  }
  return "";
}

}  // namespace vireo::testing
