// T1: vireo-controller killed and replaced. A 100-VM churn with the
// controller SIGKILLed at 10 random points must end with no duplicate VMI or
// pod and every VM as its run strategy says; with leader election only the
// Lease holder acts, another replica takes over when it dies, and a replica
// that loses its Lease exits. Runs alone (is_parallel: false).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "lib/api/resources.h"
#include "lib/kube/leader_election.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class ControllerHaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = &ClusterEnv::Get();
    admin_ = env_->AdminClient();
    ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
    kubelet_ = std::make_unique<FakeKubelet>(admin_.get(), ns_);
  }
  void TearDown() override {
    for (auto& c : controllers_) {
      if (HasFailure()) {
        std::string log = c->Log();
        if (log.size() > 4000) log = "...\n" + log.substr(log.size() - 4000);
        std::printf("--- %s:\n%s\n", c->log_path().c_str(), log.c_str());
      }
    }
    controllers_.clear();  // SIGKILLs what still runs
    kubelet_.reset();
  }
  ControllerProcess* StartController(const std::string& identity = "", bool leader_elect = false) {
    ControllerProcess::Flags flags;
    flags.ns = ns_;
    flags.identity = identity;
    flags.leader_elect = leader_elect;
    flags.lease_name = ns_;
    controllers_.push_back(std::make_unique<ControllerProcess>(flags));
    controllers_.back()->Start();
    return controllers_.back().get();
  }
  Json Vm(const std::string& name, const std::string& strategy) {
    Json vm = MakeVm(name);
    vm["spec"]["runStrategy"] = Json(strategy);
    return vm;
  }
  bool VmiExists(const std::string& name) {
    return admin_->Get(kv::kVirtualMachineInstances, ns_, name).ok();
  }
  std::string LeaseHolder() {
    auto lease = admin_->Get(res::kLeases, kControllerNamespace, ns_);
    return lease.ok() ? base::GetString(*lease, "spec.holderIdentity") : "<none>";
  }

  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> admin_;
  std::string ns_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::vector<std::unique_ptr<ControllerProcess>> controllers_;
};

// Binds and starts every launcher pod that has no node yet, until stopped.
void RunPodsUntil(kube::Client* client, FakeKubelet* kubelet, const std::string& ns,
                  const std::atomic<bool>& stop) {
  while (!stop) {
    kube::ListOptions options;
    options.label_selector = "kubevirt.io=virt-launcher";
    auto pods = client->List(res::kPods, ns, options);
    if (pods.ok()) {
      for (const Json& pod : pods->items) {
        if (!base::GetString(pod, "spec.nodeName").empty() ||
            base::Find(pod, "metadata.deletionTimestamp") != nullptr) {
          continue;
        }
        if (kubelet->Bind(base::NameOf(pod)).ok()) (void)kubelet->SetRunning(base::NameOf(pod));
      }
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

TEST_F(ControllerHaTest, KilledAtRandomPointsOfAChurnItConvergesWithoutDuplicates) {
  constexpr int kVms = 100;
  const unsigned seed = std::random_device()();
  std::printf("churn seed %u\n", seed);
  std::mt19937 random(seed);

  // Every launcher pod ever made, per VMI uid.
  std::mutex mu;
  std::map<std::string, std::set<std::string>> pods_per_vmi;
  kube::Informer history(std::make_unique<kube::ClientListerWatcher>(
      admin_.get(), res::kPods, kube::Selection{ns_, "kubevirt.io=virt-launcher", ""}));
  history.AddHandlers({
      .on_add =
          [&](const kube::ObjectPtr& pod) {
            std::lock_guard l(mu);
            pods_per_vmi
                [pod->at("metadata").at("labels").at("kubevirt.io/created-by").get<std::string>()]
                    .insert(base::UidOf(*pod));
          },
      .on_update = nullptr,
      .on_delete = nullptr,
  });
  history.Run();
  ASSERT_TRUE(history.WaitForSync(seconds(30)));

  std::atomic<bool> stop{false};
  std::thread kubelet([&] { RunPodsUntil(admin_.get(), kubelet_.get(), ns_, stop); });
  StartController();
  std::atomic<bool> killing_done{false};
  std::uniform_int_distribution<int> pause_ms(100, 1200);
  std::vector<int> pauses;
  for (int i = 0; i < 10; ++i) pauses.push_back(pause_ms(random));
  std::thread killer([&] {
    for (int pause : pauses) {
      std::this_thread::sleep_for(milliseconds(pause));
      controllers_.back()->Signal(SIGKILL);
      controllers_.back()->Wait(seconds(10));
      StartController();
    }
    killing_done = true;
  });

  // The churn: create all, then restart 0-19, stop 20-39, delete 40-59.
  auto name = [](int i) { return "churn-" + std::to_string(i); };
  for (int i = 0; i < kVms; ++i) {
    EXPECT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, Vm(name(i), "Always")).ok());
  }
  for (int i = 0; i < 60; ++i) {
    if (i < 20) {
      auto vmi = admin_->Get(kv::kVirtualMachineInstances, ns_, name(i));
      if (!vmi.ok()) continue;  // not made yet: nothing to restart
      EXPECT_TRUE(admin_
                      ->Patch(kv::kVirtualMachines, ns_, name(i), kube::PatchType::kMerge,
                              JsonOf(R"({"status": {"stateChangeRequests": [{"action": "Stop",
                                 "uid": ")" +
                                     base::UidOf(*vmi) + R"("}, {"action": "Start"}]}})"),
                              "status")
                      .ok());
    } else if (i < 40) {
      EXPECT_TRUE(admin_
                      ->Patch(kv::kVirtualMachines, ns_, name(i), kube::PatchType::kMerge,
                              JsonOf(R"({"spec": {"runStrategy": "Halted"}})"))
                      .ok());
    } else {
      EXPECT_TRUE(admin_->Delete(kv::kVirtualMachines, ns_, name(i)).ok());
    }
    std::this_thread::sleep_for(milliseconds(pause_ms(random) / 20));
  }
  killer.join();
  ASSERT_TRUE(killing_done);

  // Converged: 0-19 and 60-99 run one VMI with one pod, 20-39 are stopped,
  // 40-59 are gone with everything they owned.
  std::string why;
  bool converged = Eventually(
      [&] {
        auto vms = admin_->List(kv::kVirtualMachines, ns_);
        auto vmis = admin_->List(kv::kVirtualMachineInstances, ns_);
        kube::ListOptions launchers;
        launchers.label_selector = "kubevirt.io=virt-launcher";
        auto pods = admin_->List(res::kPods, ns_, launchers);
        if (!vms.ok() || !vmis.ok() || !pods.ok()) return false;
        auto fail = [&](std::string reason) {
          why = std::move(reason);
          return false;
        };
        std::map<std::string, Json> vmi_by_name;
        for (const Json& vmi : vmis->items) vmi_by_name[base::NameOf(vmi)] = vmi;
        std::map<std::string, int> pods_by_uid;
        for (const Json& pod : pods->items) {
          ++pods_by_uid
              [pod.at("metadata").at("labels").at("kubevirt.io/created-by").get<std::string>()];
        }
        if (vms->items.size() != 80) return fail("VMs: " + std::to_string(vms->items.size()));
        for (const Json& vm : vms->items) {
          std::string n = base::NameOf(vm);
          int i = std::stoi(n.substr(6));
          bool halted = i >= 20 && i < 40;
          auto vmi = vmi_by_name.find(n);
          if (halted) {
            if (vmi != vmi_by_name.end() || PrintableStatusOf(vm) != "Stopped") {
              return fail(n + " is not stopped");
            }
            continue;
          }
          if (vmi == vmi_by_name.end() || PhaseOf(vmi->second) != "Running" ||
              PrintableStatusOf(vm) != "Running") {
            return fail(n + " does not run");
          }
          if (pods_by_uid[base::UidOf(vmi->second)] != 1) return fail(n + " pods != 1");
        }
        if (vmis->items.size() != 60 || pods->items.size() != 60) {
          return fail("VMIs/pods left over: " + std::to_string(vmis->items.size()) + "/" +
                      std::to_string(pods->items.size()));
        }
        return true;
      },
      seconds(120));
  stop = true;
  kubelet.join();
  EXPECT_TRUE(converged) << why;
  history.Stop();
  std::lock_guard l(mu);
  for (const auto& [vmi_uid, pods] : pods_per_vmi) {
    EXPECT_EQ(pods.size(), 1u) << "VMI " << vmi_uid << " got " << pods.size() << " launcher pods";
  }
  EXPECT_GE(pods_per_vmi.size(), 60u);
}

TEST_F(ControllerHaTest, OnlyTheLeaderActsAndAnotherTakesOver) {
  ControllerProcess* a = StartController("replica-a", true);
  ControllerProcess* b = StartController("replica-b", true);
  ASSERT_TRUE(a->WaitReady(seconds(30)));
  ASSERT_TRUE(b->WaitReady(seconds(30))) << "a follower's caches sync too";
  ASSERT_TRUE(Eventually(
      [&] { return a->Metric("vireo_leader") == 1.0 || b->Metric("vireo_leader") == 1.0; },
      seconds(30)));
  ControllerProcess* leader = a->Metric("vireo_leader") == 1.0 ? a : b;
  ControllerProcess* follower = leader == a ? b : a;
  std::string leader_id = leader == a ? "replica-a" : "replica-b";
  EXPECT_EQ(follower->Metric("vireo_leader"), 0.0);
  EXPECT_EQ(LeaseHolder(), leader_id);

  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, Vm("vm-1", "Always")).ok());
  ASSERT_TRUE(Eventually([&] { return VmiExists("vm-1"); }, seconds(30)));
  // Counted when the reconcile returns, a moment after the VMI shows.
  EXPECT_TRUE(Eventually(
      [&] { return leader->Metric(R"(vireo_reconcile_total{controller="vm"})").has_value(); },
      seconds(30)));
  EXPECT_FALSE(follower->Metric(R"(vireo_reconcile_total{controller="vm"})").has_value())
      << "the follower never reconciles";

  // The leader dies without releasing: the follower waits out the lease (3 s).
  auto killed_at = std::chrono::steady_clock::now();
  leader->Signal(SIGKILL);
  leader->Wait(seconds(10));
  ASSERT_TRUE(Eventually([&] { return follower->Metric("vireo_leader") == 1.0; }, seconds(30)));
  std::printf("takeover after SIGKILL: %.1f s (lease duration 3 s)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count());
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, Vm("vm-2", "Always")).ok());
  EXPECT_TRUE(Eventually([&] { return VmiExists("vm-2"); }, seconds(30)));

  // A clean stop releases the Lease for the next replica.
  ControllerProcess* c = StartController("replica-c", true);
  ASSERT_TRUE(c->WaitReady(seconds(30)));
  follower->Signal(SIGTERM);
  EXPECT_EQ(follower->Wait(seconds(30)), std::optional<int>(0));
  ASSERT_TRUE(Eventually([&] { return c->Metric("vireo_leader") == 1.0; }, seconds(30)));
  EXPECT_EQ(LeaseHolder(), "replica-c");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, Vm("vm-3", "Always")).ok());
  EXPECT_TRUE(Eventually([&] { return VmiExists("vm-3"); }, seconds(30)));
  c->Signal(SIGTERM);
  EXPECT_EQ(c->Wait(seconds(30)), std::optional<int>(0));
  EXPECT_EQ(LeaseHolder(), "") << "released on SIGTERM";
}

TEST_F(ControllerHaTest, AReplicaThatLosesItsLeaseExits) {
  ControllerProcess* a = StartController("replica-a", true);
  ASSERT_TRUE(Eventually([&] { return a->Metric("vireo_leader") == 1.0; }, seconds(30)));
  // Someone else writes the Lease as theirs, freshly renewed.
  ASSERT_TRUE(Eventually(
      [&] {
        auto lease = admin_->Get(res::kLeases, kControllerNamespace, ns_);
        if (!lease.ok()) return false;
        kube::LeaseRecord record = kube::LeaseRecordOf(*lease);
        record.holder_identity = "intruder";
        record.lease_duration_seconds = 60;
        record.renew_time = std::chrono::system_clock::now();
        return admin_->Update(res::kLeases, kube::LeaseWith(*lease, record)).ok();
      },
      seconds(10)));
  EXPECT_EQ(a->Wait(seconds(30)), std::optional<int>(1));
  EXPECT_NE(a->Log().find("lost the lease"), std::string::npos);
  // Nobody acts any more.
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, Vm("vm-late", "Always")).ok());
  std::this_thread::sleep_for(seconds(1));
  EXPECT_FALSE(VmiExists("vm-late"));
}

}  // namespace
}  // namespace vireo::testing
