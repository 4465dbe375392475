// The virtctl commands against a cluster: start/stop/restart (power.h's
// plans, applied), console (wait for the VMI, then exec into its launcher)
// and version. Each prints its result or a message saying what went wrong
// and returns the process exit code (docs/virtctl.md).
#pragma once

#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "virtctl/options.h"

namespace vireo::virtctl {

enum ExitCode {
  kExitOk = 0,
  kExitFailure = 1,     // the cluster is unreachable, or a reply made no sense
  kExitUsage = 2,       // flags or arguments
  kExitNotFound = 3,    // no such VM or VMI
  kExitRefused = 4,     // already in the asked state, or the runStrategy refuses
  kExitForbidden = 5,   // the user may not do it (the message names verb and resource)
  kExitTimeout = 6,     // console: the VMI did not run within --timeout
  kExitConsole = 7,     // console, vnc, port-forward: the stream could not open, or broke
  kExitNotRunning = 8,  // vnc, port-forward: the VM is not running, or has no display
};

// kNotFound -> 3, kConflict -> 4, kForbidden/kUnauthorized -> 5, ...
int ExitCodeFor(const base::Status& status);

int RunPower(kube::Client& client, const Options& options, const std::string& namespace_name);
int RunConsole(kube::Client& client, const Options& options, const std::string& namespace_name);
int RunVersion(kube::Client* client, const base::Status& connect_error);

}  // namespace vireo::virtctl
