// virtctl: start, stop, restart, the serial console, VNC, port-forward, ssh
// and scp of Vireo's VMs, over the plain Kubernetes API, and create's
// manifests, without it (see docs/virtctl.md).
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lib/base/file_util.h"
#include "lib/kube/client.h"
#include "lib/kube/config.h"
#include "virtctl/access.h"
#include "virtctl/commands.h"
#include "virtctl/create.h"
#include "virtctl/options.h"

using namespace vireo;

namespace {

// create's manifest on stdout, with the system's randomness, files and
// stderr: no kubeconfig is read.
int RunCreate(const virtctl::Options& options) {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  virtctl::CreateEnv env{
      .random_suffix =
          [engine] {
            // Kubernetes' rand.String alphabet: no vowels, no 0, 1 or 3.
            static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
            std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
            std::string suffix;
            for (int i = 0; i < 5; ++i) suffix += kAlphabet[pick(*engine)];
            return suffix;
          },
      .read_file = [](const std::string& path) { return base::ReadFile(path); },
      .warn =
          [](const std::string& message) {
            std::fprintf(stderr, "virtctl create: warning: %s\n", message.c_str());
          }};
  auto manifest = virtctl::CreateManifest(options, env);
  if (!manifest.ok()) {
    std::fprintf(stderr, "virtctl create: %s\n", manifest.status().message().c_str());
    return manifest.status().code() == base::Code::kBadRequest ? virtctl::kExitUsage
                                                               : virtctl::kExitFailure;
  }
  std::fputs(manifest->c_str(), stdout);
  return virtctl::kExitOk;
}

}  // namespace

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
  if (options->command == virtctl::Command::kCreate) return RunCreate(*options);

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
