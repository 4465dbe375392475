// vireo-launcher's command line: the subcommands (run, console, vnc, forward,
// probe, wait-running, warm-cache, accel-probe, import), their flags and
// environment fallbacks, and the --help texts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "launcher/convert/context.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/log.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// --emulation: `on` forces TCG, `off` requires KVM, `auto` uses KVM when
// /dev/kvm works (the contract's enum, lib/api/launcher_pod.h).
using api::launcher_pod::EmulationMode;

enum class Subcommand {
  kHelp,
  kRun,
  kConsole,
  kVnc,
  kForward,
  kProbe,
  kWaitRunning,
  kWarmCache,
  kAccelProbe,
  kImport
};

inline constexpr int64_t kGraceUnbounded = -1;

struct Options {
  Subcommand subcommand = Subcommand::kHelp;
  bool help = false;  // --help after a subcommand: that subcommand's help

  std::string root;       // --root / VIREO_ROOT: prefix of every pod path
  std::string vmi_file;   // run: --vmi; default <root>/var/run/vireo/vmi/vmi.json
  std::string state_dir;  // --state-dir; default <root>/var/run/vireo/state
  EmulationMode emulation = EmulationMode::kAuto;
  // run: seconds from SIGTERM to destroying a guest that has not powered off;
  // kGraceUnbounded ("unbounded"): never, whoever sent SIGTERM ends us (the
  // kubelet, at the end of the pod's deletion grace period).
  int64_t grace_period_seconds = 30;
  // run: --post-start-hook, the pod runs `wait-running` as the container's
  // postStart hook (readiness.h: ReleaseWaiter).
  bool post_start_hook = false;
  // run: --network passt|slirp, how the guest reaches the pod network.
  UserNetBackend network = UserNetBackend::kPasstProcess;
  // run: empty = libvirt's embedded QEMU driver under the state dir; else the
  // URI of a libvirt daemon (kept for the driver comparison in bench/).
  std::string libvirt_uri;
  // console: how long to wait for console.sock to appear; wait-running: for
  // the domain to run.
  int64_t wait_seconds = 0;
  // forward: the TCP port on the pod's loopback (1-65535).
  int port = 0;
  // warm-cache: where to write the capabilities; default
  // <root>/usr/lib/vireo/qemu-capabilities.
  std::string out_dir;
  // warm-cache: probe as if /dev/kvm were absent (the host-independent cache).
  bool without_kvm = false;
  // accel-probe, import: where the kubelet reads the container's termination
  // message.
  std::string termination_log = "/dev/termination-log";
  // accel-probe: --copy-tools-to DIR, where the launcher image's static
  // busybox goes first (lib/api/launcher_pod.h); empty: nowhere.
  std::string copy_tools_to;
  // import (the importer pod, lib/api/importer_pod.h): --source, --url,
  // --claim-bytes; the pod's paths (defaults <root>/<contract path>), which
  // hidden flags point elsewhere for tests; --stall-seconds (hidden): the
  // HTTP stall timeout.
  std::string import_source;
  std::string import_url;
  int64_t claim_bytes = 0;
  std::string target_dir, target_device, source_dir, source_device, scratch_dir, image_dir;
  int64_t stall_seconds = 30;
  base::LogLevel log_level = base::LogLevel::kInfo;
};

using Environment = std::map<std::string, std::string>;
Environment ProcessEnvironment();

// args excludes argv[0]. Unknown subcommands and flags, bad values and stray
// arguments are kInvalid with a message naming them. Defaults that depend on
// the root are filled in.
base::Result<Options> ParseOptions(const std::vector<std::string>& args, const Environment& env);

// For people: the overview, or one subcommand's flags with their defaults.
std::string HelpText(Subcommand subcommand);

}  // namespace vireo::launcher
