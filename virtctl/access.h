// virtctl's ways into a running guest besides the console: `vnc` (the
// guest's display), `port-forward` (its TCP ports), and `ssh`/`scp` (the
// system's OpenSSH client, carried by `port-forward --stdio` as its
// ProxyCommand). vnc and port-forward exec `vireo-launcher vnc` and
// `vireo-launcher forward --port N` in the launcher pod, one exec stream per
// connection, over the same authenticated pods/exec channel as the console
// (docs/virtctl.md).
#pragma once

#include <string>

#include "lib/kube/client.h"
#include "virtctl/exec.h"
#include "virtctl/options.h"

namespace vireo::virtctl {

// How one exec stream joined to a pair of file descriptors ended.
struct PumpResult {
  bool ok = true;
  std::string error;  // !ok: the remote command's words, or why the stream broke
};

// Copies in_fd -> the session's stdin and its stdout -> out_fd until the
// remote command exits or the stream ends. When in_fd ends the remote stdin
// is closed (v5) and the output still flows; when out_fd cannot be written
// the session is closed. The remote command's stderr becomes the error of a
// failed exit.
PumpResult Pump(ExecSession& session, int in_fd, int out_fd);

// Each returns the process exit code (commands.h); ssh and scp replace the
// process with the system's ssh or scp and return only when that fails.
int RunVnc(kube::Client& client, const Options& options, const std::string& namespace_name);
int RunPortForward(kube::Client& client, const Options& options, const std::string& namespace_name);
int RunSsh(kube::Client& client, const Options& options, const std::string& namespace_name);

// The argv of ssh or scp for `options` (ssh when options.command is kSsh),
// `self` the path of this virtctl for the ProxyCommand. Exposed for tests.
std::vector<std::string> OpenSshArgv(const Options& options, const std::string& namespace_name,
                                     const std::string& self);

}  // namespace vireo::virtctl
