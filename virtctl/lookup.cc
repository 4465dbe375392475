// What virtctl's commands share about the cluster; see lookup.h.
#include "virtctl/lookup.h"

#include <cstdio>
#include <thread>

#include "lib/api/launcher_pod.h"
#include "lib/api/resources.h"
#include "lib/kube/resource.h"

namespace vireo::virtctl {

using base::Code;
using base::Json;
using base::Status;
namespace resources = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds
namespace contract = api::launcher_pod;

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

// What a refused request means to the user: which verb on which resource in
// which namespace, and the server's own words.
Status Explain(const Status& status, const std::string& verb, const std::string& resource,
               const std::string& ns) {
  if (status.code() == Code::kForbidden) {
    return Status(Code::kForbidden, "permission denied: you may not " + verb + " " + resource +
                                        " in namespace \"" + ns +
                                        "\" (the server said: " + status.message() + ")");
  }
  if (status.code() == Code::kUnauthorized) {
    return Status(Code::kUnauthorized, "the server does not accept your credentials (" +
                                           status.message() + "); check the kubeconfig's user");
  }
  return status.WithContext(verb + " " + resource + " in namespace \"" + ns + "\"");
}

// "not found in namespace X", plus where a VM of that name does exist when
// the user may list across namespaces.
Status VmNotFound(kube::Client& client, const std::string& kind, const std::string& name,
                  const std::string& ns) {
  std::string message = kind + " \"" + name + "\" not found in namespace \"" + ns + "\"";
  kube::ListOptions list;
  list.field_selector = "metadata.name=" + name;
  auto everywhere = client.List(kv::kVirtualMachines, "", list);
  if (everywhere.ok() && !everywhere->items.empty()) {
    std::string where;
    for (const auto& vm : everywhere->items)
      where += (where.empty() ? "" : ", ") + base::NamespaceOf(vm);
    message += "; a VirtualMachine of that name exists in: " + where + " (use -n)";
  }
  return Status(Code::kNotFound, message);
}

base::Result<Launcher> LookUpLauncher(kube::Client& client, const std::string& ns,
                                      const std::string& name) {
  Launcher launcher;
  auto vmi = client.Get(kv::kVirtualMachineInstances, ns, name);
  if (!vmi.ok()) {
    if (!vmi.status().IsNotFound()) {
      return Explain(vmi.status(), "get", "virtualmachineinstances", ns);
    }
    auto vm = client.Get(kv::kVirtualMachines, ns, name);
    if (!vm.ok()) {
      if (vm.status().IsNotFound()) {
        return VmNotFound(client, "VirtualMachine or VirtualMachineInstance", name, ns);
      }
      return Explain(vm.status(), "get", "virtualmachines", ns);
    }
    launcher.state = "the VM has no VMI (printableStatus " +
                     base::GetString(*vm, "status.printableStatus", "unknown") + ")";
    return launcher;
  }
  launcher.vmi = *vmi;
  std::string phase = base::GetString(*vmi, "status.phase", "Pending");
  launcher.state = "VMI phase " + phase;
  if (phase != "Running") return launcher;
  kube::ListOptions list;
  list.label_selector = std::string(kCreatedByLabel) + "=" + base::UidOf(*vmi);
  auto pods = client.List(resources::kPods, ns, list);
  if (!pods.ok()) return Explain(pods.status(), "list", "pods", ns);
  for (const auto& pod : pods->items) {
    if (base::GetString(pod, "status.phase") == "Running" &&
        base::Find(pod, "metadata.deletionTimestamp") == nullptr) {
      launcher.pod = base::NameOf(pod);
      return launcher;
    }
  }
  launcher.state = "VMI Running, its launcher pod is not";
  return launcher;
}

base::Result<std::string> WaitForLauncher(kube::Client& client, const std::string& ns,
                                          const std::string& name,
                                          std::chrono::milliseconds timeout,
                                          const std::string& command) {
  auto deadline = Clock::now() + timeout;
  std::string last_state;
  for (;;) {
    auto launcher = LookUpLauncher(client, ns, name);
    if (!launcher.ok()) return launcher.status();
    if (!launcher->pod.empty()) return launcher->pod;
    const std::string& state = launcher->state;
    if (state != last_state) {
      std::fprintf(stderr, "virtctl %s: waiting for %s/%s to run: %s\n", command.c_str(),
                   ns.c_str(), name.c_str(), state.c_str());
      last_state = state;
    }
    if (Clock::now() >= deadline) {
      return Status(Code::kTimeout, "VM " + ns + "/" + name + " did not run within the " +
                                        std::to_string(timeout.count() / 1000) +
                                        " s of --timeout (" + state + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

ExecRequest LauncherExec(const std::string& ns, const std::string& pod,
                         std::vector<std::string> launcher_args) {
  ExecRequest request;
  request.namespace_name = ns;
  request.pod = pod;
  request.container = contract::kLauncherContainer;
  request.command = {contract::kBinary};
  for (std::string& arg : launcher_args) request.command.push_back(std::move(arg));
  return request;
}

Status DiagnoseExec(kube::Client& client, const std::string& ns, const std::string& pod,
                    const Status& failure, const std::string& what) {
  Json review = Json::object();
  review["apiVersion"] = Json("authorization.k8s.io/v1");
  review["kind"] = Json("SelfSubjectAccessReview");
  Json attributes = Json::object();
  attributes["namespace"] = Json(ns);
  attributes["verb"] = Json("create");
  attributes["resource"] = Json("pods");
  attributes["subresource"] = Json("exec");
  attributes["name"] = Json(pod);
  review["spec"]["resourceAttributes"] = attributes;
  auto reply = client.Raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review);
  if (reply.ok() && base::GetBool(*reply, "status.allowed") == false) {
    return Status(Code::kForbidden,
                  "permission denied: you may not create pods/exec in namespace \"" + ns +
                      "\" (needed to reach " + what + ")");
  }
  return Status(Code::kUnavailable, "cannot open " + what + ": " + failure.message());
}

}  // namespace vireo::virtctl
