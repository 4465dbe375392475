// T1: watch streams and the watch → informer layers against a real
// kube-apiserver whose connections the test breaks, whose process it
// restarts and whose etcd history it compacts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>

#include "lib/api/resources.h"
#include "lib/kube/client.h"
#include "lib/kube/informer.h"
#include "lib/kube/watcher.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/tcp_proxy.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Code;
using base::Json;
using kube::WatchEvent;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = &ClusterEnv::Get();
    client_ = env_->AdminClient();
    ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // Next event of a given object, skipping bookmarks.
  static base::Result<WatchEvent> NextReal(kube::WatchStream& stream) {
    for (;;) {
      auto ev = stream.Next();
      if (!ev.ok() || ev->type != WatchEvent::Type::kBookmark) return ev;
    }
  }

  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
};

TEST_F(WatchTest, DeliversAddModifyDeleteInOrder) {
  auto list = client_->List(kv::kVirtualMachines, ns_);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  kube::WatchOptions opts;
  opts.resource_version = list->resource_version;
  auto stream = client_->Watch(kv::kVirtualMachines, ns_, opts);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();

  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("w")).ok());
  ASSERT_TRUE(client_
                  ->Patch(kv::kVirtualMachines, ns_, "w", kube::PatchType::kMerge,
                          JsonOf(R"({"metadata": {"labels": {"x": "1"}}})"))
                  .ok());
  ASSERT_TRUE(client_->Delete(kv::kVirtualMachines, ns_, "w").ok());

  const WatchEvent::Type want[] = {WatchEvent::Type::kAdded, WatchEvent::Type::kModified,
                                   WatchEvent::Type::kDeleted};
  for (WatchEvent::Type type : want) {
    auto ev = NextReal(**stream);
    ASSERT_TRUE(ev.ok()) << ev.status().ToString();
    EXPECT_EQ(ev->type, type) << kube::WatchEventTypeName(ev->type);
    EXPECT_EQ(base::NameOf(ev->object), "w");
  }
}

TEST_F(WatchTest, CancelUnblocksAWaitingNext) {
  kube::WatchOptions opts;
  opts.resource_version = "0";
  auto stream = client_->Watch(kv::kVirtualMachines, ns_, opts);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  auto waiting = std::async(std::launch::async, [&] { return NextReal(**stream); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  (*stream)->Cancel();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "Next() still blocked 10 s after Cancel()";
  auto ev = waiting.get();
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), Code::kCancelled) << ev.status().ToString();
}

TEST_F(WatchTest, BrokenConnectionEndsTheStreamWithAnError) {
  TcpProxy proxy(env_->apiserver_port());
  kube::ClusterConfig config = client_->config();
  config.server = "https://127.0.0.1:" + std::to_string(proxy.port());
  auto client = kube::Client::Create(config);
  ASSERT_TRUE(client.ok());
  auto list = (*client)->List(kv::kVirtualMachines, ns_);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  kube::WatchOptions opts;
  opts.resource_version = list->resource_version;
  auto stream = (*client)->Watch(kv::kVirtualMachines, ns_, opts);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  auto waiting = std::async(std::launch::async, [&] { return NextReal(**stream); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  proxy.DropConnections();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto ev = waiting.get();
  ASSERT_FALSE(ev.ok());
  EXPECT_TRUE(ev.status().code() == Code::kUnavailable || ev.status().code() == Code::kTimeout)
      << ev.status().ToString();
}

TEST_F(WatchTest, CompactedHistoryIsGone) {
  auto created = client_->Create(kv::kVirtualMachines, ns_, MakeVm("old"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string old_rv = base::ResourceVersionOf(*created);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_
                    ->Patch(kv::kVirtualMachines, ns_, "old", kube::PatchType::kMerge,
                            JsonOf(R"({"metadata": {"labels": {"n": ")" + std::to_string(i) +
                                   R"("}}})"))
                    .ok());
  }
  env_->CompactEtcd();
  // A restarted apiserver's watch cache starts after the compaction, so the old
  // version can be served from neither.
  env_->RestartApiserver();
  auto client = env_->AdminClient();
  kube::WatchOptions opts;
  opts.resource_version = old_rv;
  auto stream = client->Watch(kv::kVirtualMachines, ns_, opts);
  base::Status status = stream.ok() ? NextReal(**stream).status() : stream.status();
  EXPECT_EQ(status.code(), Code::kGone) << status.ToString();
}


// Counts the lists an informer makes, so a test can tell a resume from a relist.
class CountingListerWatcher : public kube::ListerWatcher {
 public:
  explicit CountingListerWatcher(std::unique_ptr<kube::ListerWatcher> inner)
      : inner_(std::move(inner)) {}
  base::Result<kube::ObjectList> List(const kube::ListOptions& options) override {
    if (options.continue_token.empty()) ++lists;
    return inner_->List(options);
  }
  base::Result<std::unique_ptr<kube::WatchStream>> Watch(const kube::WatchOptions& o) override {
    ++watches;
    return inner_->Watch(o);
  }
  std::atomic<int> lists{0};
  std::atomic<int> watches{0};

 private:
  std::unique_ptr<kube::ListerWatcher> inner_;
};

template <typename F>
bool Eventually(F done, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// An informer that reaches the apiserver through a TcpProxy the test controls,
// recording what its handlers heard.
class ProxiedInformer {
 public:
  ProxiedInformer(ClusterEnv& env, const std::string& ns) : proxy(env.apiserver_port()) {
    kube::ClusterConfig config = env.AdminClient()->config();
    config.server = "https://127.0.0.1:" + std::to_string(proxy.port());
    client = std::move(kube::Client::Create(config)).value();
    auto counting = std::make_unique<CountingListerWatcher>(std::make_unique<kube::ClientListerWatcher>(
        client.get(), kv::kVirtualMachines, kube::Selection{ns, "", ""}));
    counter = counting.get();
    kube::WatcherOptions options;
    options.initial_backoff = std::chrono::milliseconds(100);
    options.max_backoff = std::chrono::milliseconds(500);
    options.on_error = [](const base::Status&) {};  // the test breaks things on purpose
    informer = std::make_unique<kube::Informer>(std::move(counting), options);
    informer->AddHandlers({
        .on_add = [this](const kube::ObjectPtr& o) { Note(added, o); },
        .on_update = [this](const kube::ObjectPtr&, const kube::ObjectPtr& o) { Note(updated, o); },
        .on_delete = [this](const kube::ObjectPtr& o) { Note(deleted, o); },
    });
    informer->Run();
  }
  ~ProxiedInformer() { informer->Stop(); }

  bool Heard(const std::set<std::string>& set, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    return set.count(name) > 0;
  }

  TcpProxy proxy;
  std::unique_ptr<kube::Client> client;
  CountingListerWatcher* counter = nullptr;
  std::unique_ptr<kube::Informer> informer;
  std::mutex mu;
  std::set<std::string> added, updated, deleted;

 private:
  void Note(std::set<std::string>& set, const kube::ObjectPtr& o) {
    std::lock_guard<std::mutex> lock(mu);
    set.insert(base::NameOf(*o));
  }
};

// The informer's store holds exactly what the server has, at the same versions.
::testing::AssertionResult StoreMatchesServer(kube::Client& admin, const kube::Informer& informer,
                                              const std::string& ns) {
  auto list = admin.ListAll(kv::kVirtualMachines, ns);
  if (!list.ok()) return ::testing::AssertionFailure() << list.status().ToString();
  if (list->items.size() != informer.store().size()) {
    return ::testing::AssertionFailure()
           << "server has " << list->items.size() << ", store " << informer.store().size();
  }
  for (const Json& item : list->items) {
    auto cached = informer.store().Get(base::KeyOf(item));
    if (cached == nullptr) return ::testing::AssertionFailure() << base::KeyOf(item) << " missing";
    if (base::ResourceVersionOf(*cached) != base::ResourceVersionOf(item)) {
      return ::testing::AssertionFailure() << base::KeyOf(item) << " stale";
    }
  }
  return ::testing::AssertionSuccess();
}

// Creates, updates and deletes while the informer cannot hear.
void MutateWhileAway(kube::Client& admin, const std::string& ns) {
  ASSERT_TRUE(admin.Create(kv::kVirtualMachines, ns, MakeVm("born-away")).ok());
  ASSERT_TRUE(admin
                  .Patch(kv::kVirtualMachines, ns, "keep", kube::PatchType::kMerge,
                         JsonOf(R"({"metadata": {"labels": {"touched": "away"}}})"))
                  .ok());
  ASSERT_TRUE(admin.Delete(kv::kVirtualMachines, ns, "doomed").ok());
}

TEST_F(WatchTest, InformerResumesAfterDroppedConnectionsAndMissesNothing) {
  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("keep")).ok());
  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("doomed")).ok());
  ProxiedInformer p(*env_, ns_);
  ASSERT_TRUE(p.informer->WaitForSync(std::chrono::seconds(30)));
  ASSERT_EQ(p.informer->store().size(), 2u);
  int watches_before = p.counter->watches.load();

  p.proxy.SetPaused(true);
  p.proxy.DropConnections();
  MutateWhileAway(*client_, ns_);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a few refused reconnects
  p.proxy.SetPaused(false);

  EXPECT_TRUE(Eventually([&] { return bool(StoreMatchesServer(*client_, *p.informer, ns_)); },
                         std::chrono::seconds(30)))
      << StoreMatchesServer(*client_, *p.informer, ns_).message();
  EXPECT_TRUE(p.Heard(p.added, "born-away"));
  EXPECT_TRUE(p.Heard(p.updated, "keep"));
  EXPECT_TRUE(p.Heard(p.deleted, "doomed"));
  // Resumed from its resourceVersion: a new watch, no second list.
  EXPECT_GT(p.counter->watches.load(), watches_before);
  EXPECT_EQ(p.counter->lists.load(), 1);
}

TEST_F(WatchTest, InformerRelistsAfterGoneAndMissesNothing) {
  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("keep")).ok());
  ASSERT_TRUE(client_->Create(kv::kVirtualMachines, ns_, MakeVm("doomed")).ok());
  ProxiedInformer p(*env_, ns_);
  ASSERT_TRUE(p.informer->WaitForSync(std::chrono::seconds(30)));

  p.proxy.SetPaused(true);
  p.proxy.DropConnections();
  MutateWhileAway(*client_, ns_);
  // The informer's resourceVersion falls out of history: etcd compacts past
  // it and the restarted apiserver's watch cache starts after it.
  env_->CompactEtcd();
  env_->RestartApiserver();
  p.proxy.SetPaused(false);

  EXPECT_TRUE(Eventually([&] { return bool(StoreMatchesServer(*client_, *p.informer, ns_)); },
                         std::chrono::seconds(60)))
      << StoreMatchesServer(*client_, *p.informer, ns_).message();
  EXPECT_TRUE(p.Heard(p.added, "born-away"));
  EXPECT_TRUE(p.Heard(p.updated, "keep"));
  EXPECT_TRUE(p.Heard(p.deleted, "doomed"));  // found gone by the relist
  EXPECT_GE(p.counter->lists.load(), 2) << "410 Gone should have led to a relist";
}

}  // namespace
}  // namespace vireo::testing
