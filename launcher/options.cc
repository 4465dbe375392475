// Parsing of vireo-launcher's subcommands and flags; see options.h.
#include "launcher/options.h"

#include <optional>
#include <set>
#include <utility>

#include "launcher/paths.h"
#include "lib/api/importer_pod.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/flags.h"

extern char** environ;

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

Status Invalid(const std::string& message) { return Status(Code::kInvalid, message); }

namespace contract = api::launcher_pod;

// Which flags each subcommand accepts.
const std::set<std::string>& FlagsOf(Subcommand subcommand) {
  static const std::set<std::string> kRun = {contract::kFlagVmi,
                                             contract::kFlagStateDir,
                                             contract::kFlagEmulation,
                                             contract::kFlagGracePeriodSeconds,
                                             contract::kFlagPostStartHook,
                                             "root",
                                             "libvirt-uri",
                                             "network",
                                             "log-level"};
  static const std::set<std::string> kConsole = {contract::kFlagStateDir, "root",
                                                 contract::kFlagWaitSeconds};
  static const std::set<std::string> kVnc = {contract::kFlagStateDir, "root"};
  static const std::set<std::string> kForward = {contract::kFlagPort};
  static const std::set<std::string> kProbe = {contract::kFlagStateDir, "root"};
  static const std::set<std::string> kWaitRunning = {contract::kFlagStateDir, "root",
                                                     contract::kFlagWaitSeconds};
  static const std::set<std::string> kWarmCache = {"out", "root", "log-level", "without-kvm"};
  static const std::set<std::string> kAccelProbe = {
      contract::kFlagStateDir, "root", "termination-log", "log-level", contract::kFlagCopyToolsTo};
  static const std::set<std::string> kImport = {
      "source",      "url",        "claim-bytes",   "termination-log", "root",
      "log-level",   "target-dir", "target-device", "source-dir",      "source-device",
      "scratch-dir", "image-dir",  "stall-seconds"};
  static const std::set<std::string> kNone;
  switch (subcommand) {
    case Subcommand::kRun:
      return kRun;
    case Subcommand::kConsole:
      return kConsole;
    case Subcommand::kVnc:
      return kVnc;
    case Subcommand::kForward:
      return kForward;
    case Subcommand::kProbe:
      return kProbe;
    case Subcommand::kWaitRunning:
      return kWaitRunning;
    case Subcommand::kWarmCache:
      return kWarmCache;
    case Subcommand::kAccelProbe:
      return kAccelProbe;
    case Subcommand::kImport:
      return kImport;
    case Subcommand::kHelp:
      return kNone;
  }
  return kNone;
}

// A whole number of seconds >= 0 (the flags' names say the unit).
base::FlagSetter Seconds(int64_t* out) {
  return [out](const std::string& flag, const std::string& value) {
    std::optional<int64_t> seconds = base::ParseInt64(value);
    if (!seconds || *seconds < 0) {
      return Invalid(flag + ": expected a whole number of seconds >= 0, got \"" + value + "\"");
    }
    *out = *seconds;
    return Status::Ok();
  };
}

// Every flag of the launcher and how it sets `options`; a subcommand takes
// the ones FlagsOf names.
std::vector<base::Flag> AllFlags(Options* o) {
  auto text = [](std::string* out) -> base::FlagSetter {
    return [out](const std::string&, const std::string& value) {
      *out = value;
      return Status::Ok();
    };
  };
  auto value = [](std::string name, base::FlagSetter set) {
    return base::Flag{std::move(name), 0, false, std::move(set)};
  };
  return {
      value(contract::kFlagVmi, text(&o->vmi_file)),
      value(contract::kFlagStateDir, text(&o->state_dir)),
      value("root", text(&o->root)),
      value("libvirt-uri", text(&o->libvirt_uri)),
      value("out", text(&o->out_dir)),
      value("termination-log", text(&o->termination_log)),
      value(contract::kFlagCopyToolsTo, text(&o->copy_tools_to)),
      value("source", text(&o->import_source)),
      value("url", text(&o->import_url)),
      value("target-dir", text(&o->target_dir)),
      value("target-device", text(&o->target_device)),
      value("source-dir", text(&o->source_dir)),
      value("source-device", text(&o->source_device)),
      value("scratch-dir", text(&o->scratch_dir)),
      value("image-dir", text(&o->image_dir)),
      value("claim-bytes",
            [o](const std::string& flag, const std::string& v) {
              std::optional<int64_t> bytes = base::ParseInt64(v);
              if (!bytes || *bytes <= 0) {
                return Invalid(flag + ": expected a positive number of bytes, got \"" + v + "\"");
              }
              o->claim_bytes = *bytes;
              return Status::Ok();
            }),
      value(contract::kFlagEmulation,
            [o](const std::string& flag, const std::string& v) {
              auto mode = contract::ParseEmulationMode(v);
              if (!mode) return Invalid(flag + ": expected auto, on or off, got \"" + v + "\"");
              o->emulation = *mode;
              return Status::Ok();
            }),
      value("network",
            [o](const std::string& flag, const std::string& v) {
              if (v == "passt") {
                o->network = UserNetBackend::kPasstProcess;
              } else if (v == "slirp") {
                o->network = UserNetBackend::kSlirp;
              } else {
                return Invalid(flag + ": expected passt or slirp, got \"" + v + "\"");
              }
              return Status::Ok();
            }),
      value(contract::kFlagGracePeriodSeconds,
            [o, seconds = Seconds(&o->grace_period_seconds)](const std::string& flag,
                                                             const std::string& v) {
              if (v != contract::kGraceUnbounded) return seconds(flag, v);
              o->grace_period_seconds = kGraceUnbounded;
              return Status::Ok();
            }),
      value(contract::kFlagWaitSeconds, Seconds(&o->wait_seconds)),
      value(contract::kFlagPort,
            [o](const std::string& flag, const std::string& v) {
              std::optional<int64_t> port = base::ParseInt64(v);
              if (!port || *port < 1 || *port > 65535) {
                return Invalid(flag + ": expected a TCP port 1-65535, got \"" + v + "\"");
              }
              o->port = static_cast<int>(*port);
              return Status::Ok();
            }),
      value("stall-seconds", Seconds(&o->stall_seconds)),
      value("log-level",
            [o](const std::string& flag, const std::string& v) {
              if (!base::ParseLogLevel(v, &o->log_level)) {
                return Invalid(flag + ": expected debug, info, warn or error, got \"" + v + "\"");
              }
              return Status::Ok();
            }),
      base::Flag{contract::kFlagPostStartHook, 0, true,
                 [o](const std::string&, const std::string& v) {
                   o->post_start_hook = v == "true";
                   return Status::Ok();
                 }},
      base::Flag{"without-kvm", 0, true,
                 [o](const std::string&, const std::string& v) {
                   o->without_kvm = v == "true";
                   return Status::Ok();
                 }},
  };
}

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text(*entry);
    size_t eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return env;
}

Result<Options> ParseOptions(const std::vector<std::string>& args, const Environment& env) {
  Options options;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    options.subcommand = Subcommand::kHelp;
    return options;
  }
  const std::string& command = args[0];
  if (command == "run") {
    options.subcommand = Subcommand::kRun;
  } else if (command == "console") {
    options.subcommand = Subcommand::kConsole;
  } else if (command == contract::kVnc) {
    options.subcommand = Subcommand::kVnc;
  } else if (command == contract::kForward) {
    options.subcommand = Subcommand::kForward;
  } else if (command == "probe") {
    options.subcommand = Subcommand::kProbe;
  } else if (command == contract::kWaitRunning) {
    options.subcommand = Subcommand::kWaitRunning;
  } else if (command == "warm-cache") {
    options.subcommand = Subcommand::kWarmCache;
  } else if (command == "accel-probe") {
    options.subcommand = Subcommand::kAccelProbe;
  } else if (command == "import") {
    options.subcommand = Subcommand::kImport;
  } else {
    return Invalid("unknown subcommand \"" + command +
                   "\"; expected run, console, vnc, forward, probe, wait-running, warm-cache, "
                   "accel-probe or import (see --help)");
  }
  if (auto it = env.find(kRootEnv); it != env.end()) options.root = it->second;

  const std::set<std::string>& known = FlagsOf(options.subcommand);
  base::FlagSet flags(command + ": ", " (see " + command + " --help)");
  flags.Bool("help", &options.help, 'h');
  for (base::Flag& flag : AllFlags(&options)) {
    if (known.contains(flag.name)) flags.Add(std::move(flag));
  }
  auto positional = flags.Parse({args.begin() + 1, args.end()});
  if (!positional.ok()) return positional.status();
  if (options.help) return options;
  if (!positional->empty()) {
    return Invalid(command + ": unexpected argument \"" + positional->front() +
                   "\" (flags start with --)");
  }

  if (options.subcommand == Subcommand::kForward && options.port == 0) {
    return Invalid("forward: --port is required");
  }

  PodPaths paths(options.root);
  if (options.vmi_file.empty()) options.vmi_file = paths.VmiFile();
  if (options.state_dir.empty()) options.state_dir = paths.StateDir();
  if (options.out_dir.empty()) options.out_dir = paths.CapabilitiesCacheDir();
  if (options.subcommand == Subcommand::kImport) {
    namespace imp = api::importer;
    if (options.target_dir.empty()) options.target_dir = paths.Under(imp::kTargetDir);
    if (options.target_device.empty()) options.target_device = paths.Under(imp::kTargetDevice);
    if (options.source_dir.empty()) options.source_dir = paths.Under(imp::kSourceDir);
    if (options.source_device.empty()) options.source_device = paths.Under(imp::kSourceDevice);
    if (options.scratch_dir.empty()) options.scratch_dir = paths.Under(imp::kScratchDir);
    if (options.image_dir.empty()) options.image_dir = paths.Under(imp::kImageDir);
    const std::string& source = options.import_source;
    if (source != imp::kSourceHttp && source != imp::kSourceRegistry && source != imp::kSourcePvc &&
        source != imp::kSourceBlank) {
      return Invalid("import: --source: expected http, registry, pvc or blank, got \"" + source +
                     "\"");
    }
    if (source == imp::kSourceHttp && options.import_url.empty()) {
      return Invalid("import: --source=http needs --url");
    }
    if (source != imp::kSourceHttp && !options.import_url.empty()) {
      return Invalid("import: --url is for --source=http only");
    }
    if (options.claim_bytes <= 0) return Invalid("import: --claim-bytes is required");
  }
  return options;
}

std::string HelpText(Subcommand subcommand) {
  switch (subcommand) {
    case Subcommand::kRun:
      return R"(Usage: vireo-launcher run [flags]

Runs the VMI's guest under libvirt's QEMU driver until it powers off.
SIGTERM presses the ACPI power button, waits up to the grace period, then
destroys the guest (with "unbounded": waits until the guest powers off or the
sender of SIGTERM kills the launcher, as the kubelet does at the end of the
pod's deletion grace period). Exit codes: docs/launcher.md. The process forks: this
one stays as the pod's init (forwards signals, reaps, kills QEMU should the
other die), the child runs libvirt.

Flags:
  --vmi FILE                    the VMI as JSON (default <root>/var/run/vireo/vmi/vmi.json)
  --state-dir DIR               state: libvirt root, console socket, logs, overlays
                                (default <root>/var/run/vireo/state)
  --emulation auto|on|off       on: TCG only; off: KVM required; auto: KVM when
                                /dev/kvm can be opened (default auto)
  --grace-period-seconds N|unbounded
                                ACPI shutdown time after SIGTERM (default 30)
  --post-start-hook             the container's postStart hook is `wait-running`:
                                on exit, let it return first (up to 2 s)
  --root DIR                    prefix of every pod path (volumes, container disks,
                                image files); env VIREO_ROOT; default none
  --libvirt-uri URI             use a libvirt daemon at URI instead of the embedded
                                driver (for comparisons; default: embedded)
  --network passt|slirp         the pod network's backend: passt (its own process;
                                every port reaches the guest unless the interface
                                lists some) or QEMU's slirp (listed ports only)
                                (default passt)
  --log-level LEVEL             debug, info, warn, error (default info)
)";
    case Subcommand::kConsole:
      return R"(Usage: vireo-launcher console [flags]

Attaches stdin and stdout to the guest's serial console, raw bytes both ways.
One viewer at a time: a new one takes over and the old one is disconnected.
Ends on EOF of stdin, when the launcher ends, or on Ctrl-] when stdin is a
terminal.

Flags:
  --state-dir DIR      the launcher's state dir (default <root>/var/run/vireo/state)
  --root DIR           prefix of every pod path; env VIREO_ROOT
  --wait-seconds N     wait this long for the console to appear (default 0)
)";
    case Subcommand::kVnc:
      return R"(Usage: vireo-launcher vnc [flags]

Joins stdin and stdout to the guest's VNC display (QEMU's vnc.sock in the
state dir), raw RFB bytes both ways; what `virtctl vnc` runs. QEMU's VNC
server takes several viewers at once. Exits 1 when there is no display (the
guest is not running, or its autoattachGraphicsDevice is false).

Flags:
  --state-dir DIR      the launcher's state dir (default <root>/var/run/vireo/state)
  --root DIR           prefix of every pod path; env VIREO_ROOT
)";
    case Subcommand::kForward:
      return R"(Usage: vireo-launcher forward --port N

Joins stdin and stdout to TCP port N on the pod's loopback, which passt
forwards to the guest like the pod's address; what `virtctl port-forward`
runs, once per connection. When stdin ends the guest reads EOF and its reply
still flows. Exits 1 when nothing listens on the port (refused, or closed by
the guest before it sent a byte), saying so on stderr.

Flags:
  --port N             the guest's TCP port (1-65535; required)
)";
    case Subcommand::kProbe:
      return R"(Usage: vireo-launcher probe [flags]

Exits 0 while the domain runs, 1 otherwise (the pod's readiness probe).

Flags:
  --state-dir DIR      the launcher's state dir (default <root>/var/run/vireo/state)
  --root DIR           prefix of every pod path; env VIREO_ROOT
)";
    case Subcommand::kWaitRunning:
      return R"(Usage: vireo-launcher wait-running [flags]

Waits until the domain runs, the launcher exits, or --wait-seconds pass, and
exits 0 in every case, saying on stderr why it stopped waiting when the
domain does not run (the pod's postStart hook: a hook that fails has the
kubelet kill the container).

Flags:
  --state-dir DIR      the launcher's state dir (default <root>/var/run/vireo/state)
  --root DIR           prefix of every pod path; env VIREO_ROOT
  --wait-seconds N     wait at most this long (default 0: look once)
)";
    case Subcommand::kWarmCache:
      return R"(Usage: vireo-launcher warm-cache [flags]

Probes QEMU's capabilities once and stores libvirt's cache, so that `run`
does not probe on its start path. Run when the launcher image is built.

Flags:
  --out DIR            where to write (default <root>/usr/lib/vireo/qemu-capabilities);
                       the cache lands in DIR/kvm or DIR/tcg
  --without-kvm        probe in a private mount namespace without /dev/kvm, for
                       the tcg cache on a machine that has KVM (needs CAP_SYS_ADMIN)
  --root DIR           prefix of every pod path; env VIREO_ROOT
  --log-level LEVEL    debug, info, warn, error (default info)
)";
    case Subcommand::kAccelProbe:
      return R"(Usage: vireo-launcher accel-probe [flags]

The launcher pod's init container with --emulation=auto (launcher/accel.h):
boots a 64 KiB probe guest under KVM and writes "kvm: <why>" or
"tcg: <why>" to <state-dir>/accel, which `run --emulation=auto` follows, and
to the termination log, which the controller shows as the VMI's
SoftwareEmulation condition. Exit 0 once written.

Flags:
  --state-dir DIR         the launcher's state dir (default <root>/var/run/vireo/state)
  --termination-log FILE  the container's termination message (default /dev/termination-log)
  --copy-tools-to DIR     first copy the image's static busybox (<root>/bin/busybox)
                          to DIR/busybox, for the containerDisk containers
  --root DIR              prefix of every pod path; env VIREO_ROOT
  --log-level LEVEL       debug, info, warn, error (default info)
)";
    case Subcommand::kImport:
      return R"(Usage: vireo-launcher import [flags]

The importer pod's command (lib/api/importer_pod.h, docs/importer-pod.md):
populates a DataVolume's claim with a raw disk, disk.img on a filesystem
claim (/var/run/vireo/target) or the device of a block claim
(/dev/vireo/target). An existing disk.img is never overwritten. Progress:
JSON lines on stdout with "msg":"import progress". The termination log gets
one line: what happened. Exit codes: 0 imported (or kept), 1 failed,
2 usage, 10 source unreachable, 11 source not found, 12 invalid image,
13 too large, 14 target unusable.

Flags:
  --source http|registry|pvc|blank   where the disk comes from
  --url URL                          http: the image (http:// or https://; gzip
                                     and xz are decompressed)
  --claim-bytes N                    the claim's size in bytes (required)
  --termination-log FILE             default /dev/termination-log
  --root DIR                         prefix of every pod path; env VIREO_ROOT
  --log-level LEVEL                  debug, info, warn, error (default info)
)";
    case Subcommand::kHelp:
      break;
  }
  return R"(Usage: vireo-launcher SUBCOMMAND [flags]

The process in a Vireo launcher pod: runs one VirtualMachineInstance as a
QEMU guest through libvirt (docs/launcher-pod.md, docs/launcher.md).

Subcommands:
  run          run the VMI's guest until it powers off or SIGTERM
  console      attach stdin/stdout to the guest's serial console
  vnc          attach stdin/stdout to the guest's VNC display
  forward      attach stdin/stdout to a TCP port of the guest
  probe        exit 0 while the domain runs (readiness)
  wait-running wait for the domain to run (the pod's postStart hook)
  warm-cache   pre-populate libvirt's QEMU capabilities cache (image build)
  accel-probe  decide KVM or TCG with a short boot under KVM (the pod's
               init container with --emulation=auto)
  import       populate a DataVolume's claim (the importer pod)

`vireo-launcher SUBCOMMAND --help` lists a subcommand's flags.
)";
}

}  // namespace vireo::launcher
