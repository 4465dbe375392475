// What virtctl's commands share about the cluster: refusals explained in the
// user's words, a missing VM located, and the launcher pod of a running VMI
// found (now, or waited for) and exec'd into (docs/launcher-pod.md: the pod
// is found by its VMI-uid label, the launcher container runs
// `vireo-launcher`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/api/launcher_pod.h"
#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "virtctl/exec.h"

namespace vireo::virtctl {

using api::launcher_pod::kCreatedByLabel;

// Which verb on which resource in which namespace was refused, and the
// server's own words (kForbidden and kUnauthorized keep their codes).
base::Status Explain(const base::Status& status, const std::string& verb,
                     const std::string& resource, const std::string& ns);

// "KIND "NAME" not found in namespace NS", plus where a VM of that name does
// exist when the user may list across namespaces. kNotFound.
base::Status VmNotFound(kube::Client& client, const std::string& kind, const std::string& name,
                        const std::string& ns);

struct Launcher {
  std::string pod;    // set when the VMI runs in a running launcher pod
  base::Json vmi;     // the VMI, when there is one
  std::string state;  // otherwise, what the VM is doing ("VMI phase Scheduling")
};

// The VMI NAME (or the VM NAME's VMI) and its running launcher pod, as they
// are now. kNotFound when neither the VMI nor the VM exists.
base::Result<Launcher> LookUpLauncher(kube::Client& client, const std::string& ns,
                                      const std::string& name);

// LookUpLauncher until the pod runs, printing each new state on stderr with
// `command` ("console"). kTimeout after `timeout`, naming the last state.
base::Result<std::string> WaitForLauncher(kube::Client& client, const std::string& ns,
                                          const std::string& name,
                                          std::chrono::milliseconds timeout,
                                          const std::string& command);

// The exec of `vireo-launcher SUBCOMMAND ARGS...` in the pod's launcher
// container, stdin and stdout joined, no terminal.
ExecRequest LauncherExec(const std::string& ns, const std::string& pod,
                         std::vector<std::string> launcher_args);

// When an exec upgrade fails: kForbidden naming pods/exec when a
// SelfSubjectAccessReview says the user may not, else kUnavailable saying
// `what` ("the console of pod NS/POD") could not open.
base::Status DiagnoseExec(kube::Client& client, const std::string& ns, const std::string& pod,
                          const base::Status& failure, const std::string& what);

}  // namespace vireo::virtctl
