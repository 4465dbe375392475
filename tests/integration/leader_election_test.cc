// T1: a leader whose Lease requests stall (a network that stops carrying its
// bytes, between it and the real apiserver) steps down at its renew deadline,
// not when a request times out, and nothing it writes lands after that; a
// vireo-controller cut off that way exits on time. Runs alone (is_parallel:
// false): it measures timings.
#include "lib/kube/leader_election.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "lib/api/resources.h"
#include "lib/kube/informer.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/test_objects.h"

namespace vireo::testing {
namespace {

using base::Json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyTime = std::chrono::steady_clock::time_point;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

int64_t Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// A loopback TCP forwarder that can stall: while stalled it neither reads nor
// forwards a byte (a partition, not a refusal), and when the stall ends every
// connection it held is cut, as a partition that heals leaves its TCP
// connections dead. Bytes sent into a stall never reach the apiserver.
class StallingProxy {
 public:
  explicit StallingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("StallingProxy: cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~StallingProxy() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> l(mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  void SetStalled(bool stalled) { stalled_ = stalled; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }
  void AcceptLoop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::lock_guard<std::mutex> l(mu_);
      pumps_.emplace_back([this, client] { Pump(client); });
    }
  }
  void Pump(int client) {
    bool cut = stalled_;  // a connection made during a stall never gets through
    int server = -1;
    while (!stopping_ && stalled_) std::this_thread::sleep_for(milliseconds(5));
    if (!cut) {
      server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = Loopback(target_port_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        cut = true;
      }
    }
    char buf[16384];
    while (!cut && !stopping_) {
      if (stalled_) {
        while (!stopping_ && stalled_) std::this_thread::sleep_for(milliseconds(5));
        break;  // healed: this connection is dead
      }
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, 5) < 0) break;
      // Looked at again after the poll: a stall that began meanwhile wins.
      if (stalled_) continue;
      bool open = true;
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
        open = n > 0;
        for (ssize_t off = 0; open && off < n;) {
          ssize_t w = send(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          open = w > 0;
          off += w;
        }
      }
      if (!open) break;
    }
    close(client);
    if (server >= 0) close(server);
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stalled_{false};
  std::mutex mu_;
  std::vector<std::thread> pumps_;  // GUARDED_BY(mu_)
  std::thread acceptor_;
};

// The real Lease calls, timed: when each attempt began and which writes
// succeeded when.
class TimedLeaseApi : public kube::LeaseApi {
 public:
  explicit TimedLeaseApi(kube::Client* client) : inner_(kube::LeaseApi::ForClient(client)) {}
  base::Result<Json> Get(const std::string& ns, const std::string& name,
                         base::Clock::Duration timeout) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      attempt_start_ = std::chrono::steady_clock::now();
    }
    return inner_->Get(ns, name, timeout);
  }
  base::Result<Json> Create(const std::string& ns, const Json& lease,
                            base::Clock::Duration timeout) override {
    return Written(inner_->Create(ns, lease, timeout));
  }
  base::Result<Json> Update(const Json& lease, base::Clock::Duration timeout) override {
    return Written(inner_->Update(lease, timeout));
  }
  // The start of the last attempt whose write succeeded.
  SteadyTime last_renewal() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_renewal_;
  }
  // When the last successful write returned.
  SteadyTime last_write_done() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_write_done_;
  }

 private:
  base::Result<Json> Written(base::Result<Json> result) {
    if (result.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      last_renewal_ = attempt_start_;
      last_write_done_ = std::chrono::steady_clock::now();
    }
    return result;
  }
  const std::unique_ptr<kube::LeaseApi> inner_;
  mutable std::mutex mu_;
  SteadyTime attempt_start_, last_renewal_, last_write_done_;  // GUARDED_BY(mu_)
};

// Every version of the Lease the apiserver stored, as a watch delivers them.
class LeaseHistory {
 public:
  LeaseHistory(kube::Client* client, const std::string& ns)
      : informer_(std::make_unique<kube::ClientListerWatcher>(client, res::kLeases,
                                                              kube::Selection{ns, "", ""})) {
    auto record = [this](const kube::ObjectPtr& lease) {
      std::lock_guard<std::mutex> l(mu_);
      versions_.push_back(
          {base::GetString(*lease, "spec.holderIdentity"), std::chrono::steady_clock::now()});
    };
    informer_.AddHandlers(
        {.on_add = record,
         .on_update = [record](const kube::ObjectPtr&, const kube::ObjectPtr& now) { record(now); },
         .on_delete = nullptr});
    informer_.Run();
  }
  ~LeaseHistory() { informer_.Stop(); }
  bool WaitForSync() { return informer_.WaitForSync(seconds(30)); }
  struct Version {
    std::string holder;
    SteadyTime seen;
  };
  std::vector<Version> versions() const {
    std::lock_guard<std::mutex> l(mu_);
    return versions_;
  }

 private:
  kube::Informer informer_;
  mutable std::mutex mu_;
  std::vector<Version> versions_;  // GUARDED_BY(mu_)
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = &ClusterEnv::Get();
    admin_ = env_->AdminClient();
    ns_ = env_->CreateNamespace(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string LeaseHolder(const std::string& ns, const std::string& name) {
    auto lease = admin_->Get(res::kLeases, ns, name);
    return lease.ok() ? base::GetString(*lease, "spec.holderIdentity") : "<none>";
  }

  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> admin_;
  std::string ns_;
};

TEST_F(LeaderElectionTest, AStalledLeaderStepsDownAtItsRenewDeadlineAndNeverOverlaps) {
  constexpr auto kRenewDeadline = milliseconds(2000);
  constexpr auto kLeaseDuration = seconds(4);
  StallingProxy proxy(env_->apiserver_port());
  // The old leader's client goes through the proxy and keeps the default
  // 30 s request timeout: only the renew deadline may bound its calls.
  kube::ClusterConfig proxied = admin_->config();
  proxied.server = "https://127.0.0.1:" + std::to_string(proxy.port());
  auto client_a = kube::Client::Create(proxied);
  ASSERT_TRUE(client_a.ok()) << client_a.status().ToString();
  auto client_b = env_->AdminClient();

  LeaseHistory history(admin_.get(), ns_);
  ASSERT_TRUE(history.WaitForSync());

  auto config = [&](const std::string& identity) {
    kube::LeaderElectionConfig c;
    c.lease_namespace = ns_;
    c.lease_name = "vireo-controller";
    c.identity = identity;
    c.lease_duration = kLeaseDuration;
    c.renew_deadline = kRenewDeadline;
    c.retry_period = milliseconds(250);
    c.on_error = [](const base::Status&) {};  // timeouts are the point here
    return c;
  };
  std::atomic<bool> a_leads{false}, a_stopped{false}, a_returned{false}, b_leads{false};
  SteadyTime a_stopped_at, b_started_at;
  std::mutex times_mu;
  kube::LeaderElectionConfig config_a = config("old");
  config_a.on_started_leading = [&] { a_leads = true; };
  config_a.on_stopped_leading = [&] {
    std::lock_guard<std::mutex> l(times_mu);
    a_stopped_at = std::chrono::steady_clock::now();
    a_stopped = true;
  };
  config_a.release_on_stop = false;
  auto api_a = std::make_unique<TimedLeaseApi>(client_a->get());
  TimedLeaseApi* timed_a = api_a.get();
  kube::LeaderElector a(std::move(api_a), config_a);
  std::thread ta([&] {
    a.Run();
    a_returned = true;
  });
  std::unique_ptr<kube::LeaderElector> b;
  std::thread tb;
  // On any exit: the stall ends, both stop, their threads are joined.
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    proxy.SetStalled(false);
    a.Stop();
    if (b) b->Stop();
    if (ta.joinable()) ta.join();
    if (tb.joinable()) tb.join();
  }};
  ASSERT_TRUE(Eventually([&] { return a_leads.load(); }, seconds(15)));
  std::this_thread::sleep_for(seconds(1));  // a few renewals
  ASSERT_TRUE(a.IsLeader());
  ASSERT_EQ(LeaseHolder(ns_, "vireo-controller"), "old");

  proxy.SetStalled(true);
  const SteadyTime stalled_at = std::chrono::steady_clock::now();
  kube::LeaderElectionConfig config_b = config("new");
  config_b.on_started_leading = [&] {
    std::lock_guard<std::mutex> l(times_mu);
    b_started_at = std::chrono::steady_clock::now();
    b_leads = true;
  };
  b = std::make_unique<kube::LeaderElector>(kube::LeaseApi::ForClient(client_b.get()), config_b);
  tb = std::thread([&] { b->Run(); });

  // Steps down at the renew deadline, though its renewal hangs (its client
  // would wait 30 s for it).
  ASSERT_TRUE(Eventually([&] { return a_stopped.load(); }, seconds(10)))
      << "the stalled leader still acts " << Ms(std::chrono::steady_clock::now() - stalled_at)
      << " ms after the stall";
  SteadyTime stopped_at;
  {
    std::lock_guard<std::mutex> l(times_mu);
    stopped_at = a_stopped_at;
  }
  const int64_t after_renewal = Ms(stopped_at - timed_a->last_renewal());
  std::printf(
      "stalled leader stepped down %lld ms after its last renewal began (deadline %lld "
      "ms), %lld ms after the stall\n",
      static_cast<long long>(after_renewal), static_cast<long long>(kRenewDeadline.count()),
      static_cast<long long>(Ms(stopped_at - stalled_at)));
  EXPECT_GE(after_renewal, kRenewDeadline.count() - 5);
  EXPECT_LE(after_renewal, kRenewDeadline.count() + 250);
  EXPECT_FALSE(a.IsLeader());
  // Its call under way ends at the same deadline: Run returns soon after.
  EXPECT_TRUE(Eventually([&] { return a_returned.load(); }, seconds(1)))
      << "Run still waits for a call past the renew deadline";
  EXPECT_LT(timed_a->last_write_done(), stopped_at) << "a Lease write succeeded after step-down";

  // The successor waits out the Lease it saw last renewed, so it starts at
  // least lease duration - renew deadline after the old leader stopped.
  ASSERT_TRUE(Eventually([&] { return b_leads.load(); }, seconds(15)));
  SteadyTime started_at;
  {
    std::lock_guard<std::mutex> l(times_mu);
    started_at = b_started_at;
  }
  const int64_t gap = Ms(started_at - stopped_at);
  std::printf("successor started %lld ms after the old leader stopped\n",
              static_cast<long long>(gap));
  EXPECT_GE(gap, Ms(kLeaseDuration - kRenewDeadline) - 100) << "the two leaders overlapped";

  // The stall ends; whatever the old leader had sent into it is lost with its
  // connections, and it sends nothing more.
  proxy.SetStalled(false);
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(LeaseHolder(ns_, "vireo-controller"), "new");
  ta.join();
  b->Stop();
  tb.join();

  // What the apiserver stored: the old holder's versions all came before it
  // stepped down, none after the successor's first.
  bool successor_seen = false;
  int old_versions = 0;
  for (const LeaseHistory::Version& v : history.versions()) {
    if (v.holder == "old") {
      ++old_versions;
      EXPECT_FALSE(successor_seen) << "the old leader wrote the Lease after its successor";
      EXPECT_LT(v.seen, stopped_at + milliseconds(100))
          << "a write of the old leader landed " << Ms(v.seen - stopped_at)
          << " ms after it stepped down";
    } else if (v.holder == "new") {
      successor_seen = true;
    }
  }
  EXPECT_GE(old_versions, 3) << "the old leader renewed before the stall";
  EXPECT_TRUE(successor_seen);
}

// vireo-controller whose connection to the apiserver stalls exits with 1 by
// its renew deadline (2 s from the fixture's flags), without waiting for its
// requests; a fresh replica then takes over and acts.
TEST_F(LeaderElectionTest, AControllerCutOffFromTheApiserverExitsByItsRenewDeadline) {
  StallingProxy proxy(env_->apiserver_port());
  // The ServiceAccount kubeconfig, through the proxy.
  std::ifstream in(ServiceAccountKubeconfig());
  std::stringstream text;
  text << in.rdbuf();
  std::string kubeconfig = text.str();
  const std::string direct = "https://127.0.0.1:" + std::to_string(env_->apiserver_port());
  const size_t at = kubeconfig.find(direct);
  ASSERT_NE(at, std::string::npos) << kubeconfig;
  kubeconfig.replace(at, direct.size(), "https://127.0.0.1:" + std::to_string(proxy.port()));
  const std::string proxied_path = env_->dir() + "/stalled-" + ns_ + ".kubeconfig";
  std::ofstream(proxied_path) << kubeconfig;

  auto start = [&](const std::string& identity, std::vector<std::string> extra) {
    ControllerProcess::Flags flags;
    flags.ns = ns_;
    flags.identity = identity;
    flags.leader_elect = true;
    flags.lease_name = ns_;
    flags.extra = std::move(extra);
    auto process = std::make_unique<ControllerProcess>(flags);
    process->Start();
    return process;
  };
  auto a = start("stalled", {"--kubeconfig=" + proxied_path});
  ASSERT_TRUE(Eventually([&] { return a->Metric("vireo_leader") == 1.0; }, seconds(30)))
      << a->Log();
  std::this_thread::sleep_for(seconds(1));
  ASSERT_EQ(LeaseHolder(kControllerNamespace, ns_), "stalled");

  proxy.SetStalled(true);
  const SteadyTime stalled_at = std::chrono::steady_clock::now();
  const std::optional<int> code = a->Wait(seconds(10));
  const int64_t exited_after = Ms(std::chrono::steady_clock::now() - stalled_at);
  std::printf("cut-off controller exited %lld ms after the stall (renew deadline 2000 ms)\n",
              static_cast<long long>(exited_after));
  EXPECT_EQ(code, std::optional<int>(1)) << a->Log();
  // Its last renewal began before the stall: the deadline is at most 2 s on.
  EXPECT_LE(exited_after, 2000 + 500);
  EXPECT_NE(a->Log().find("lost the lease"), std::string::npos);

  auto b = start("fresh", {});
  ASSERT_TRUE(Eventually([&] { return b->Metric("vireo_leader") == 1.0; }, seconds(30)))
      << b->Log();
  EXPECT_EQ(LeaseHolder(kControllerNamespace, ns_), "fresh");
  Json vm = MakeVm("after");
  vm["spec"]["runStrategy"] = Json("Always");
  ASSERT_TRUE(admin_->Create(kv::kVirtualMachines, ns_, vm).ok());
  EXPECT_TRUE(Eventually(
      [&] { return admin_->Get(kv::kVirtualMachineInstances, ns_, "after").ok(); }, seconds(30)))
      << b->Log();
  proxy.SetStalled(false);
  b->Signal(SIGTERM);
  EXPECT_EQ(b->Wait(seconds(30)), std::optional<int>(0)) << b->Log();
}

}  // namespace
}  // namespace vireo::testing
