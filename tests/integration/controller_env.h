// What the T1 controller tests share: vireo-controller run as a separate
// process under the ServiceAccount of manifests/rbac, and a fake kubelet
// that binds launcher pods, writes their status and finishes their deletion.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/kube/client.h"
#include "lib/kube/informer.h"
#include "tests/integration/cluster_env.h"

namespace vireo::testing {

// Polls `done` every 50 ms until it holds or `limit` passes.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit);

// The namespace manifests/rbac installs into.
inline constexpr char kControllerNamespace[] = "vireo-system";

// Applies manifests/rbac (once per process) and writes a kubeconfig that
// authenticates as its ServiceAccount; returns its path.
const std::string& ServiceAccountKubeconfig();

// A TCP port nothing listens on right now.
int FreePort();

// GET http://127.0.0.1:port/path: the HTTP status (0 when nothing answers),
// the body in *body.
int HttpGet(int port, const std::string& path, std::string* body);

// One vireo-controller process.
class ControllerProcess {
 public:
  struct Flags {
    std::string ns;  // --namespace
    bool leader_elect = false;
    std::string lease_name;          // in kControllerNamespace
    std::string identity;            // POD_NAME
    std::vector<std::string> extra;  // after the others, so they win
  };

  explicit ControllerProcess(Flags flags);
  // SIGKILL if still running.
  ~ControllerProcess();

  void Start();
  bool running();
  void Signal(int sig);
  // Waits for the process to end: its exit code, 128 + signal when killed,
  // nullopt if still running after `limit`.
  std::optional<int> Wait(std::chrono::milliseconds limit);
  // Waits until /readyz answers 200.
  bool WaitReady(std::chrono::milliseconds limit);

  // The value of one sample of /metrics, e.g.
  // `vireo_reconcile_total{controller="vm"}`; nullopt when absent.
  std::optional<double> Metric(const std::string& sample);
  std::string Log() const;
  const std::string& log_path() const { return log_path_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  int health_port() const { return health_port_; }

 private:
  const Flags flags_;
  const int metrics_port_;
  const int health_port_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Plays the kubelet's part for launcher pods in one namespace: pods that are
// being deleted are removed at once (as a kubelet does once the containers
// stopped). Binding and status are the test's moves.
class FakeKubelet {
 public:
  FakeKubelet(kube::Client* client, const std::string& ns);
  ~FakeKubelet();

  // Schedules the pod on `node` through the binding subresource.
  base::Status Bind(const std::string& pod, const std::string& node = "node-1");
  // The launcher runs and its readiness probe passes.
  base::Status SetRunning(const std::string& pod, const std::string& ip = "10.244.0.7");
  // The launcher exited with `code` (0: the guest powered off).
  base::Status SetExited(const std::string& pod, int code);
  // The scheduler found no node.
  base::Status SetUnschedulable(const std::string& pod);

 private:
  base::Status PatchStatus(const std::string& pod, const std::string& status_json);

  kube::Client* const client_;
  const std::string ns_;
  std::unique_ptr<kube::Client> own_client_;
  kube::Informer informer_;
};

// A fresh namespace with a fake kubelet and one controller scoped to it,
// plus the reads the tests make with a cluster-admin client.
class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Stops the controller with SIGTERM and expects exit 0; prints its log
  // when the test failed.
  void TearDown() override;
  // Flags the controller gets besides the fixture's (e.g. shorter delays).
  virtual std::vector<std::string> ExtraControllerFlags() const { return {}; }

  // A VM like testing::MakeVm with this run strategy ("" : no runStrategy,
  // for `running`).
  base::Json NewVm(const std::string& name, const std::string& strategy) const;
  // A standalone VMI like the one MakeVm's template makes.
  base::Json NewVmi(const std::string& name) const;
  base::Json CreateVm(const std::string& name, const std::string& strategy);
  std::optional<base::Json> Get(const kube::Resource& resource, const std::string& name) const;
  // Polls until `name` exists and `ok` holds of it; adds a failure naming
  // `what` (with the object as last seen) if it never does.
  base::Json WaitFor(const kube::Resource& resource, const std::string& name,
                     const std::function<bool(const base::Json&)>& ok, const std::string& what);
  bool WaitGone(const kube::Resource& resource, const std::string& name);
  // Deletes launcher pod `name` at once (grace period 0): a kubelet that
  // finished it, or a pod gone from under its VMI. False, with a failure
  // added, when the apiserver refuses.
  [[nodiscard]] bool ForceDeletePod(const std::string& name);
  // ForceDeletePod, then waits until VMI `vmi` is Failed, and returns it
  // (null at once if the delete was refused).
  base::Json ForceDeletePodUntilFailed(const std::string& pod, const std::string& vmi);
  // Launcher pods labelled with this VMI uid.
  std::vector<base::Json> PodsOf(const std::string& vmi_uid) const;
  // Waits for the one launcher pod of the VMI `vmi_uid`.
  base::Json WaitForPod(const std::string& vmi_uid);
  // Reasons of the Events about object `name` of `kind`.
  std::vector<std::string> EventReasons(const std::string& kind, const std::string& name) const;
  bool WaitForEvent(const std::string& kind, const std::string& name, const std::string& reason);
  base::Status PatchStatus(const kube::Resource& resource, const std::string& name,
                           const std::string& merge_patch);
  base::Status PatchSpec(const kube::Resource& resource, const std::string& name,
                         const std::string& merge_patch);

  static constexpr std::chrono::seconds kLimit{30};
  ClusterEnv* env_ = nullptr;
  std::unique_ptr<kube::Client> admin_;
  std::string ns_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<ControllerProcess> controller_;
};

// The MutatingAdmissionPolicy of manifests/vm-finalizer-policy.yaml (the
// chart's), which has the apiserver set a new VM's finalizer, bound to one
// namespace by a binding of its own so that no other test's VMs change.
// Install() waits until a dry-run create of a VM there comes back with the
// finalizer; the destructor deletes the binding, and the policy when
// Install() made it.
class VmFinalizerPolicy {
 public:
  explicit VmFinalizerPolicy(std::string ns);
  ~VmFinalizerPolicy();
  VmFinalizerPolicy(const VmFinalizerPolicy&) = delete;
  VmFinalizerPolicy& operator=(const VmFinalizerPolicy&) = delete;

  base::Status Install();

 private:
  const std::string ns_;
  std::unique_ptr<kube::Client> admin_;
  std::string policy_name_;
  std::string binding_name_;
};

// Field readers for assertions.
std::string PhaseOf(const base::Json& vmi);
std::string PrintableStatusOf(const base::Json& vm);
// The status of condition `type` ("" when absent).
std::string ConditionOf(const base::Json& object, const std::string& type);
// The Synchronized condition's "reason: message" ("" when absent).
std::string SynchronizedMessage(const base::Json& vmi);

}  // namespace vireo::testing
