// Parsing of vireo-controller's flags; see options.h.
#include "controllers/options.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>

#include "lib/api/quantity.h"
#include "lib/base/duration.h"
#include "lib/base/flags.h"

extern char** environ;

namespace vireo::controllers {
namespace {

using base::Code;
using base::Result;
using base::Status;

#ifndef VIREO_VERSION
#define VIREO_VERSION "dev"
#endif

// The name images/build.sh gives the launcher image (there is no registry
// in the local cluster; images are imported into containerd under it).
constexpr char kDefaultLauncherImage[] = "vireo.local/vireo-launcher:" VIREO_VERSION;

// `flag` as typed ("--workers").
Status Bad(const std::string& flag, const std::string& value, const std::string& accepts) {
  return Status(Code::kInvalid,
                flag + "=" + value + ": " + accepts + " (see vireo-controller --help)");
}

Result<int> ParsePositiveInt(const std::string& flag, const std::string& text, int max) {
  std::optional<int64_t> value = base::ParseInt64(text);
  if (!value || *value < 1 || *value > max) {
    return Bad(flag, text, "expected a whole number from 1 to " + std::to_string(max));
  }
  return static_cast<int>(*value);
}

std::string DefaultIdentity(const Environment& env) {
  auto pod = env.find("POD_NAME");
  if (pod != env.end() && !pod->second.empty()) return pod->second;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "vireo-controller");
  }
  // Two replicas on one host (tests, or a restart that raced the old
  // process) must still be told apart.
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "_%08x", random());
  return std::string(host) + suffix;
}

}  // namespace

std::string BindAddress::ToString() const {
  if (!enabled) return "0";
  std::string h = host.empty() ? "0.0.0.0" : host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  return base::ParseDuration(text, std::chrono::seconds(1));
}

Result<BindAddress> ParseBindAddress(const std::string& text) {
  if (text == "0") return BindAddress{};
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Status(Code::kInvalid, "\"" + text + "\" is not host:port, :port or 0 (off)");
  }
  BindAddress address;
  address.enabled = true;
  address.host = text.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  std::string port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (ec != std::errc() || end != port.data() + port.size() || address.port < 1 ||
      address.port > 65535) {
    return Status(Code::kInvalid, "\"" + text + "\" has no port from 1 to 65535");
  }
  return address;
}

Result<Options> ParseOptions(const std::vector<std::string>& args, const Environment& env) {
  Options o;
  auto env_or = [&](const char* name, std::string fallback) {
    auto it = env.find(name);
    return it != env.end() && !it->second.empty() ? it->second : fallback;
  };
  o.launcher_image = env_or("VIREO_LAUNCHER_IMAGE", kDefaultLauncherImage);

  // Each flag and how it is set; a bad value is named as --flag=value.
  using base::FlagSetter;
  auto text = [](std::string* field) -> FlagSetter {
    return [field](const std::string& flag, const std::string& value) {
      if (value.empty()) return Bad(flag, value, "expected a value");
      *field = value;
      return Status::Ok();
    };
  };
  auto duration = [](std::chrono::milliseconds* field) -> FlagSetter {
    return [field](const std::string& flag, const std::string& value) {
      auto d = ParseDuration(value);
      if (!d.ok() || d->count() <= 0) {
        return Bad(flag, value, "expected a positive duration such as 15s or 500ms");
      }
      *field = *d;
      return Status::Ok();
    };
  };
  auto bind = [](BindAddress* field) -> FlagSetter {
    return [field](const std::string& flag, const std::string& value) {
      auto a = ParseBindAddress(value);
      if (!a.ok()) return Bad(flag, value, a.status().message());
      *field = *a;
      return Status::Ok();
    };
  };
  base::FlagSet flags("", " (see vireo-controller --help)");
  // Go's flag package, which Kubernetes' own controllers grew up on, takes
  // -flag as --flag.
  flags.AllowSingleDashLong();
  flags.Bool("help", &o.help, 'h')
      .Add({"kubeconfig", 0, false, text(&o.kubeconfig)})
      .Add({"context", 0, false, text(&o.context)})
      .String("namespace", &o.namespace_name)  // "" means every namespace
      .Add({"launcher-image", 0, false, text(&o.launcher_image)})
      .Add({"emulation", 0, false,
            [&](const std::string& f, const std::string& v) {
              auto mode = api::launcher_pod::ParseEmulationMode(v);
              if (!mode) return Bad(f, v, "expected auto, on or off");
              o.emulation = *mode;
              return Status::Ok();
            }})
      .Bool("kvm-resource-offered", &o.kvm_resource_offered)
      .Add({"launcher-seccomp-profile", 0, false,
            [&](const std::string& f, const std::string& v) {
              // What the apiserver takes as a localhostProfile: a path
              // below the kubelet's seccomp directory.
              const std::filesystem::path path(v);
              const bool up = std::any_of(path.begin(), path.end(),
                                          [](const std::filesystem::path& p) { return p == ".."; });
              if (v.empty() || path.is_absolute() || up) {
                return Bad(f, v,
                           "expected a path relative to the kubelet's seccomp directory, "
                           "without \"..\", such as vireo/launcher.json");
              }
              o.launcher_seccomp_profile = v;
              return Status::Ok();
            }})
      .Add({"launcher-memory-overhead-margin", 0, false,
            [&](const std::string& f, const std::string& v) {
              auto bytes = api::ParseQuantityBytes(v);
              // Capped so that the request's sum cannot overflow.
              if (!bytes.ok() || *bytes < 0 || *bytes > (1LL << 40)) {
                return Bad(f, v, "expected a memory quantity from 0 to 1Ti, such as 16Mi");
              }
              o.launcher_memory_overhead_margin = *bytes;
              return Status::Ok();
            }})
      .Add({"workers", 0, false,
            [&](const std::string& f, const std::string& v) {
              auto n = ParsePositiveInt(f, v, 64);
              if (n.ok()) o.workers = *n;
              return n.status();
            }})
      .Add({"import-retry-delay", 0, false,
            [&](const std::string& f, const std::string& v) {
              auto d = ParseDuration(v);
              if (!d.ok() || *d < std::chrono::seconds(1) || d->count() % 1000 != 0) {
                return Bad(f, v, "expected whole seconds, at least 1s, such as 10s");
              }
              o.import_retry_delay = std::chrono::duration_cast<std::chrono::seconds>(*d);
              return Status::Ok();
            }})
      .Bool("leader-elect", &o.leader_elect)
      .Add({"leader-elect-namespace", 0, false, text(&o.lease_namespace)})
      .Add({"leader-elect-name", 0, false, text(&o.lease_name)})
      .Add({"leader-elect-lease-duration", 0, false, duration(&o.lease_duration)})
      .Add({"leader-elect-renew-deadline", 0, false, duration(&o.renew_deadline)})
      .Add({"leader-elect-retry-period", 0, false, duration(&o.retry_period)})
      .Add({"metrics-bind-address", 0, false, bind(&o.metrics)})
      .Add({"health-probe-bind-address", 0, false, bind(&o.health)})
      .Add({"log-level", 0, false, [&](const std::string& f, const std::string& v) {
              if (!base::ParseLogLevel(v, &o.log_level)) {
                return Bad(f, v, "expected debug, info, warn or error");
              }
              return Status::Ok();
            }});

  auto positional = flags.Parse(args);
  if (!positional.ok()) return positional.status();
  if (!positional->empty()) {
    return Status(Code::kInvalid, "unexpected argument \"" + positional->front() +
                                      "\": vireo-controller takes only flags (see --help)");
  }

  if (o.identity.empty()) o.identity = DefaultIdentity(env);
  if (o.lease_namespace.empty()) o.lease_namespace = env_or("POD_NAMESPACE", "");
  if (o.leader_elect &&
      !(o.retry_period < o.renew_deadline && o.renew_deadline < o.lease_duration)) {
    return Status(Code::kInvalid,
                  "leader election needs --leader-elect-retry-period < "
                  "--leader-elect-renew-deadline < --leader-elect-lease-duration");
  }
  if (o.metrics.enabled && o.health.enabled && o.metrics.port == o.health.port) {
    return Status(Code::kInvalid,
                  "--metrics-bind-address and --health-probe-bind-address use "
                  "the same port " +
                      std::to_string(o.metrics.port) +
                      "; give one another port or turn it off with 0");
  }
  return o;
}

std::string HelpText() {
  return std::string(R"(vireo-controller: runs VirtualMachines and VirtualMachineInstances
(kubevirt.io/v1) on Kubernetes. For each VM it keeps a VMI as its run strategy
asks, for each VMI one launcher pod, and it reports their state back in the
status of both.

Usage: vireo-controller [flags]

Cluster access:
  --kubeconfig PATH     kubeconfig file. Default: $KUBECONFIG, else the pod's
                        service account when running in a cluster, else
                        ~/.kube/config.
  --context NAME        kubeconfig context (default: its current-context)
  --namespace NS        act only in namespace NS (default: every namespace)

What it creates:
  --launcher-image IMAGE  image of the launcher pods
                          (default: $VIREO_LAUNCHER_IMAGE, else )") +
         kDefaultLauncherImage + R"()
  --emulation MODE        auto: the launcher uses KVM when /dev/kvm opens,
                          else software emulation; on: always emulate (no
                          /dev/kvm in the pod); off: require KVM (default: auto)
  --kvm-resource-offered  a device plugin offers devices.kubevirt.io/kvm on the
                          nodes (the chart's or KubeVirt's): with auto, launcher
                          pods ask for it and an init container probes KVM
                          (default: false: no request, TCG unless /dev/kvm opens)
  --launcher-seccomp-profile PATH
                          seccomp profile of the launcher container of a VM
                          with an interface (passt): a Localhost profile at
                          PATH under the kubelet's seccomp directory on every
                          node, such as vireo/launcher.json holding
                          manifests/seccomp/vireo-launcher.json (default: none:
                          that container names no profile)
  --launcher-memory-overhead-margin QUANTITY
                          memory each launcher pod asks for beyond the guest
                          and the overhead measured by bench/overhead, for
                          what the bench's guests did not do (default: 16Mi)
  --workers N             reconcile workers per queue, VMs and VMIs (default: 16)
  --import-retry-delay D  wait before a DataVolume's next importer pod after a
                          failure that may pass (unreachable source); doubles
                          each attempt, 3 attempts in all (default: 10s)

Running several replicas:
  --leader-elect          only the replica holding a Lease acts (default: off)
  --leader-elect-namespace NS   namespace of the Lease (default: $POD_NAMESPACE,
                                else the namespace of the kubeconfig context)
  --leader-elect-name NAME      name of the Lease (default: vireo-controller)
  --leader-elect-lease-duration D  a stale Lease is taken over after D (15s)
  --leader-elect-renew-deadline D  a leader that cannot renew for D exits (10s)
  --leader-elect-retry-period D    between acquire/renew attempts (2s)
  The identity is $POD_NAME, else the hostname with a random suffix.

Endpoints (host:port, :port for every interface, 0 to turn off):
  --metrics-bind-address ADDR       Prometheus /metrics (default: :8080)
  --health-probe-bind-address ADDR  /healthz and /readyz (default: :8081)

Logs:
  --log-level LEVEL     debug, info, warn or error (default: info); one JSON
                        object a line on stderr

  -h, --help            this text

Durations are written 500ms, 15s, 2m or 1h30m (a bare number is seconds).
Flags take --flag=value or --flag value. SIGTERM or SIGINT: stop working, release the Lease, exit 0.
)";
}

}  // namespace vireo::controllers
