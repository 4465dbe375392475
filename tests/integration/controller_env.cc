// The controller process, its ServiceAccount kubeconfig and the fake kubelet
// of the T1 controller tests; see controller_env.h.
#include "tests/integration/controller_env.h"

#include <cpprest/http_client.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "lib/api/resources.h"
#include "lib/base/timestamp.h"
#include "lib/kube/config.h"
#include "tests/integration/test_objects.h"

extern char** environ;

namespace vireo::testing {
namespace {

using base::Json;
namespace res = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "controller test setup: " << what << std::endl;
  std::exit(2);
}

// $VIREO_CONTROLLER_BIN, else the binary of the build this was built in.
std::string ControllerBinary() {
  const char* bin = std::getenv("VIREO_CONTROLLER_BIN");
  return bin != nullptr && *bin != '\0' ? bin : VIREO_CONTROLLER_DEFAULT_BIN;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string WriteServiceAccountKubeconfig() {
  ClusterEnv& env = ClusterEnv::Get();
  auto admin = env.AdminClient();
  Json ns = Json::object();
  ns["apiVersion"] = Json("v1");
  ns["kind"] = Json("Namespace");
  ns["metadata"]["name"] = Json(kControllerNamespace);
  auto created = admin->Create(res::kNamespaces, "", ns);
  if (!created.ok() && !created.status().IsAlreadyExists()) {
    Fail("create namespace: " + created.status().ToString());
  }
  // Test binaries run in parallel and may apply at the same moment.
  std::string out;
  bool applied = false;
  for (int i = 0; i < 5 && !applied; ++i) {
    applied =
        env.Kubectl("apply -f " + std::string(VIREO_SOURCE_ROOT) + "/manifests/rbac/", &out) == 0;
    if (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (!applied) Fail("kubectl apply -f manifests/rbac/: " + out);
  std::string token;
  std::string script = std::string(VIREO_SOURCE_ROOT) + "/tests/integration/apiserver.sh";
  if (RunCommand(script + " token " + env.dir() + " " + kControllerNamespace +
                     " vireo-controller 2>/dev/null",
                 &token) != 0) {
    Fail("no token for the controller's ServiceAccount: " + token);
  }
  std::string path = env.dir() + "/controller-" + std::to_string(getpid()) + ".kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: t1\n  cluster:\n"
                      << "    server: https://127.0.0.1:" << env.apiserver_port() << "\n"
                      << "    certificate-authority: " << env.dir() << "/pki/ca.crt\n"
                      << "users:\n- name: vireo-controller\n  user:\n    token: " << Trim(token)
                      << "\ncontexts:\n- name: t1\n  context: {cluster: t1, user: vireo-controller,"
                      << " namespace: " << kControllerNamespace << "}\ncurrent-context: t1\n";
  // RBAC bindings reach the authorizer a moment after they are written.
  kube::KubeconfigOptions ko;
  ko.explicit_path = path;
  auto config = kube::LoadKubeconfig(ko);
  if (!config.ok()) Fail("controller kubeconfig: " + config.status().ToString());
  auto client = kube::Client::Create(*config);
  if (!client.ok()) Fail("controller client: " + client.status().ToString());
  if (!Eventually([&] { return (*client)->List(kv::kVirtualMachines, "").ok(); },
                  std::chrono::seconds(20))) {
    Fail("the controller's ServiceAccount cannot list VMs 20 s after manifests/rbac was applied");
  }
  return path;
}

const kube::Resource kAdmissionPolicies{"admissionregistration.k8s.io", "v1",
                                        "mutatingadmissionpolicies", "MutatingAdmissionPolicy",
                                        false};
const kube::Resource kAdmissionPolicyBindings{"admissionregistration.k8s.io", "v1",
                                              "mutatingadmissionpolicybindings",
                                              "MutatingAdmissionPolicyBinding", false};

}  // namespace

VmFinalizerPolicy::VmFinalizerPolicy(std::string ns)
    : ns_(std::move(ns)), admin_(ClusterEnv::Get().AdminClient()) {}

VmFinalizerPolicy::~VmFinalizerPolicy() {
  if (!binding_name_.empty()) (void)admin_->Delete(kAdmissionPolicyBindings, "", binding_name_);
  if (!policy_name_.empty()) (void)admin_->Delete(kAdmissionPolicies, "", policy_name_);
}

base::Status VmFinalizerPolicy::Install() {
  const std::string file = std::string(VIREO_SOURCE_ROOT) + "/manifests/vm-finalizer-policy.yaml";
  std::string out;
  if (ClusterEnv::Get().Kubectl("create --dry-run=client -o json -f " + file, &out) != 0) {
    return base::Status(base::Code::kInternal,
                        "kubectl create --dry-run=client -f " + file + ": " + out);
  }
  // kubectl prints one JSON object after another.
  Json policy;
  std::istringstream objects(out);
  try {
    for (Json item; objects >> std::ws && objects.peek() != EOF;) {
      objects >> item;
      if (base::GetString(item, "kind") == "MutatingAdmissionPolicy") policy = item;
    }
  } catch (const Json::exception& e) {
    return base::Status(base::Code::kInternal, "kubectl's objects from " + file + ": " + e.what());
  }
  if (!policy.is_object())
    return base::Status(base::Code::kInternal, file + " holds no MutatingAdmissionPolicy");
  // One made by someone else (another test, the chart) stays theirs.
  const std::string policy_name = base::NameOf(policy);
  auto made = admin_->Create(kAdmissionPolicies, "", policy);
  if (!made.ok() && !made.status().IsAlreadyExists()) return made.status();
  if (made.ok()) policy_name_ = policy_name;
  Json binding = Json::object();
  binding["apiVersion"] = Json(kAdmissionPolicyBindings.ApiVersion());
  binding["kind"] = Json(kAdmissionPolicyBindings.kind);
  binding["metadata"]["name"] = Json(policy_name + "-" + ns_);
  binding["spec"]["policyName"] = Json(policy_name);
  binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
         ["kubernetes.io/metadata.name"] = Json(ns_);
  if (auto bound = admin_->Create(kAdmissionPolicyBindings, "", binding); !bound.ok()) {
    return bound.status();
  }
  binding_name_ = policy_name + "-" + ns_;
  // The apiserver loads policies and bindings through informers of its own.
  kube::WriteOptions dry_run;
  dry_run.dry_run = true;
  const bool effective = Eventually(
      [&] {
        auto vm =
            admin_->Create(api::resources::kVirtualMachines, ns_, MakeVm("policy-probe"), dry_run);
        const Json* finalizers = vm.ok() ? base::Find(*vm, "metadata.finalizers") : nullptr;
        return finalizers != nullptr && finalizers->is_array() && !finalizers->empty();
      },
      std::chrono::seconds(30));
  if (!effective) {
    return base::Status(
        base::Code::kInternal,
        "a VM created in " + ns_ + " has no finalizer 30 s after the policy was bound");
  }
  return base::Status::Ok();
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

const std::string& ServiceAccountKubeconfig() {
  static const std::string path = WriteServiceAccountKubeconfig();
  return path;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Fail("no free port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// The kernel may hand the same free port out twice in a row.
int FreePortBut(int taken) {
  int port = FreePort();
  while (port == taken) port = FreePort();
  return port;
}

int HttpGet(int port, const std::string& path, std::string* body) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port), config);
    auto response = client.request(web::http::methods::GET, path).get();
    if (body != nullptr) *body = response.extract_string().get();
    return response.status_code();
  } catch (const std::exception&) {
    return 0;
  }
}

ControllerProcess::ControllerProcess(Flags flags)
    : flags_(std::move(flags)),
      metrics_port_(FreePort()),
      health_port_(FreePortBut(metrics_port_)) {
  static std::atomic<int> serial{0};
  log_path_ = ClusterEnv::Get().dir() + "/logs/controller-" + flags_.ns + "-" +
              std::to_string(++serial) + ".log";
}

ControllerProcess::~ControllerProcess() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void ControllerProcess::Start() {
  std::vector<std::string> args = {
      ControllerBinary(),
      "--kubeconfig=" + ServiceAccountKubeconfig(),
      "--namespace=" + flags_.ns,
      "--launcher-image=vireo-launcher:t1",
      "--metrics-bind-address=127.0.0.1:" + std::to_string(metrics_port_),
      "--health-probe-bind-address=127.0.0.1:" + std::to_string(health_port_),
      "--log-level=debug",
  };
  if (flags_.leader_elect) {
    args.insert(args.end(),
                {"--leader-elect", std::string("--leader-elect-namespace=") + kControllerNamespace,
                 "--leader-elect-name=" + flags_.lease_name, "--leader-elect-lease-duration=3s",
                 "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=300ms"});
  }
  args.insert(args.end(), flags_.extra.begin(), flags_.extra.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("POD_NAME=", 0) != 0) env_strings.emplace_back(*e);
  }
  if (!flags_.identity.empty()) env_strings.push_back("POD_NAME=" + flags_.identity);
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) Fail("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

bool ControllerProcess::running() {
  if (pid_ <= 0) return false;
  return !Wait(std::chrono::milliseconds(0)).has_value();
}

void ControllerProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> ControllerProcess::Wait(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return std::nullopt;
  auto until = std::chrono::steady_clock::now() + limit;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool ControllerProcess::WaitReady(std::chrono::milliseconds limit) {
  return Eventually([&] { return HttpGet(health_port_, "/readyz", nullptr) == 200; }, limit);
}

std::optional<double> ControllerProcess::Metric(const std::string& sample) {
  std::string body;
  if (HttpGet(metrics_port_, "/metrics", &body) != 200) return std::nullopt;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ') {
      return std::stod(line.substr(sample.size() + 1));
    }
  }
  return std::nullopt;
}

std::string ControllerProcess::Log() const {
  std::ifstream in(log_path_);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ------------------------------------------------------------ FakeKubelet

namespace {

std::unique_ptr<kube::ListerWatcher> LauncherPods(kube::Client* client, const std::string& ns) {
  return std::make_unique<kube::ClientListerWatcher>(
      client, res::kPods, kube::Selection{ns, "kubevirt.io=virt-launcher", ""});
}

}  // namespace

FakeKubelet::FakeKubelet(kube::Client* client, const std::string& ns)
    : client_(client),
      ns_(ns),
      own_client_(ClusterEnv::Get().AdminClient()),
      informer_(LauncherPods(own_client_.get(), ns)) {
  auto finish_deletion = [this](const kube::ObjectPtr& pod) {
    if (base::Find(*pod, "metadata.deletionTimestamp") == nullptr) return;
    kube::DeleteOptions options;
    options.grace_period_seconds = 0;
    options.precondition_uid = base::UidOf(*pod);
    (void)own_client_->Delete(res::kPods, ns_, base::NameOf(*pod), options);
  };
  informer_.AddHandlers({
      .on_add = finish_deletion,
      .on_update = [finish_deletion](const kube::ObjectPtr&,
                                     const kube::ObjectPtr& pod) { finish_deletion(pod); },
      .on_delete = nullptr,
  });
  informer_.Run();
  if (!informer_.WaitForSync(std::chrono::seconds(30))) Fail("fake kubelet: pods did not sync");
}

FakeKubelet::~FakeKubelet() { informer_.Stop(); }

base::Status FakeKubelet::Bind(const std::string& pod, const std::string& node) {
  // The controller judges the node a launcher pod is bound to, and a node
  // that does not exist is gone: bind only to a Node that exists, Ready
  // (made here unless the test made it; left for the other tests).
  Json node_object = Json::object();
  node_object["apiVersion"] = Json("v1");
  node_object["kind"] = Json("Node");
  node_object["metadata"]["name"] = Json(node);
  auto made = client_->Create(kube::Resource{"", "v1", "nodes", "Node", false}, "", node_object);
  if (made.ok()) {
    auto ready = base::ParseJson(
        R"({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "FakeKubelet",
            "lastHeartbeatTime": ")" +
            base::FormatTime(base::Clock::Real()->WallNow()) + R"(", "lastTransitionTime": ")" +
            base::FormatTime(base::Clock::Real()->WallNow()) + R"("}]}})",
        "node status");
    base::Status set = client_
                           ->Patch(kube::Resource{"", "v1", "nodes", "Node", false}, "", node,
                                   kube::PatchType::kMerge, *ready, "status")
                           .status();
    if (!set.ok()) return set;
  } else if (!made.status().IsAlreadyExists()) {
    return made.status();
  }
  Json binding = Json::object();
  binding["apiVersion"] = Json("v1");
  binding["kind"] = Json("Binding");
  binding["metadata"]["name"] = Json(pod);
  binding["target"]["kind"] = Json("Node");
  binding["target"]["name"] = Json(node);
  return client_->Raw("POST", "/api/v1/namespaces/" + ns_ + "/pods/" + pod + "/binding", binding)
      .status();
}

base::Status FakeKubelet::PatchStatus(const std::string& pod, const std::string& status_json) {
  auto patch = base::ParseJson(status_json, "pod status");
  if (!patch.ok()) return patch.status();
  return client_->Patch(res::kPods, ns_, pod, kube::PatchType::kMerge, *patch, "status").status();
}

base::Status FakeKubelet::SetRunning(const std::string& pod, const std::string& ip) {
  return PatchStatus(pod, R"({"status": {"phase": "Running", "podIP": ")" + ip +
                              R"(", "podIPs": [{"ip": ")" + ip + R"("}],
    "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"},
                   {"type": "ContainersReady", "status": "True"}],
    "containerStatuses": [{"name": "compute", "image": "vireo-launcher:t1", "imageID": "",
      "ready": true, "restartCount": 0, "started": true,
      "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})");
}

base::Status FakeKubelet::SetExited(const std::string& pod, int code) {
  std::string c = std::to_string(code);
  return PatchStatus(pod, R"({"status": {"phase": ")" +
                              std::string(code == 0 ? "Succeeded" : "Failed") + R"(",
    "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"},
                   {"type": "ContainersReady", "status": "False"}],
    "containerStatuses": [{"name": "compute", "image": "vireo-launcher:t1", "imageID": "",
      "ready": false, "restartCount": 0, "started": false,
      "state": {"terminated": {"exitCode": )" +
                              c + R"(, "reason": ")" + (code == 0 ? "Completed" : "Error") + R"(",
        "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z"}}}]}})");
}

base::Status FakeKubelet::SetUnschedulable(const std::string& pod) {
  return PatchStatus(pod, R"({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
    "status": "False", "reason": "Unschedulable",
    "message": "0/1 nodes are available: 1 Insufficient memory."}]}})");
}

}  // namespace vireo::testing
