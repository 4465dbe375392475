// T1: the virtctl binary against the real apiserver and vireo-controller
// (run as its ServiceAccount); the test plays the kubelet. start, stop and
// restart must change the VM as KubeVirt's would for every runStrategy, and
// the failures (missing VM, wrong namespace, missing permission, a console
// that cannot run) must say so with their documented exit codes. The
// console runs end to end through the real apiserver to a kubelet's
// streaming endpoint the test plays (ConsoleKubelet), past a TCP proxy that
// cuts idle links or swallows every byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "lib/api/resources.h"
#include "lib/kube/test_websocket_server.h"
#include "tests/integration/controller_env.h"
#include "tests/integration/tcp_proxy.h"

namespace vireo::testing {
namespace {

using base::Json;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

std::string Uid(const Json& o) { return base::UidOf(o); }

struct Outcome {
  int code = -1;
  std::string output;  // stdout + stderr
};

using Ms = std::chrono::milliseconds;

// `virtctl console` as a child process: the test writes its stdin, its
// stdout and stderr go to one file.
class ConsoleProcess {
 public:
  ConsoleProcess(const std::string& command_line, std::string out_path)
      : out_path_(std::move(out_path)) {
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      execl("/bin/sh", "sh", "-c", ("exec " + command_line).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    stdin_ = in[1];
  }
  ~ConsoleProcess() {
    CloseStdin();
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool Write(const std::string& bytes) {
    return stdin_ >= 0 &&
           write(stdin_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }
  void CloseStdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }
  // The exit code, or nullopt while it still runs after `limit`.
  std::optional<int> Wait(Ms limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exit_code_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(Ms(20));
    }
    return exit_code_;
  }
  std::string Output() const {
    std::ifstream in(out_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool WaitForOutput(const std::string& needle, Ms limit) {
    return Eventually([&] { return Output().find(needle) != std::string::npos; }, limit);
  }

 private:
  std::string out_path_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::optional<int> exit_code_;
};

// Plays a kubelet's streaming server for pods/exec. A Node of its own names
// 127.0.0.1 and the server's port, and declares ExtendWebSocketsToKubelet, so
// the apiserver proxies the console's WebSocket (v5.channel.k8s.io) to it as
// it is. It echoes each stdin frame as stdout and ends the command with
// Success when stdin is closed.
class ConsoleKubelet {
 public:
  ConsoleKubelet(const ClusterEnv& env, std::string node)
      : env_(env), node_(std::move(node)), server_(Options(), &Answer) {
    std::string manifest = env_.dir() + "/" + node_ + ".yaml";
    std::ofstream(manifest) << "apiVersion: v1\nkind: Node\nmetadata: {name: " << node_ << "}\n";
    std::string out;
    EXPECT_EQ(env_.Kubectl("apply -f " + manifest, &out), 0) << out;
    std::string status = R"({"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],)"
                         R"("daemonEndpoints":{"kubeletEndpoint":{"Port":)" +
                         std::to_string(server_.port()) +
                         R"(}},"declaredFeatures":["ExtendWebSocketsToKubelet"]}})";
    EXPECT_EQ(
        env_.Kubectl(
            "patch node " + node_ + " --subresource=status --type=merge -p '" + status + "'", &out),
        0)
        << out;
  }
  ~ConsoleKubelet() {
    std::string out;
    env_.Kubectl("delete node " + node_ + " --wait=false", &out);
  }
  const std::string& node() const { return node_; }
  std::vector<kube::testing::UpgradeRequest> upgrades() const { return server_.upgrades(); }

 private:
  static kube::testing::TestWebSocketServerOptions Options() {
    static const kube::testing::TestPki pki = kube::testing::MakeTestPki({"127.0.0.1"});
    kube::testing::TestWebSocketServerOptions options;
    options.cert_pem = pki.server_cert_pem;
    options.key_pem = pki.server_key_pem;
    options.subprotocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
    return options;
  }
  static std::vector<std::string> Answer(const std::string& frame) {
    if (frame.size() > 1 && frame[0] == '\0') return {"\x01" + frame.substr(1)};
    if (frame == std::string("\xff\0", 2)) {
      return {std::string("\x03") + R"({"metadata":{},"status":"Success"})"};
    }
    return {};
  }

  const ClusterEnv& env_;
  const std::string node_;
  kube::testing::TestWebSocketServer server_;
};

class VirtctlTest : public ControllerTest {
 protected:
  Outcome Virtctl(const std::string& args, const std::string& kubeconfig = "") {
    const char* bin = std::getenv("VIREO_VIRTCTL_BIN");
    std::string command = std::string(bin != nullptr ? bin : "virtctl") + " --kubeconfig " +
                          (kubeconfig.empty() ? env_->kubeconfig() : kubeconfig) + " -n " + ns_ +
                          " " + args + " </dev/null 2>&1";
    Outcome run;
    run.code = RunCommand(command, &run.output);
    return run;
  }
  // Waits for the VMI of `vm` (not `old_uid`) and plays its launcher up to Running.
  Json StartAndRun(const std::string& vm, const std::string& old_uid = "") {
    Json vmi = WaitFor(
        kv::kVirtualMachineInstances, vm, [&](const Json& o) { return Uid(o) != old_uid; },
        "a new VMI for " + vm);
    Json pod = WaitForPod(Uid(vmi));
    EXPECT_TRUE(kubelet_->Bind(base::NameOf(pod)).ok());
    EXPECT_TRUE(kubelet_->SetRunning(base::NameOf(pod)).ok());
    WaitFor(
        kv::kVirtualMachines, vm, [](const Json& o) { return PrintableStatusOf(o) == "Running"; },
        vm + " Running");
    return WaitFor(
        kv::kVirtualMachineInstances, vm,
        [&](const Json& o) { return Uid(o) == Uid(vmi) && PhaseOf(o) == "Running"; },
        "VMI " + vm + " Running");
  }
  // A VM whose launcher pod runs on `node`.
  void RunOn(const std::string& vm, const std::string& node) {
    CreateVm(vm, "Always");
    Json vmi = WaitFor(
        kv::kVirtualMachineInstances, vm, [](const Json&) { return true; }, "a VMI for " + vm);
    Json pod = WaitForPod(Uid(vmi));
    EXPECT_TRUE(kubelet_->Bind(base::NameOf(pod), node).ok());
    EXPECT_TRUE(kubelet_->SetRunning(base::NameOf(pod)).ok());
    WaitFor(
        kv::kVirtualMachineInstances, vm, [](const Json& o) { return PhaseOf(o) == "Running"; },
        "VMI " + vm + " Running");
  }
  // The harness's cluster-admin, reaching the apiserver at host:port (a
  // proxy's) and checking its certificate against tls_server_name.
  std::string AdminKubeconfig(int port, const std::string& tls_server_name,
                              const std::string& host = "127.0.0.1") {
    std::string path = env_->dir() + "/" + ns_ + "-" + host + "-" + std::to_string(port) + "-" +
                       tls_server_name + ".kubeconfig";
    std::string pki = env_->dir() + "/pki/";
    std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: t1\n  cluster:\n"
                        << "    server: https://" << host << ":" << port << "\n"
                        << "    certificate-authority: " << pki << "ca.crt\n"
                        << "    tls-server-name: " << tls_server_name << "\n"
                        << "users:\n- name: admin\n  user:\n"
                        << "    client-certificate: " << pki << "admin.crt\n"
                        << "    client-key: " << pki << "admin.key\n"
                        << "contexts:\n- name: t1\n  context: {cluster: t1, user: admin}\n"
                        << "current-context: t1\n";
    return path;
  }
  std::unique_ptr<ConsoleProcess> Console(const std::string& vm, const std::string& kubeconfig,
                                          const std::string& flags) {
    const char* bin = std::getenv("VIREO_VIRTCTL_BIN");
    return std::make_unique<ConsoleProcess>(
        std::string(bin != nullptr ? bin : "virtctl") + " --kubeconfig " + kubeconfig + " -n " +
            ns_ + " console " + vm + " --timeout 20s " + flags,
        env_->dir() + "/" + ns_ + "-" + vm + "-console-" + std::to_string(consoles_++) + ".out");
  }
  int consoles_ = 0;

  std::string StrategyOf(const std::string& vm) {
    auto o = Get(kv::kVirtualMachines, vm);
    return o ? base::GetString(*o, "spec.runStrategy") : "(gone)";
  }
  void WaitStopped(const std::string& vm) {
    EXPECT_TRUE(WaitGone(kv::kVirtualMachineInstances, vm)) << vm << "'s VMI is removed";
    WaitFor(
        kv::kVirtualMachines, vm, [](const Json& o) { return PrintableStatusOf(o) == "Stopped"; },
        vm + " Stopped");
  }
  // A kubeconfig for a new ServiceAccount of this namespace bound to a Role
  // with `rules_yaml`.
  std::string LimitedKubeconfig(const std::string& sa, const std::string& rules_yaml) {
    std::string manifest = env_->dir() + "/" + ns_ + "-" + sa + ".yaml";
    std::ofstream(manifest) << "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: " << sa
                            << ", namespace: " << ns_ << "}\n---\n"
                            << "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
                            << "metadata: {name: " << sa << ", namespace: " << ns_ << "}\n"
                            << "rules:\n"
                            << rules_yaml << "---\n"
                            << "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
                            << "metadata: {name: " << sa << ", namespace: " << ns_ << "}\n"
                            << "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "
                            << sa << "}\nsubjects: [{kind: ServiceAccount, name: " << sa
                            << ", namespace: " << ns_ << "}]\n";
    std::string out;
    EXPECT_EQ(env_->Kubectl("apply -f " + manifest, &out), 0) << out;
    std::string token;
    std::string script = std::string(VIREO_SOURCE_ROOT) + "/tests/integration/apiserver.sh";
    EXPECT_EQ(RunCommand(script + " token " + env_->dir() + " " + ns_ + " " + sa + " 2>/dev/null",
                         &token),
              0)
        << token;
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    std::string path = env_->dir() + "/" + ns_ + "-" + sa + ".kubeconfig";
    std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: t1\n  cluster:\n"
                        << "    server: https://127.0.0.1:" << env_->apiserver_port() << "\n"
                        << "    certificate-authority: " << env_->dir() << "/pki/ca.crt\n"
                        << "users:\n- name: " << sa << "\n  user:\n    token: " << token
                        << "\ncontexts:\n- name: t1\n  context: {cluster: t1, user: " << sa
                        << "}\ncurrent-context: t1\n";
    // RBAC reaches the authorizer a moment after it is written.
    Eventually([&] { return Virtctl("stop nothing-here", path).code == 3; }, kLimit);
    return path;
  }
};

TEST_F(VirtctlTest, HaltedStartsAsAlwaysAndStopsAsHalted) {
  CreateVm("vm-h", "Halted");
  WaitFor(
      kv::kVirtualMachines, "vm-h", [](const Json& o) { return PrintableStatusOf(o) == "Stopped"; },
      "vm-h Stopped");
  Outcome stop = Virtctl("stop vm-h");
  EXPECT_EQ(stop.code, 4) << stop.output;
  EXPECT_NE(stop.output.find("VM is not running"), std::string::npos) << stop.output;
  EXPECT_EQ(stop.output.find("Halted only supports"), std::string::npos) << stop.output;

  Outcome start = Virtctl("start vm-h");
  EXPECT_EQ(start.code, 0) << start.output;
  EXPECT_EQ(start.output, "VM vm-h was scheduled to start\n");
  EXPECT_EQ(StrategyOf("vm-h"), "Always");
  Json vmi = StartAndRun("vm-h");

  Outcome again = Virtctl("start vm-h");
  EXPECT_EQ(again.code, 4) << again.output;
  EXPECT_NE(again.output.find("VM is already running"), std::string::npos) << again.output;

  Outcome down = Virtctl("stop vm-h");
  EXPECT_EQ(down.code, 0) << down.output;
  EXPECT_EQ(down.output, "VM vm-h was scheduled to stop\n");
  EXPECT_EQ(StrategyOf("vm-h"), "Halted");
  WaitStopped("vm-h");
}

TEST_F(VirtctlTest, AlwaysRefusesStartRestartsWithANewVmiAndStopsAsHalted) {
  CreateVm("vm-a", "Always");
  Json vmi = StartAndRun("vm-a");
  Outcome start = Virtctl("start vm-a");
  EXPECT_EQ(start.code, 4) << start.output;
  EXPECT_NE(start.output.find("VM is already running"), std::string::npos) << start.output;

  Outcome restart = Virtctl("restart vm-a");
  EXPECT_EQ(restart.code, 0) << restart.output;
  EXPECT_EQ(restart.output, "VM vm-a was scheduled to restart\n");
  Json again = StartAndRun("vm-a", Uid(vmi));
  EXPECT_NE(Uid(again), Uid(vmi));
  EXPECT_EQ(StrategyOf("vm-a"), "Always") << "restart keeps the runStrategy";

  Outcome stop = Virtctl("stop vm-a");
  EXPECT_EQ(stop.code, 0) << stop.output;
  EXPECT_EQ(StrategyOf("vm-a"), "Halted");
  WaitStopped("vm-a");
  Outcome restart_halted = Virtctl("restart vm-a");
  EXPECT_EQ(restart_halted.code, 4);
  EXPECT_NE(
      restart_halted.output.find("RunStrategy Halted does not support manual restart requests"),
      std::string::npos)
      << restart_halted.output;
}

TEST_F(VirtctlTest, ManualUsesStateChangeRequestsAndKeepsItsStrategy) {
  CreateVm("vm-m", "Manual");
  WaitFor(
      kv::kVirtualMachines, "vm-m", [](const Json& o) { return PrintableStatusOf(o) == "Stopped"; },
      "vm-m Stopped");
  EXPECT_FALSE(Get(kv::kVirtualMachineInstances, "vm-m")) << "Manual makes no VMI by itself";

  Outcome start = Virtctl("start vm-m");
  EXPECT_EQ(start.code, 0) << start.output;
  Json vmi = StartAndRun("vm-m");
  EXPECT_EQ(StrategyOf("vm-m"), "Manual");

  Outcome stop = Virtctl("stop vm-m");
  EXPECT_EQ(stop.code, 0) << stop.output;
  WaitStopped("vm-m");
  EXPECT_EQ(StrategyOf("vm-m"), "Manual");
  WaitFor(
      kv::kVirtualMachines, "vm-m",
      [](const Json& o) {
        const Json* r = base::Find(o, "status.stateChangeRequests");
        return r == nullptr || r->size() == 0;
      },
      "the Stop request handled and removed");

  // Start again, let the guest power off (VMI Succeeded), and start once more:
  // the ended VMI is replaced by a new one ([Stop{uid}, Start]).
  ASSERT_EQ(Virtctl("start vm-m").code, 0);
  Json second = StartAndRun("vm-m", Uid(vmi));
  auto pods = PodsOf(Uid(second));
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_TRUE(kubelet_->SetExited(base::NameOf(pods[0]), 0).ok());
  WaitFor(
      kv::kVirtualMachineInstances, "vm-m", [](const Json& o) { return PhaseOf(o) == "Succeeded"; },
      "vm-m Succeeded");
  Outcome restart_start = Virtctl("start vm-m");
  EXPECT_EQ(restart_start.code, 0) << restart_start.output;
  Json third = StartAndRun("vm-m", Uid(second));
  EXPECT_NE(Uid(third), Uid(second));
}

TEST_F(VirtctlTest, RerunOnFailureStopsByRequestAndRestarts) {
  CreateVm("vm-r", "RerunOnFailure");
  Json vmi = StartAndRun("vm-r");
  Outcome start = Virtctl("start vm-r");
  EXPECT_EQ(start.code, 4) << start.output;

  Outcome restart = Virtctl("restart vm-r");
  EXPECT_EQ(restart.code, 0) << restart.output;
  Json again = StartAndRun("vm-r", Uid(vmi));

  Outcome stop = Virtctl("stop vm-r");
  EXPECT_EQ(stop.code, 0) << stop.output;
  WaitStopped("vm-r");
  EXPECT_EQ(StrategyOf("vm-r"), "RerunOnFailure");
  Outcome start_again = Virtctl("start vm-r");
  EXPECT_EQ(start_again.code, 0) << start_again.output;
  StartAndRun("vm-r", Uid(again));
}

TEST_F(VirtctlTest, OnceRefusesStartAndRestartAndStopsAsHalted) {
  CreateVm("vm-o", "Once");
  StartAndRun("vm-o");
  Outcome restart = Virtctl("restart vm-o");
  EXPECT_EQ(restart.code, 4);
  EXPECT_NE(restart.output.find("RunStrategy Once does not support manual restart requests"),
            std::string::npos)
      << restart.output;
  Outcome stop = Virtctl("stop vm-o");
  EXPECT_EQ(stop.code, 0) << stop.output;
  EXPECT_EQ(StrategyOf("vm-o"), "Halted");
  WaitStopped("vm-o");
}

TEST_F(VirtctlTest, GracePeriodReachesTheVmiBeforeTheStop) {
  CreateVm("vm-g", "Always");
  StartAndRun("vm-g");
  // Hold the VMI in deletion so its spec can be read after the stop.
  ASSERT_TRUE(
      admin_
          ->Patch(
              kv::kVirtualMachineInstances, ns_, "vm-g", kube::PatchType::kJson,
              *base::ParseJson(
                  R"([{"op":"add","path":"/metadata/finalizers/-","value":"vireo.test/hold"}])"))
          .ok());
  Outcome stop = Virtctl("stop vm-g --grace-period 7");
  EXPECT_EQ(stop.code, 0) << stop.output;
  Json held = WaitFor(
      kv::kVirtualMachineInstances, "vm-g",
      [](const Json& o) { return base::Find(o, "metadata.deletionTimestamp") != nullptr; },
      "vm-g's VMI being deleted");
  EXPECT_EQ(base::GetInt(held, "spec.terminationGracePeriodSeconds"), std::optional<int64_t>(7));
  // Let it go. The controller drops its own finalizer meanwhile, so the
  // list is replaced only if it is still the one read (retried otherwise).
  EXPECT_TRUE(Eventually(
      [&] {
        auto fresh = Get(kv::kVirtualMachineInstances, "vm-g");
        if (!fresh) return true;
        const Json* old = base::Find(*fresh, "metadata.finalizers");
        if (old == nullptr) return true;
        Json kept = Json::array();
        size_t i = 0;
        for (const auto& f : *old) {
          if (f.get<std::string>() != "vireo.test/hold") kept[i++] = f;
        }
        Json patch = Json::array();
        patch[0]["op"] = Json("test");
        patch[0]["path"] = Json("/metadata/finalizers");
        patch[0]["value"] = *old;
        patch[1]["op"] = Json("replace");
        patch[1]["path"] = Json("/metadata/finalizers");
        patch[1]["value"] = kept;
        return admin_
            ->Patch(kv::kVirtualMachineInstances, ns_, "vm-g", kube::PatchType::kJson, patch)
            .ok();
      },
      kLimit))
      << "the test's finalizer removed";
  WaitStopped("vm-g");

  Outcome force_without_zero = Virtctl("stop vm-g --force --grace-period=3");
  EXPECT_EQ(force_without_zero.code, 2) << force_without_zero.output;
  EXPECT_NE(force_without_zero.output.find("--force needs --grace-period=0"), std::string::npos)
      << force_without_zero.output;
}

TEST_F(VirtctlTest, MissingVmAndWrongNamespaceSayWhere) {
  Outcome missing = Virtctl("start nope");
  EXPECT_EQ(missing.code, 3) << missing.output;
  EXPECT_NE(missing.output.find("VirtualMachine \"nope\" not found in namespace \"" + ns_ + "\""),
            std::string::npos)
      << missing.output;

  CreateVm("vm-elsewhere", "Halted");
  std::string other = env_->CreateNamespace("virtctl-other");
  const char* bin = std::getenv("VIREO_VIRTCTL_BIN");
  Outcome wrong;
  wrong.code = RunCommand(std::string(bin) + " --kubeconfig " + env_->kubeconfig() + " -n " +
                              other + " start vm-elsewhere 2>&1",
                          &wrong.output);
  EXPECT_EQ(wrong.code, 3) << wrong.output;
  EXPECT_NE(wrong.output.find("not found in namespace \"" + other + "\""), std::string::npos)
      << wrong.output;
  // The namespaces that hold a VM of that name, this test's among them (an
  // apiserver kept from an earlier run may still hold that run's).
  const size_t list = wrong.output.find("a VirtualMachine of that name exists in: ");
  const size_t hint = wrong.output.find(" (use -n)", list == std::string::npos ? 0 : list);
  ASSERT_NE(list, std::string::npos) << wrong.output;
  ASSERT_NE(hint, std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.substr(list, hint - list).find(ns_), std::string::npos) << wrong.output;

  Outcome console = Virtctl("console nope --timeout 5s");
  EXPECT_EQ(console.code, 3) << console.output;
  EXPECT_NE(console.output.find("not found"), std::string::npos) << console.output;
}

TEST_F(VirtctlTest, AUserWithoutPatchIsToldWhichVerbOnWhichResource) {
  CreateVm("vm-p", "Always");
  StartAndRun("vm-p");
  std::string kubeconfig = LimitedKubeconfig("viewer", R"(- apiGroups: ["kubevirt.io"]
  resources: ["virtualmachines", "virtualmachineinstances"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
)");
  Outcome stop = Virtctl("stop vm-p", kubeconfig);
  EXPECT_EQ(stop.code, 5) << stop.output;
  EXPECT_NE(
      stop.output.find("permission denied: you may not patch virtualmachines in namespace \"" +
                       ns_ + "\""),
      std::string::npos)
      << stop.output;
  EXPECT_EQ(StrategyOf("vm-p"), "Always") << "nothing changed";

  Outcome restart = Virtctl("restart vm-p", kubeconfig);
  EXPECT_EQ(restart.code, 5) << restart.output;
  EXPECT_NE(restart.output.find("you may not patch virtualmachines/status"), std::string::npos)
      << restart.output;

  // The console needs pods/exec, which this user lacks.
  Outcome console = Virtctl("console vm-p --timeout 10s", kubeconfig);
  EXPECT_EQ(console.code, 5) << console.output;
  EXPECT_NE(console.output.find("you may not create pods/exec in namespace \"" + ns_ + "\""),
            std::string::npos)
      << console.output;
}

TEST_F(VirtctlTest, ConsoleWaitsThenTimesOutOrReportsAStreamThatCannotOpen) {
  CreateVm("vm-c", "Halted");
  Outcome waiting = Virtctl("console vm-c --timeout 2s");
  EXPECT_EQ(waiting.code, 6) << waiting.output;
  EXPECT_NE(waiting.output.find("did not run within"), std::string::npos) << waiting.output;
  EXPECT_NE(waiting.output.find("waiting for " + ns_ + "/vm-c to run"), std::string::npos)
      << waiting.output;

  // Running as far as the apiserver knows, but no kubelet serves node-1: the
  // upgrade fails and virtctl says so (exit 7), after a permission check.
  ASSERT_EQ(Virtctl("start vm-c").code, 0);
  StartAndRun("vm-c");
  Outcome broken = Virtctl("console vm-c --timeout 10s");
  EXPECT_EQ(broken.code, 7) << broken.output;
  EXPECT_NE(broken.output.find("cannot open the console of pod " + ns_ + "/virt-launcher-vm-c-"),
            std::string::npos)
      << broken.output;
}

// The apiserver's certificate names 127.0.0.1, localhost and
// kubernetes.default.svc, not 127.0.0.2: a kubeconfig that reaches it at
// 127.0.0.2 (through a proxy listening there) must name one of them with
// tls-server-name, and the console honours it as the REST calls do.
TEST_F(VirtctlTest, ConsoleChecksTheCertificateAgainstTlsServerName) {
  ConsoleKubelet kubelet(*env_, "console-node-" + ns_);
  RunOn("vm-tls", kubelet.node());
  TcpProxy elsewhere(env_->apiserver_port(), "127.0.0.2");
  std::string kubeconfig = AdminKubeconfig(elsewhere.port(), "kubernetes.default.svc", "127.0.0.2");
  auto console = Console("vm-tls", kubeconfig, "--linger 5s");
  console->Write("hello-over-tls\n");
  EXPECT_TRUE(console->WaitForOutput("hello-over-tls", kLimit)) << console->Output();
  console->CloseStdin();
  EXPECT_EQ(console->Wait(kLimit), std::optional<int>(0)) << console->Output();
  auto upgrades = kubelet.upgrades();
  ASSERT_EQ(upgrades.size(), 1u) << console->Output();
  EXPECT_EQ(upgrades[0].target.rfind("/exec/" + ns_ + "/virt-launcher-vm-tls-", 0), 0u)
      << upgrades[0].target;
  EXPECT_NE(upgrades[0].target.find("command=vireo-launcher"), std::string::npos);

  // A name the certificate does not carry is refused, and the message says
  // which name was checked.
  Outcome wrong =
      Virtctl("console vm-tls --timeout 5s",
              AdminKubeconfig(elsewhere.port(), "not-in-the-cert.example", "127.0.0.2"));
  EXPECT_NE(wrong.code, 0) << wrong.output;
  EXPECT_NE(wrong.output.find("tls-server-name"), std::string::npos) << wrong.output;
  EXPECT_EQ(kubelet.upgrades().size(), 1u) << "no stream was opened";
}

// A proxy that cuts links silent for 3 s: the console's pings (every 1 s)
// keep it open; without them it is cut (so the proxy really cuts).
TEST_F(VirtctlTest, ConsolePingsKeepAnIdleLinkOpenThroughAProxyThatCutsIdleLinks) {
  ConsoleKubelet kubelet(*env_, "idle-node-" + ns_);
  RunOn("vm-idle", kubelet.node());
  TcpProxy proxy(env_->apiserver_port());
  proxy.SetIdleLimit(std::chrono::seconds(3));
  std::string kubeconfig = AdminKubeconfig(proxy.port(), "localhost");

  auto bare = Console("vm-idle", kubeconfig, "--keepalive 0");
  bare->Write("unpinged\n");
  EXPECT_TRUE(bare->WaitForOutput("unpinged", kLimit)) << bare->Output();
  EXPECT_EQ(bare->Wait(Ms(10000)), std::optional<int>(7)) << bare->Output();
  EXPECT_NE(bare->Output().find("the console connection broke"), std::string::npos)
      << bare->Output();
  EXPECT_GE(proxy.connections_cut_idle(), 1);

  auto kept = Console("vm-idle", kubeconfig, "--keepalive 1s --linger 5s");
  kept->Write("before-idle\n");
  EXPECT_TRUE(kept->WaitForOutput("before-idle", kLimit)) << kept->Output();
  EXPECT_FALSE(kept->Wait(Ms(7500)).has_value())
      << "idle for 2.5 times the proxy's limit, the console is still open:\n"
      << kept->Output();
  kept->Write("after-idle\n");
  EXPECT_TRUE(kept->WaitForOutput("after-idle", Ms(10000))) << kept->Output();
  kept->CloseStdin();
  EXPECT_EQ(kept->Wait(kLimit), std::optional<int>(0)) << kept->Output();
}

// A link that dies without a reset (the proxy swallows every byte): the
// first unanswered ping ends the console with a message and exit 7, within
// two keepalive intervals and some slack, instead of hanging.
TEST_F(VirtctlTest, ConsoleReportsAFailedKeepalive) {
  ConsoleKubelet kubelet(*env_, "blackhole-node-" + ns_);
  RunOn("vm-dead", kubelet.node());
  TcpProxy proxy(env_->apiserver_port());
  auto console = Console("vm-dead", AdminKubeconfig(proxy.port(), "localhost"), "--keepalive 1s");
  console->Write("before-blackhole\n");
  ASSERT_TRUE(console->WaitForOutput("before-blackhole", kLimit)) << console->Output();
  proxy.SetBlackhole(true);
  auto start = std::chrono::steady_clock::now();
  std::optional<int> code = console->Wait(Ms(15000));
  auto took = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(code.has_value()) << "virtctl still waits 15 s after its link died:\n"
                                << console->Output();
  EXPECT_EQ(*code, 7) << console->Output();
  EXPECT_NE(console->Output().find("keepalive failed"), std::string::npos) << console->Output();
  EXPECT_LE(took.count(), 4000) << console->Output();
  std::cout << "console: a dead link reported after " << took.count() << " ms (keepalive 1 s)\n";
}

TEST_F(VirtctlTest, VersionNamesClientAndServer) {
  Outcome version = Virtctl("version");
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_NE(version.output.find("Client Version: v0.1.0"), std::string::npos) << version.output;
  EXPECT_NE(version.output.find("Server Version: Kubernetes v1.36."), std::string::npos)
      << version.output;
}

}  // namespace
}  // namespace vireo::testing
