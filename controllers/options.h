// vireo-controller's command line: flags, their environment fallbacks and
// defaults, parsed into one Options value, and the --help text.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "controllers/reconcile/launcher_pod.h"
#include "lib/base/log.h"
#include "lib/base/status.h"

namespace vireo::controllers {

// host:port to listen on. Empty host: every interface. `enabled` false for
// the value "0", which turns the endpoint off.
struct BindAddress {
  bool enabled = false;
  std::string host;
  int port = 0;
  std::string ToString() const;  // "0.0.0.0:8080"
};

struct Options {
  std::string kubeconfig;  // empty: $KUBECONFIG, in-cluster, ~/.kube/config
  std::string context;
  std::string namespace_name;  // empty: every namespace
  std::string launcher_image;
  EmulationMode emulation = EmulationMode::kAuto;
  // A device plugin offers the KVM resource (LauncherConfig::kvm_resource)
  // on the nodes: with emulation auto, launcher pods ask for it.
  bool kvm_resource_offered = false;
  // Localhost seccomp profile of networked VMs' launcher containers
  // (LauncherConfig::passt_seccomp_profile); empty: none.
  std::string launcher_seccomp_profile;
  // Bytes every launcher pod asks for on top of the measured overhead
  // (MemoryOverhead::margin_bytes).
  int64_t launcher_memory_overhead_margin = MemoryOverhead{}.margin_bytes;
  // Per queue. A worker mostly waits on the apiserver, so in a burst the
  // controller's share of a busy apiserver grows with its workers
  // (docs/controller.md, "The writes of a VM start").
  int workers = 16;
  // Wait before a DataVolume's second importer pod after a failure that may
  // pass; it doubles for each later attempt (ImporterConfig).
  std::chrono::seconds import_retry_delay{10};

  bool leader_elect = false;
  std::string lease_namespace;  // empty: POD_NAMESPACE, else the config's namespace
  std::string lease_name = "vireo-controller";
  std::string identity;  // POD_NAME, else hostname_<random>
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};

  BindAddress metrics{true, "", 8080};
  BindAddress health{true, "", 8081};
  base::LogLevel log_level = base::LogLevel::kInfo;

  bool help = false;  // --help: print HelpText and exit 0
};

// Where ParseOptions looks besides argv: the process environment in main,
// a map in tests.
using Environment = std::map<std::string, std::string>;
Environment ProcessEnvironment();

// Parses `--flag=value` and `--flag value` (booleans also bare; -flag as
// --flag), with the tree's one flag parser (lib/base/flags.h). Unknown
// flags, bad values and positional arguments are kInvalid with a message that
// names the flag and what it accepts.
base::Result<Options> ParseOptions(const std::vector<std::string>& args, const Environment& env);

// For people: what the controller does, every flag with its default.
std::string HelpText();

// "15s", "500ms", "2m", "1h30m" (a bare number is seconds): the tree's one
// duration parser (lib/base/duration.h) with the controller's bare unit.
base::Result<std::chrono::milliseconds> ParseDuration(const std::string& text);
// "0" (off), ":8080", "127.0.0.1:8080", "[::1]:8080".
base::Result<BindAddress> ParseBindAddress(const std::string& text);

}  // namespace vireo::controllers
