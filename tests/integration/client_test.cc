// T1: the REST client against a real kube-apiserver: CRUD, pagination,
// selectors, patches, the status subresource, typed errors and conflicts.
#include "lib/kube/client.h"

#include <gtest/gtest.h>

#include <thread>

#include "lib/api/resources.h"
#include "tests/integration/cluster_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Code;
using base::Json;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = &ClusterEnv::Get();
    client_ = env_->AdminClient();
    ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  Json CreateVm(const std::string& name, const std::string& labels = "{}") {
    auto created = client_->Create(kv::kVirtualMachines, ns_, MakeVm(name, labels));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created.value() : Json();
  }

  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
};

TEST_F(ClientTest, CreateGetUpdateDeleteVirtualMachine) {
  Json created = CreateVm("crud");
  EXPECT_EQ(base::NameOf(created), "crud");
  EXPECT_FALSE(base::UidOf(created).empty());

  auto got = client_->Get(kv::kVirtualMachines, ns_, "crud");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(base::UidOf(*got), base::UidOf(created));
  EXPECT_EQ(base::GetString(*got, "spec.runStrategy"), "Halted");

  Json changed = *got;
  changed["spec"]["runStrategy"] = Json("Always");
  auto updated = client_->Update(kv::kVirtualMachines, changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(base::GetString(*updated, "spec.runStrategy"), "Always");
  EXPECT_NE(base::ResourceVersionOf(*updated), base::ResourceVersionOf(*got));

  ASSERT_TRUE(client_->Delete(kv::kVirtualMachines, ns_, "crud").ok());
  auto gone = client_->Get(kv::kVirtualMachines, ns_, "crud");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("crud"), std::string::npos) << gone.status().message();
}

TEST_F(ClientTest, MergeAndJsonPatch) {
  CreateVm("patched");
  auto merged = client_->Patch(kv::kVirtualMachines, ns_, "patched", kube::PatchType::kMerge,
                               JsonOf(R"({"metadata": {"labels": {"tier": "gold"}}})"));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(base::GetString(*merged, "metadata.labels.tier"), "gold");

  auto jsonpatched = client_->Patch(
      kv::kVirtualMachines, ns_, "patched", kube::PatchType::kJson,
      JsonOf(R"([{"op": "replace", "path": "/spec/runStrategy", "value": "Manual"}])"));
  ASSERT_TRUE(jsonpatched.ok()) << jsonpatched.status().ToString();
  EXPECT_EQ(base::GetString(*jsonpatched, "spec.runStrategy"), "Manual");

  // A JSON patch test operation that fails is refused, and nothing changes.
  auto refused =
      client_->Patch(kv::kVirtualMachines, ns_, "patched", kube::PatchType::kJson,
                     JsonOf(R"([{"op": "test", "path": "/spec/runStrategy", "value": "Always"},
                 {"op": "replace", "path": "/spec/runStrategy", "value": "Halted"}])"));
  EXPECT_FALSE(refused.ok());
  auto after = client_->Get(kv::kVirtualMachines, ns_, "patched");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(base::GetString(*after, "spec.runStrategy"), "Manual");
}

TEST_F(ClientTest, StatusGoesThroughTheSubresourceOnly) {
  Json vm = CreateVm("status");
  // A status written with a plain update is ignored by the server...
  vm["status"]["printableStatus"] = Json("Running");
  auto plain = client_->Update(kv::kVirtualMachines, vm);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(base::GetString(*plain, "status.printableStatus"), "");
  // ...and kept when written through the status subresource.
  Json fresh = *plain;
  fresh["status"]["printableStatus"] = Json("Stopped");
  auto status = client_->UpdateStatus(kv::kVirtualMachines, fresh);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(base::GetString(*status, "status.printableStatus"), "Stopped");

  auto patched = client_->Patch(kv::kVirtualMachines, ns_, "status", kube::PatchType::kMerge,
                                JsonOf(R"({"status": {"ready": true}})"), "status");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ(base::GetBool(*patched, "status.ready"), std::optional<bool>(true));
  EXPECT_EQ(base::GetString(*patched, "status.printableStatus"), "Stopped");
}

TEST_F(ClientTest, ListPagesAndSelectors) {
  for (int i = 0; i < 23; ++i) {
    CreateVm("page-" + std::to_string(i), i % 3 == 0 ? R"({"pick": "yes"})" : R"({"pick": "no"})");
  }
  kube::ListOptions page_opts;
  page_opts.limit = 10;
  auto first = client_->List(kv::kVirtualMachines, ns_, page_opts);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->items.size(), 10u);
  EXPECT_FALSE(first->continue_token.empty());
  EXPECT_FALSE(first->resource_version.empty());

  kube::ListOptions all_opts;
  all_opts.limit = 10;
  auto all = client_->ListAll(kv::kVirtualMachines, ns_, all_opts);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->items.size(), 23u);
  EXPECT_TRUE(all->continue_token.empty());

  kube::ListOptions picked;
  picked.label_selector = "pick=yes";
  auto selected = client_->ListAll(kv::kVirtualMachines, ns_, picked);
  ASSERT_TRUE(selected.ok()) << selected.status().ToString();
  EXPECT_EQ(selected->items.size(), 8u);  // 0, 3, ..., 21

  kube::ListOptions negated;
  negated.label_selector = "pick!=yes";
  auto rest = client_->ListAll(kv::kVirtualMachines, ns_, negated);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->items.size(), 15u);

  kube::ListOptions by_field;
  by_field.field_selector = "metadata.name=page-7";
  auto one = client_->ListAll(kv::kVirtualMachines, ns_, by_field);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(base::NameOf(one->items[0]), "page-7");
}

TEST_F(ClientTest, PodsAndTheirStatus) {
  Json pod = JsonOf(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"containers": [{"name": "c", "image": "vireo/none:1"}],
               "automountServiceAccountToken": false}})");
  auto created = client_->Create(res::kPods, ns_, pod);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // The tests play the kubelet: its status writes go through pods/status.
  auto running =
      client_->Patch(res::kPods, ns_, "p", kube::PatchType::kMerge,
                     JsonOf(R"({"status": {"phase": "Running", "podIP": "10.1.2.3"}})"), "status");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_EQ(base::GetString(*running, "status.phase"), "Running");
  EXPECT_EQ(base::GetString(*running, "status.podIP"), "10.1.2.3");

  kube::DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  base::Status refused = client_->Delete(res::kPods, ns_, "p", wrong_uid);
  EXPECT_EQ(refused.code(), Code::kConflict) << refused.ToString();

  kube::DeleteOptions right_uid;
  right_uid.precondition_uid = base::UidOf(*created);
  right_uid.grace_period_seconds = 0;
  base::Status deleted = client_->Delete(res::kPods, ns_, "p", right_uid);
  EXPECT_TRUE(deleted.ok()) << deleted.ToString();
}

TEST_F(ClientTest, TypedErrorsCarryTheServersWords) {
  CreateVm("dup");
  auto again = client_->Create(kv::kVirtualMachines, ns_, MakeVm("dup"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().ToString();

  Json bad = MakeVm("bad");
  bad["spec"]["runStrategy"] = Json("Sometimes");
  auto invalid = client_->Create(kv::kVirtualMachines, ns_, bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), Code::kInvalid) << invalid.status().ToString();
  ASSERT_FALSE(invalid.status().causes().empty());
  EXPECT_EQ(invalid.status().causes()[0].field, "spec.runStrategy");

  // Unknown fields are refused (fieldValidation=Strict), never dropped.
  Json unknown = MakeVm("unknown");
  unknown["spec"]["bogus"] = Json(true);
  auto strict = client_->Create(kv::kVirtualMachines, ns_, unknown);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().ToString().find("bogus"), std::string::npos)
      << strict.status().ToString();
}

TEST_F(ClientTest, ConcurrentUpdatesConflictAndRetryFromFreshState) {
  CreateVm("race");
  auto a = client_->Get(kv::kVirtualMachines, ns_, "race");
  auto b = client_->Get(kv::kVirtualMachines, ns_, "race");
  ASSERT_TRUE(a.ok() && b.ok());
  Json first = *a;
  first["metadata"]["labels"]["writer"] = Json("a");
  ASSERT_TRUE(client_->Update(kv::kVirtualMachines, first).ok());

  Json second = *b;  // stale resourceVersion
  second["metadata"]["labels"]["writer"] = Json("b");
  auto stale = client_->Update(kv::kVirtualMachines, second);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kConflict) << stale.status().ToString();

  // Retry from fresh state succeeds.
  auto fresh = client_->Get(kv::kVirtualMachines, ns_, "race");
  ASSERT_TRUE(fresh.ok());
  Json retry = *fresh;
  retry["metadata"]["labels"]["writer"] = Json("b");
  auto ok = client_->Update(kv::kVirtualMachines, retry);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(base::GetString(*ok, "metadata.labels.writer"), "b");
}

TEST_F(ClientTest, ManyThreadsIncrementingOneCounterLoseNoUpdate) {
  CreateVm("counter", R"({"count": "0"})");
  constexpr int kThreads = 4, kEach = 5;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {  // read-modify-write until no conflict
          auto cur = client_->Get(kv::kVirtualMachines, ns_, "counter");
          ASSERT_TRUE(cur.ok()) << cur.status().ToString();
          Json next = *cur;
          int n = std::stoi(base::GetString(next, "metadata.labels.count"));
          next["metadata"]["labels"]["count"] = Json(std::to_string(n + 1));
          auto put = client_->Update(kv::kVirtualMachines, next);
          if (put.ok()) break;
          ASSERT_EQ(put.status().code(), Code::kConflict) << put.status().ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto final_vm = client_->Get(kv::kVirtualMachines, ns_, "counter");
  ASSERT_TRUE(final_vm.ok());
  EXPECT_EQ(base::GetString(*final_vm, "metadata.labels.count"), std::to_string(kThreads * kEach));
}

TEST_F(ClientTest, ServiceAccountWithoutRightsIsForbidden) {
  Json sa =
      JsonOf(R"({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}})");
  ASSERT_TRUE(client_->Create(res::kServiceAccounts, ns_, sa).ok());
  auto nobody = env_->ClientFor(ns_, "nobody");
  auto denied = nobody->Get(kv::kVirtualMachines, ns_, "anything");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), Code::kForbidden) << denied.status().ToString();
  // The server's message says which verb on which resource.
  EXPECT_NE(denied.status().message().find("virtualmachines"), std::string::npos);
  EXPECT_NE(denied.status().message().find("get"), std::string::npos);
}

TEST_F(ClientTest, BadCredentialsAreUnauthorized) {
  kube::ClusterConfig config = client_->config();
  config.client_cert_pem.clear();
  config.client_key_pem.clear();
  config.bearer_token = "not-a-token";
  auto client = kube::Client::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto denied = (*client)->Get(kv::kVirtualMachines, ns_, "x");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), Code::kUnauthorized) << denied.status().ToString();
}

TEST_F(ClientTest, UnreachableServerIsAnErrorNotACrash) {
  kube::ClusterConfig config = client_->config();
  config.server = "https://127.0.0.1:1";  // nothing listens there
  auto client = kube::Client::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto failed = (*client)->Get(kv::kVirtualMachines, ns_, "x");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kUnavailable) << failed.status().ToString();
}

TEST_F(ClientTest, WrongCertificateAuthorityIsRefused) {
  kube::ClusterConfig config = client_->config();
  // A CA that did not sign the server's certificate: the TLS handshake fails.
  std::string other_ca;
  ASSERT_EQ(RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -days 1 "
                       "-subj /CN=other -out /dev/stdout 2>/dev/null",
                       &other_ca),
            0);
  config.ca_pem = other_ca;
  auto client = kube::Client::Create(config);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto failed = (*client)->Get(kv::kVirtualMachines, ns_, "x");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kUnavailable) << failed.status().ToString();
}

}  // namespace
}  // namespace vireo::testing
