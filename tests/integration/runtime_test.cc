// T1: the runtime layers that talk to the apiserver on their own — the
// informer over a live collection, leader election on a real Lease, and the
// event recorder — against a real kube-apiserver.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "lib/api/resources.h"
#include "lib/kube/client.h"
#include "lib/kube/events.h"
#include "lib/kube/informer.h"
#include "lib/kube/leader_election.h"
#include "lib/kube/watcher.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

// Polls `done` every 50 ms for at most `limit`.
template <typename F>
bool Eventually(F done, milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = &ClusterEnv::Get();
    client_ = env_->AdminClient();
    ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
};

TEST_F(RuntimeTest, InformerSyncsAndFollowsChanges) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("vm-" + std::to_string(i))).ok());
  }
  kube::Informer informer(std::make_unique<kube::ClientListerWatcher>(
      client_.get(), kv::kVirtualMachines, kube::Selection{ns_, "", ""}));
  std::mutex mu;
  std::set<std::string> added, updated, deleted;
  informer.AddHandlers({
      .on_add = [&](const kube::ObjectPtr& o) { std::lock_guard l(mu); added.insert(base::NameOf(*o)); },
      .on_update = [&](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
        std::lock_guard l(mu);
        updated.insert(base::NameOf(*o));
      },
      .on_delete = [&](const kube::ObjectPtr& o) { std::lock_guard l(mu); deleted.insert(base::NameOf(*o)); },
  });
  EXPECT_FALSE(informer.HasSynced());
  informer.Run();
  ASSERT_TRUE(informer.WaitForSync(seconds(30)));
  EXPECT_EQ(informer.store().size(), 5u);
  EXPECT_EQ(informer.store().ByNamespace(ns_).size(), 5u);

  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("late", R"({"x": "y"})")).ok());
  ASSERT_TRUE(client_
                  ->Patch(kv::kVirtualMachines, ns_, "vm-1", kube::PatchType::kMerge,
                          JsonOf(R"({"metadata": {"labels": {"changed": "yes"}}})"))
                  .ok());
  ASSERT_TRUE(client_->Delete(kv::kVirtualMachines, ns_, "vm-2").ok());

  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard l(mu);
        return added.count("late") && updated.count("vm-1") && deleted.count("vm-2");
      },
      seconds(20)));
  EXPECT_EQ(informer.store().size(), 5u);
  EXPECT_EQ(informer.store().ByLabel("x", "y").size(), 1u);
  auto vm1 = informer.store().Get(ns_ + "/vm-1");
  ASSERT_NE(vm1, nullptr);
  EXPECT_EQ(base::GetString(*vm1, "metadata.labels.changed"), "yes");
  EXPECT_EQ(informer.store().Get(ns_ + "/vm-2"), nullptr);
  informer.Stop();
}

kube::LeaderElectionConfig ElectionConfig(const std::string& ns, const std::string& who) {
  kube::LeaderElectionConfig config;
  config.lease_namespace = ns;
  config.lease_name = "vireo-controller";
  config.identity = who;
  config.lease_duration = seconds(3);
  config.renew_deadline = milliseconds(2000);
  config.retry_period = milliseconds(300);
  config.on_error = [](const base::Status&) {};  // conflicts are expected here
  return config;
}

TEST_F(RuntimeTest, OneLeaderAtATimeAndTheOtherTakesOver) {
  auto client_a = env_->AdminClient();
  auto client_b = env_->AdminClient();
  std::atomic<int> leading{0}, max_leading{0};
  auto track = [&](kube::LeaderElectionConfig& c) {
    c.on_started_leading = [&] {
      int n = ++leading;
      int m = max_leading.load();
      while (n > m && !max_leading.compare_exchange_weak(m, n)) {
      }
    };
    c.on_stopped_leading = [&] { --leading; };
  };
  auto config_a = ElectionConfig(ns_, "replica-a");
  auto config_b = ElectionConfig(ns_, "replica-b");
  track(config_a);
  track(config_b);
  auto a = std::make_unique<kube::LeaderElector>(kube::LeaseApi::ForClient(client_a.get()), config_a);
  auto b = std::make_unique<kube::LeaderElector>(kube::LeaseApi::ForClient(client_b.get()), config_b);
  std::thread ta([&] { a->Run(); });
  std::thread tb([&] { b->Run(); });

  ASSERT_TRUE(Eventually([&] { return a->IsLeader() || b->IsLeader(); }, seconds(15)));
  // For a few lease periods, never both.
  for (int i = 0; i < 40; ++i) {
    EXPECT_FALSE(a->IsLeader() && b->IsLeader());
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(max_leading.load(), 1);
  kube::LeaderElector* leader = a->IsLeader() ? a.get() : b.get();
  kube::LeaderElector* follower = leader == a.get() ? b.get() : a.get();
  std::string leader_name = leader == a.get() ? "replica-a" : "replica-b";
  EXPECT_EQ(follower->Leader(), leader_name);

  auto lease = client_->Get(res::kLeases, ns_, "vireo-controller");
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(base::GetString(*lease, "spec.holderIdentity"), leader_name);

  // A clean stop releases the Lease: the other replica takes over well within
  // one lease duration.
  auto stop_at = std::chrono::steady_clock::now();
  leader->Stop();
  (leader == a.get() ? ta : tb).join();
  ASSERT_TRUE(Eventually([&] { return follower->IsLeader(); }, seconds(3)));
  auto takeover = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - stop_at);
  std::printf("takeover after release: %lld ms\n", static_cast<long long>(takeover.count()));
  follower->Stop();
  (follower == a.get() ? ta : tb).join();
  EXPECT_EQ(leading.load(), 0);
}

TEST_F(RuntimeTest, ALeaderThatVanishesIsReplacedAfterTheLeaseExpires) {
  auto client_a = env_->AdminClient();
  auto client_b = env_->AdminClient();
  auto config_a = ElectionConfig(ns_, "crashing");
  config_a.release_on_stop = false;  // as if the process were killed
  auto a = std::make_unique<kube::LeaderElector>(kube::LeaseApi::ForClient(client_a.get()), config_a);
  std::thread ta([&] { a->Run(); });
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }, seconds(15)));

  auto b = std::make_unique<kube::LeaderElector>(kube::LeaseApi::ForClient(client_b.get()),
                                                 ElectionConfig(ns_, "survivor"));
  std::thread tb([&] { b->Run(); });
  std::this_thread::sleep_for(seconds(1));
  EXPECT_FALSE(b->IsLeader());  // a still renews
  a->Stop();
  ta.join();
  // The lease lasts 3 s; b retries every 300 ms.
  EXPECT_TRUE(Eventually([&] { return b->IsLeader(); }, seconds(8)));
  auto lease = client_->Get(res::kLeases, ns_, "vireo-controller");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(base::GetString(*lease, "spec.holderIdentity"), "survivor");
  EXPECT_GE(base::GetInt(*lease, "spec.leaseTransitions").value_or(0), 1);
  b->Stop();
  tb.join();
}

TEST_F(RuntimeTest, EventsAreRecordedAndRepeatsCounted) {
  auto vm = client_->Create(kv::kVirtualMachines, ns_, MakeVm("evented"));
  ASSERT_TRUE(vm.ok());
  auto events_client = env_->AdminClient();
  kube::EventRecorder recorder(kube::EventSink::ForClient(events_client.get()));
  for (int i = 0; i < 3; ++i) {
    recorder.Record(*vm, kube::EventType::kWarning, "FailedCreate", "pod quota exceeded");
  }
  recorder.Record(*vm, kube::EventType::kNormal, "SuccessfulCreate", "created pod x");
  recorder.Flush();
  EXPECT_EQ(recorder.failed(), 0u);

  kube::ListOptions opts;
  opts.field_selector = "involvedObject.name=evented";
  auto events = client_->ListAll(res::kEvents, ns_, opts);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->items.size(), 2u);
  for (const Json& e : events->items) {
    EXPECT_EQ(base::GetString(e, "involvedObject.kind"), "VirtualMachine");
    EXPECT_EQ(base::GetString(e, "involvedObject.uid"), base::UidOf(*vm));
    if (base::GetString(e, "reason") == "FailedCreate") {
      EXPECT_EQ(base::GetInt(e, "count"), std::optional<int64_t>(3));
      EXPECT_EQ(base::GetString(e, "type"), "Warning");
    } else {
      EXPECT_EQ(base::GetString(e, "reason"), "SuccessfulCreate");
      EXPECT_EQ(base::GetInt(e, "count"), std::optional<int64_t>(1));
    }
  }
  std::string describe;
  ASSERT_EQ(env_->Kubectl("describe vm evented -n " + ns_, &describe), 0) << describe;
  EXPECT_NE(describe.find("pod quota exceeded"), std::string::npos) << describe;
}

}  // namespace
}  // namespace vireo::testing
