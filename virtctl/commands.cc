// The virtctl commands; see commands.h.
#include "virtctl/commands.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "lib/api/launcher_pod.h"
#include "lib/api/resources.h"
#include "lib/base/json.h"
#include "lib/kube/resource.h"
#include "virtctl/exec.h"
#include "virtctl/lookup.h"
#include "virtctl/power.h"
#include "virtctl/terminal.h"

namespace vireo::virtctl {

using base::Code;
using base::Json;
using base::Status;
namespace resources = kube::resources;
namespace kv = api::resources;  // kubevirt.io and CDI kinds

// Launcher pods (docs/launcher-pod.md): found by the VMI uid label
// (lookup.h), exec'd into in their launcher container (the contract,
// lib/api/launcher_pod.h).
namespace contract = api::launcher_pod;

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kConflict:
    case Code::kAlreadyExists:
      return kExitRefused;
    case Code::kForbidden:
    case Code::kUnauthorized:
      return kExitForbidden;
    case Code::kBadRequest:
      return kExitUsage;
    case Code::kTimeout:
      return kExitTimeout;
    default:
      return kExitFailure;
  }
}

namespace {

void Print(FILE* to, const std::string& line) { std::fprintf(to, "%s\n", line.c_str()); }

bool Retryable(const Status& status) {
  // A failed "test" operation (the VM or VMI changed since it was read) comes
  // back as a conflict or as an invalid patch, depending on the server.
  return status.code() == Code::kConflict ||
         (status.code() == Code::kInvalid && status.message().find("test") != std::string::npos);
}

}  // namespace

int RunPower(kube::Client& client, const Options& options, const std::string& ns) {
  PowerAction action = options.command == Command::kStart  ? PowerAction::kStart
                       : options.command == Command::kStop ? PowerAction::kStop
                                                           : PowerAction::kRestart;
  const char* verb = PowerActionName(action);
  const std::string& name = options.name;
  auto fail = [&](const Status& status) {
    std::fprintf(stderr, "virtctl %s: %s\n", verb, status.message().c_str());
    return ExitCodeFor(status);
  };
  PowerOptions power{options.grace_period_seconds, options.force};

  for (int attempt = 1;; ++attempt) {
    auto vm = client.Get(kv::kVirtualMachines, ns, name);
    if (!vm.ok()) {
      if (vm.status().IsNotFound()) return fail(VmNotFound(client, "VirtualMachine", name, ns));
      return fail(Explain(vm.status(), "get", "virtualmachines", ns));
    }
    auto vmi = client.Get(kv::kVirtualMachineInstances, ns, name);
    if (!vmi.ok() && !vmi.status().IsNotFound()) {
      return fail(Explain(vmi.status(), "get", "virtualmachineinstances", ns));
    }
    const Json* vmi_json = vmi.ok() ? &*vmi : nullptr;
    auto plan = PlanPower(action, *vm, vmi_json, power);
    if (!plan.ok()) {
      if (plan.status().code() == Code::kConflict || plan.status().code() == Code::kInvalid) {
        return fail(Status(Code::kConflict, "cannot " + std::string(verb) + " VM " + ns + "/" +
                                                name + ": " + plan.status().message()));
      }
      return fail(plan.status());
    }

    Status applied;
    if (plan->vmi_patch) {
      auto r = client.Patch(kv::kVirtualMachineInstances, ns, name, kube::PatchType::kJson,
                            *plan->vmi_patch);
      if (!r.ok()) applied = Explain(r.status(), "patch", "virtualmachineinstances", ns);
    }
    if (applied.ok() && plan->vm_patch) {
      auto r =
          client.Patch(kv::kVirtualMachines, ns, name, kube::PatchType::kJson, *plan->vm_patch);
      if (!r.ok()) applied = Explain(r.status(), "patch", "virtualmachines", ns);
    }
    if (applied.ok() && plan->vm_status_patch) {
      auto r = client.Patch(kv::kVirtualMachines, ns, name, kube::PatchType::kJson,
                            *plan->vm_status_patch, "status");
      if (!r.ok()) applied = Explain(r.status(), "patch", "virtualmachines/status", ns);
    }
    if (!applied.ok()) {
      if (attempt < 3 && Retryable(applied)) continue;  // read again, decide again
      return fail(applied);
    }
    if (plan->delete_launcher_pods && !plan->vmi_uid.empty()) {
      kube::ListOptions list;
      list.label_selector = std::string(kCreatedByLabel) + "=" + plan->vmi_uid;
      auto pods = client.List(resources::kPods, ns, list);
      if (!pods.ok()) return fail(Explain(pods.status(), "list", "pods", ns));
      for (const auto& pod : pods->items) {
        kube::DeleteOptions del;
        del.grace_period_seconds = 0;
        Status s = client.Delete(resources::kPods, ns, base::NameOf(pod), del);
        if (!s.ok() && !s.IsNotFound()) return fail(Explain(s, "delete", "pods", ns));
      }
    }
    Print(stdout, "VM " + name + " was scheduled to " + verb);
    return kExitOk;
  }
}

// ------------------------------------------------------------- console

namespace {

using Clock = std::chrono::steady_clock;

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int RunConsole(kube::Client& client, const Options& options, const std::string& ns) {
  auto fail = [](const Status& status, int code) {
    std::fprintf(stderr, "virtctl console: %s\n", status.message().c_str());
    return code;
  };
  auto pod = WaitForLauncher(client, ns, options.name, options.timeout, "console");
  if (!pod.ok()) return fail(pod.status(), ExitCodeFor(pod.status()));

  ExecRequest request =
      LauncherExec(ns, *pod,
                   {contract::kConsole, std::string("--") + contract::kFlagStateDir,
                    contract::kStateDir, std::string("--") + contract::kFlagWaitSeconds, "10"});
  ExecOptions exec_options;
  exec_options.keepalive = options.keepalive;
  exec_options.log_requests = options.verbosity >= 1;
  auto session = ExecSession::Open(client, request, exec_options);
  if (!session.ok()) {
    Status s =
        DiagnoseExec(client, ns, *pod, session.status(), "the console of pod " + ns + "/" + *pod);
    return fail(s, s.code() == Code::kForbidden ? kExitForbidden : kExitConsole);
  }

  bool interactive = isatty(STDIN_FILENO) != 0;
  RawTerminal terminal(STDIN_FILENO);
  if (terminal.active()) {
    std::fprintf(stderr, "Successfully connected to %s console. Press Ctrl+] to exit console.\r\n",
                 options.name.c_str());
  } else {
    interactive = false;
    std::fprintf(stderr,
                 "virtctl console: stdin is not a terminal: input goes to the console as it is "
                 "(Ctrl+] does not leave); output is shown until %lld ms after the input ends\n",
                 static_cast<long long>(options.linger.count()));
  }

  int result = kExitOk;
  bool stdin_open = true;
  std::optional<Clock::time_point> leave_at;
  char buffer[16 * 1024];
  for (bool done = false; !done;) {
    pollfd fds[2] = {{(*session)->event_fd(), POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    int wait_ms = -1;
    if (leave_at) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*leave_at - Clock::now());
      if (left.count() <= 0) break;
      wait_ms = static_cast<int>(left.count());
    }
    if (poll(fds, 2, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      for (auto& event : (*session)->TakeEvents()) {
        switch (event.kind) {
          case ExecEvent::kStdout:
            if (!WriteAll(STDOUT_FILENO, event.data)) done = true;
            break;
          case ExecEvent::kStderr:
            WriteAll(STDERR_FILENO, event.data);
            break;
          case ExecEvent::kExit:
            if (!event.exit.success) {
              terminal.Restore();
              std::fprintf(stderr, "virtctl console: the console in pod %s ended: %s\n",
                           pod->c_str(), event.exit.message.c_str());
              result = kExitConsole;
            }
            done = true;
            break;
          case ExecEvent::kClosed:
            if (!event.clean) {
              terminal.Restore();
              std::fprintf(stderr, "virtctl console: the console connection broke: %s\n",
                           event.data.c_str());
              result = kExitConsole;
            }
            done = true;
            break;
        }
      }
    }
    if (!done && stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stdin_open = false;
        leave_at = Clock::now() + options.linger;
        continue;
      }
      EscapeScan scan =
          ScanForEscape(std::string_view(buffer, static_cast<size_t>(n)), interactive);
      if (scan.forward > 0) {
        Status s = (*session)->SendStdin(std::string_view(buffer, scan.forward));
        if (!s.ok()) {
          terminal.Restore();
          std::fprintf(stderr, "virtctl console: %s\n", s.message().c_str());
          result = kExitConsole;
          break;
        }
      }
      if (scan.leave) break;
    }
  }
  (*session)->CloseStdin();
  (*session)->Close();
  if (terminal.active()) {
    terminal.Restore();
    std::fprintf(stderr, "\n");
  }
  return result;
}

int RunVersion(kube::Client* client, const Status& connect_error) {
  std::printf("Client Version: v%s\n", VIREO_VERSION);
  if (client == nullptr) {
    std::fprintf(stderr, "virtctl version: no server version: %s\n",
                 connect_error.message().c_str());
    return kExitFailure;
  }
  auto version = client->Raw("GET", "/version");
  if (!version.ok()) {
    std::fprintf(stderr, "virtctl version: no server version: %s\n",
                 version.status().message().c_str());
    return ExitCodeFor(version.status()) == kExitOk ? kExitFailure : ExitCodeFor(version.status());
  }
  std::printf("Server Version: Kubernetes %s\n",
              base::GetString(*version, "gitVersion", "unknown").c_str());
  return kExitOk;
}

}  // namespace vireo::virtctl
