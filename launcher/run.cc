// The run subcommand, step by step: state dir, orphan checks, VMI, KVM or
// TCG, volumes, domain XML, libvirt, then the supervisor until the end.
#include "launcher/run.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>

#include "launcher/accel.h"
#include "launcher/caps_cache.h"
#include "launcher/console_relay.h"
#include "launcher/convert/converter.h"
#include "launcher/libvirt_session.h"
#include "launcher/metrics.h"
#include "launcher/orphan_guard.h"
#include "launcher/passt.h"
#include "launcher/paths.h"
#include "launcher/readiness.h"
#include "launcher/storage/container_disk.h"
#include "launcher/storage/volumes.h"
#include "launcher/supervisor.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/launcher_pod.h"
#include "lib/api/validation.h"
#include "lib/base/file_util.h"
#include "lib/base/json.h"
#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using base::Result;
using base::Status;
using enum api::launcher_pod::ExitCode;
using api::launcher_pod::ExitCodeName;
using api::launcher_pod::kMetricsPort;
using api::launcher_pod::kNodeNameEnv;

// A /proc file's text ("" when it cannot be read).
std::string ProcText(const char* path) {
  auto text = base::ReadFile(path);
  return text.ok() ? std::move(*text) : std::string();
}

// The end of a run: the code and one error line that says why.
int Finish(int code, const std::string& message, std::string_view vmi = "") {
  if (code == kExitGuestPoweredOff) {
    base::LogInfo(
        "launcher exiting",
        {{"vmi", vmi}, {"exitCode", "0"}, {"reason", ExitCodeName(code)}, {"message", message}});
  } else {
    base::LogError("launcher exiting", {{"vmi", vmi},
                                        {"exitCode", std::to_string(code)},
                                        {"reason", ExitCodeName(code)},
                                        {"message", message}});
  }
  return code;
}

Result<api::VirtualMachineInstance> LoadVmi(const std::string& path) {
  auto text = base::ReadFile(path);
  if (!text.ok()) {
    return Status(base::Code::kInvalid, "read VMI file " + path + ": " + text.status().message());
  }
  auto json = base::ParseJson(*text, "VMI file " + path);
  if (!json.ok()) return Status(base::Code::kInvalid, json.status().message());
  auto vmi = api::FromJson<api::VirtualMachineInstance>(*json);
  if (!vmi.ok()) return vmi.status().WithContext("decode VMI file " + path);
  // The controller applied the defaults already; applying them again changes
  // nothing and keeps a hand-written VMI file working.
  api::ApplyVmiDefaults(&*vmi);
  if (Status s = api::ValidateVirtualMachineInstance(*vmi); !s.ok()) {
    return s.WithContext("VMI file " + path);
  }
  return vmi;
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status(base::Code::kInternal, "write " + path);
  return Status::Ok();
}

bool IsEmbedded(const std::string& uri) { return uri.find("/embed") != std::string::npos; }

// firmware.kernelBoot: where the pod's init container put the kernel and
// initrd the VMI names; a missing one is an error naming it.
Status FindKernelBootFiles(const api::VirtualMachineInstanceSpec& spec, const PodPaths& paths,
                           ConvertContext* ctx) {
  const api::KernelBootContainer* found = api::FindKernelBootContainer(spec);
  if (found == nullptr) return Status::Ok();
  const api::KernelBootContainer& kernel = *found;
  for (const auto& [given, name, out] :
       {std::tuple{&kernel.kernel_path, api::launcher_pod::kKernelBootKernel, &ctx->kernel_path},
        std::tuple{&kernel.initrd_path, api::launcher_pod::kKernelBootInitrd, &ctx->initrd_path}}) {
    if (given->empty()) continue;
    const std::string file = paths.KernelBootFile(name);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return Status(base::Code::kNotFound, "firmware.kernelBoot: " + *given + " of image " +
                                               kernel.image + " is not at " + file +
                                               " (the pod's vireo-kernel-boot copy did not run?)");
    }
    *out = file;
  }
  return Status::Ok();
}

// Everything up to a running domain, then its supervision.
int Run(const Options& options, int signal_fd, Guardian& guardian) {
  const auto launched = std::chrono::steady_clock::now();
  const PodPaths paths(options.root);
  const StateFiles state(options.state_dir);
  std::error_code ec;
  std::filesystem::create_directories(state.dir(), ec);
  if (ec) return Finish(kExitInternal, "create state dir " + state.dir() + ": " + ec.message());
  // What an earlier launcher and its postStart hook left (readiness.h).
  ClearStaleWaiterFiles(state);

  // An earlier launcher on this state dir may have died leaving QEMU behind.
  if (auto killed = KillRecordedQemu(state.QemuPidFile()); !killed.ok()) {
    return Finish(kExitInternal, killed.status().message());
  }

  auto vmi = LoadVmi(options.vmi_file);
  if (!vmi.ok()) return Finish(kExitInvalidVmi, vmi.status().ToString());
  const std::string vmi_key = vmi->metadata.namespace_ + "/" + vmi->metadata.name;
  base::LogInfo("starting", {{"vmi", vmi_key}, {"stateDir", state.dir()}});

  auto accel = ChooseAccelForRun(options);
  if (!accel.ok()) return Finish(kExitStartFailed, accel.status().message(), vmi_key);
  base::LogInfo("emulation mode", {{"vmi", vmi_key},
                                   {"mode", accel->emulation == Emulation::kKvm ? "kvm" : "tcg"},
                                   {"reason", accel->reason}});

  // A containerDisk's container may still be pulling its image.
  std::vector<std::string> served_dirs;
  for (const api::Volume& volume : vmi->spec.volumes) {
    if (volume.container_disk.has_value()) {
      served_dirs.push_back(paths.ContainerDiskDir(volume.name));
    }
  }
  ServedDiskWait wait;
  wait.on_long_wait = [&state] { MarkWaitingForDisks(state); };
  if (Status s = WaitForServedDisks(served_dirs, signal_fd, wait); !s.ok()) {
    return Finish(kExitTerminatedBeforeStart, s.message(), vmi_key);
  }
  auto disks = PrepareVolumes(*vmi, paths.Storage(state.dir()));
  if (!disks.ok()) return Finish(kExitStorage, disks.status().ToString(), vmi_key);
  base::Log(base::LogLevel::kDebug, "volumes prepared",
            {{"vmi", vmi_key},
             {"sinceLaunchMs", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - launched)
                                                  .count())}});

  ConvertContext ctx = ContextForStateDir(state.dir(), accel->emulation);
  ctx.disks = std::move(*disks);
  if (Status s = FindKernelBootFiles(vmi->spec, paths, &ctx); !s.ok()) {
    return Finish(kExitStorage, s.message(), vmi_key);
  }
  ctx.network_backend = options.network;
  // QEMU listens on its own socket; console.sock belongs to the relay, which
  // gives viewers takeover semantics QEMU's single-client socket lacks.
  ctx.console_socket_path = state.SerialSocket();
  ctx.console_log_path = state.SerialLog();
  auto xml = ConvertToDomainXml(*vmi, ctx);
  if (!xml.ok()) return Finish(kExitInvalidVmi, xml.status().ToString(), vmi_key);
  const std::string domain_name = DomainName(*vmi);
  // What libvirt was asked to run, for whoever debugs the pod.
  if (Status s = WriteTextFile(state.File("domain.xml"), *xml); !s.ok()) {
    base::LogWarn("cannot keep a copy of the domain XML", {{"error", s.message()}});
  }

  std::string uri = options.libvirt_uri;
  std::string pid_dir = "/run/libvirt/qemu";  // a privileged daemon's
  SeededCaps seeded_caps;                     // embedded driver only
  // The seeded cache lets libvirt read the guest's CPU in two calls (caps_cache.h).
  const bool quick_cpu_read = QuickCpuReadFits(*xml);
  CapsVariant caps_variant = CapsVariant::kTcg;
  RouteLibvirtLogs(state.LibvirtLog());
  if (uri.empty()) {
    // libvirt 9.0's QEMU driver refuses to initialize without them, with a
    // message that does not say what to do.
    if (getpwnam("libvirt-qemu") == nullptr || getgrnam("libvirt-qemu") == nullptr) {
      return Finish(kExitStartFailed,
                    "the user and group libvirt-qemu do not exist; libvirt's QEMU driver "
                    "needs them (the launcher image creates them; so does hack/install-deps.sh)",
                    vmi_key);
    }
    const std::string root = state.LibvirtRoot();
    if (Status s = WriteEmbeddedQemuConf(root); !s.ok()) {
      return Finish(kExitInternal, s.message(), vmi_key);
    }
    CapsVariant variant = CurrentCapsVariant();
    if (variant == CapsVariant::kKvm && accel->emulation == Emulation::kTcg &&
        paths.root().empty() && WithdrawKvmForTcg()) {
      base::LogInfo(
          "KVM not used: /dev/kvm withdrawn from libvirt, so the image's tcg "
          "capabilities cache serves",
          {{"vmi", vmi_key}});
      variant = CapsVariant::kTcg;
    }
    auto seeded =
        SeedCapabilitiesCache(paths.CapabilitiesCacheDir(), root, variant, quick_cpu_read);
    if (seeded.ok()) seeded_caps = std::move(*seeded);
    caps_variant = variant;
    if (!seeded.ok() || seeded_caps.files.empty()) {
      base::LogWarn("no QEMU capabilities cache for this image; libvirt will probe QEMU (slow)",
                    {{"variant", CapsVariantName(variant)},
                     {"dir", paths.CapabilitiesCacheDir()},
                     {"error", seeded.ok() ? "" : seeded.status().message()}});
    }
    uri = EmbeddedUri(root);
    pid_dir = root + "/run/qemu";
  } else if (IsEmbedded(uri)) {
    return Finish(kExitUsage, "--libvirt-uri is for a daemon; leave it out for the embedded driver",
                  vmi_key);
  }

  // The guest's metrics: the port is bound before passt starts, as passt
  // forwards the pod's unbound ports to the guest. Metrics never stop a guest.
  std::unique_ptr<MetricsServer> metrics;
  const auto& nics = vmi->spec.domain.devices.interfaces;
  if (api::launcher_pod::GuestClaimsMetricsPort(vmi->spec)) {
    base::LogWarn("no metrics: the interface lists the metrics port for the guest",
                  {{"vmi", vmi_key}, {"port", std::to_string(kMetricsPort)}});
  } else if (auto listening = MetricsServer::Listen(kMetricsPort); listening.ok()) {
    metrics = std::move(*listening);
  } else {
    base::LogWarn("no metrics", {{"vmi", vmi_key}, {"error", listening.status().message()}});
  }

  // The guest's network: passt serves the pod's address before QEMU joins.
  std::optional<PasstProcess> passt;
  const auto& interfaces = vmi->spec.domain.devices.interfaces;
  if (ctx.network_backend == UserNetBackend::kPasstProcess && !interfaces.empty()) {
    auto started =
        PasstProcess::Start(state.File("passt"), state.File("passt.log"), interfaces.front().ports);
    if (!started.ok()) return Finish(kExitStartFailed, started.status().message(), vmi_key);
    passt = std::move(*started);
    const PortForwards& forwards = passt->forwards();
    base::LogInfo("guest network", {{"vmi", vmi_key},
                                    {"backend", "passt"},
                                    {"tcpPorts", forwards.tcp},
                                    {"udpPorts", forwards.udp}});
    if (!forwards.limited.empty()) {
      base::LogWarn("not every port reaches the guest",
                    {{"vmi", vmi_key}, {"why", forwards.limited}});
    }
  }

  auto relay = ConsoleRelay::Listen(state.ConsoleSocket());
  if (!relay.ok()) return Finish(kExitInternal, relay.status().message(), vmi_key);

  DomainSupervisor::Config config;
  config.uri = uri;
  config.qemu_pid_dir = pid_dir;
  config.state = state;
  config.grace_period_seconds = options.grace_period_seconds;
  config.signal_fd = signal_fd;
  config.guardian = &guardian;
  config.launched = launched;
  auto supervisor = DomainSupervisor::Connect(config);
  if (!supervisor.ok()) return Finish(kExitStartFailed, supervisor.status().message(), vmi_key);
  if (!seeded_caps.files.empty()) {
    // Opening the embedded driver loaded QEMU's capabilities: from the
    // seeded cache, or by probing QEMU when libvirt rejected it. Said in
    // the log and in state/caps-cache, which bench/launcher reads.
    const std::string outcome = SeededCapsOutcome(seeded_caps);
    const bool probed = outcome == "probed";
    base::Log(
        probed ? base::LogLevel::kWarn : base::LogLevel::kInfo,
        probed ? "libvirt rejected the image's QEMU capabilities cache and probed QEMU (slow)"
               : "QEMU capabilities from the image's cache",
        {{"vmi", vmi_key},
         {"variant", CapsVariantName(caps_variant)},
         {"cache", outcome},
         // How libvirt reads the started guest's CPU back (caps_cache.h).
         // (libvirt's own cache, when it probed, keeps the flag).
         {"guestCpuRead", outcome == "used" && quick_cpu_read ? "feature-words" : "per-property"}});
    if (Status s = WriteTextFile(state.File("caps-cache"), outcome + "\n"); !s.ok()) {
      base::LogWarn("cannot record the capabilities cache outcome", {{"error", s.message()}});
    }
  }

  // Whatever ends this scope, the metrics thread stops before the supervisor
  // (and the libvirt connection it reads) goes: declared after it.
  struct StopMetrics {
    std::unique_ptr<MetricsServer>& server;
    ~StopMetrics() { server.reset(); }
  } stop_metrics{metrics};
  if (metrics) {
    MetricsLabels labels{vmi->metadata.name, vmi->metadata.namespace_, ""};
    if (const char* node = std::getenv(kNodeNameEnv); node != nullptr) labels.node = node;
    std::map<std::string, std::string> drives;  // image path -> the VMI's disk name
    for (const auto& [name, source] : ctx.disks) drives[source.path] = name;
    const std::string nic = nics.empty() ? "" : nics.front().name;
    // The pod's interface carries all of the guest's traffic (passt); the
    // pod's routes do not change, so it is found once.
    const std::string iface =
        nic.empty() ? ""
                    : PodInterface(ProcText("/proc/net/route"), ProcText("/proc/net/ipv6_route"),
                                   ProcText("/proc/net/dev"));
    metrics->Serve([conn = (*supervisor)->conn(), domain_name, labels, drives, nic,
                    iface]() -> base::Result<std::string> {
      auto stats = CollectDomainStats(conn, domain_name);
      if (!stats.ok()) return stats.status();
      std::optional<std::pair<std::string, NetCounters>> network;
      if (!nic.empty()) {
        if (auto counters = ParseNetDev(ProcText("/proc/net/dev"), iface)) {
          network.emplace(nic, *counters);
        }
      }
      return FormatMetrics(labels, *stats, drives, network);
    });
  }
  Outcome outcome = (*supervisor)->Run(domain_name, *xml, **relay);
  metrics.reset();  // before the connection it reads goes
  (*relay)->Stop();
  supervisor->reset();  // destroys whatever still runs, joins the reaper
  if (passt.has_value()) passt->Stop();
  StopLibvirtEventLoop();
  return Finish(outcome.code, outcome.message, vmi_key);
}

}  // namespace

int RunLauncher(const Options& options) {
  base::SetLogLevel(options.log_level);
  // First, while this is the only thread: the guardian stays in this process
  // (the container's first process) and the launcher proper continues in a
  // child.
  // As the container ends, however the launcher did, so do the pod's
  // containerDisk containers (storage/container_disk.h), and the pod with it.
  const std::string container_disks_dir = PodPaths(options.root).Storage("").container_disks_dir;
  auto guardian = Guardian::Fork([container_disks_dir] { StopDiskServers(container_disks_dir); });
  if (!guardian.ok()) return Finish(kExitInternal, guardian.status().message());
  auto signal_fd = TakeTerminationSignals();
  if (!signal_fd.ok()) return Finish(kExitInternal, signal_fd.status().message());
  int code = Run(options, *signal_fd, *guardian);
  close(*signal_fd);
  // The pod's postStart hook may still wait for a domain that never ran; it
  // must return before this process's parent, the container's first process,
  // ends.
  ReleaseWaiter(StateFiles(options.state_dir), options.post_start_hook, kHookReleaseLimit);
  return code;
}

}  // namespace vireo::launcher
