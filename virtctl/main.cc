// virtctl: start, stop, restart, the serial console, VNC, port-forward, ssh
// and scp of Vireo's VMs, over the plain Kubernetes API (see docs/virtctl.md).
#include <cstdio>
#include <string>
#include <vector>

#include "lib/kube/client.h"
#include "lib/kube/config.h"
#include "virtctl/access.h"
#include "virtctl/commands.h"
#include "virtctl/options.h"

using namespace vireo;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = virtctl::ParseArgs(args);
  if (!options.ok()) {
    std::fprintf(stderr, "virtctl: %s\n", options.status().message().c_str());
    return virtctl::kExitUsage;
  }
  if (options->command == virtctl::Command::kHelp) {
    std::fputs(virtctl::HelpText(options->help_topic)->c_str(), stdout);
    return virtctl::kExitOk;
  }

  kube::KubeconfigOptions kubeconfig;
  kubeconfig.explicit_path = options->kubeconfig;
  kubeconfig.context = options->context;
  auto config = kube::LoadDefaultConfig(kubeconfig);
  base::Result<std::unique_ptr<kube::Client>> client =
      config.ok() ? kube::Client::Create(*config, {.user_agent = "virtctl/" VIREO_VERSION,
                                                   .request_timeout_seconds = 30,
                                                   .log_requests = options->verbosity >= 1})
                  : base::Result<std::unique_ptr<kube::Client>>(config.status());
  if (options->command == virtctl::Command::kVersion) {
    return virtctl::RunVersion(client.ok() ? client->get() : nullptr, client.status());
  }
  if (!client.ok()) {
    std::fprintf(stderr, "virtctl: %s\n", client.status().message().c_str());
    return virtctl::kExitFailure;
  }
  // A target's own namespace (vm/NAME/NS) wins over -n and the context's.
  std::string ns = !options->target.namespace_name.empty() ? options->target.namespace_name
                   : !options->namespace_name.empty()      ? options->namespace_name
                   : !config->namespace_name.empty()       ? config->namespace_name
                                                           : "default";
  switch (options->command) {
    case virtctl::Command::kConsole:
      return virtctl::RunConsole(**client, *options, ns);
    case virtctl::Command::kVnc:
      return virtctl::RunVnc(**client, *options, ns);
    case virtctl::Command::kPortForward:
      return virtctl::RunPortForward(**client, *options, ns);
    case virtctl::Command::kSsh:
    case virtctl::Command::kScp:
      return virtctl::RunSsh(**client, *options, ns);
    default:
      return virtctl::RunPower(**client, *options, ns);
  }
}
