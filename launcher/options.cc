// Parsing of vireo-launcher's subcommands and flags; see options.h.
#include "launcher/options.h"

#include <charconv>
#include <set>

#include "launcher/paths.h"
#include "lib/api/importer_pod.h"
#include "lib/api/launcher_pod.h"

extern char** environ;

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

Status Invalid(const std::string& message) { return Status(Code::kInvalid, message); }

// Which flags each subcommand accepts.
const std::set<std::string>& FlagsOf(Subcommand subcommand) {
  static const std::set<std::string> kRun = {
      "vmi",  "state-dir",   "emulation", "grace-period-seconds",
      "root", "libvirt-uri", "network",   "log-level"};
  static const std::set<std::string> kConsole = {"state-dir", "root", "wait-seconds"};
  static const std::set<std::string> kProbe = {"state-dir", "root"};
  static const std::set<std::string> kWarmCache = {"out", "root", "log-level", "without-kvm"};
  static const std::set<std::string> kAccelProbe = {"state-dir", "root", "termination-log",
                                                    "log-level"};
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
    case Subcommand::kProbe:
      return kProbe;
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

Result<int64_t> ParseSeconds(const std::string& flag, const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 0) {
    return Invalid("--" + flag + ": expected a whole number of seconds >= 0, got \"" + text + "\"");
  }
  return value;
}

Status SetFlag(Options& options, const std::string& name, const std::string& value) {
  if (name == "vmi") {
    options.vmi_file = value;
  } else if (name == "state-dir") {
    options.state_dir = value;
  } else if (name == "root") {
    options.root = value;
  } else if (name == "libvirt-uri") {
    options.libvirt_uri = value;
  } else if (name == "out") {
    options.out_dir = value;
  } else if (name == "termination-log") {
    options.termination_log = value;
  } else if (name == "source") {
    options.import_source = value;
  } else if (name == "url") {
    options.import_url = value;
  } else if (name == "target-dir") {
    options.target_dir = value;
  } else if (name == "target-device") {
    options.target_device = value;
  } else if (name == "source-dir") {
    options.source_dir = value;
  } else if (name == "source-device") {
    options.source_device = value;
  } else if (name == "scratch-dir") {
    options.scratch_dir = value;
  } else if (name == "image-dir") {
    options.image_dir = value;
  } else if (name == "claim-bytes") {
    int64_t bytes = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, bytes);
    if (ec != std::errc() || ptr != end || bytes <= 0) {
      return Invalid("--claim-bytes: expected a positive number of bytes, got \"" + value + "\"");
    }
    options.claim_bytes = bytes;
  } else if (name == "emulation") {
    auto mode = api::launcher_pod::ParseEmulationMode(value);
    if (!mode) return Invalid("--emulation: expected auto, on or off, got \"" + value + "\"");
    options.emulation = *mode;
  } else if (name == "network") {
    if (value == "passt") {
      options.network = UserNetBackend::kPasstProcess;
    } else if (value == "slirp") {
      options.network = UserNetBackend::kSlirp;
    } else {
      return Invalid("--network: expected passt or slirp, got \"" + value + "\"");
    }
  } else if (name == "grace-period-seconds" && value == "unbounded") {
    options.grace_period_seconds = kGraceUnbounded;
  } else if (name == "grace-period-seconds" || name == "wait-seconds" || name == "stall-seconds") {
    auto seconds = ParseSeconds(name, value);
    if (!seconds.ok()) return seconds.status();
    (name == "wait-seconds"    ? options.wait_seconds
     : name == "stall-seconds" ? options.stall_seconds
                               : options.grace_period_seconds) = *seconds;
  } else if (name == "log-level") {
    if (!base::ParseLogLevel(value, &options.log_level)) {
      return Invalid("--log-level: expected debug, info, warn or error, got \"" + value + "\"");
    }
  }
  return Status::Ok();
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
  } else if (command == "probe") {
    options.subcommand = Subcommand::kProbe;
  } else if (command == "warm-cache") {
    options.subcommand = Subcommand::kWarmCache;
  } else if (command == "accel-probe") {
    options.subcommand = Subcommand::kAccelProbe;
  } else if (command == "import") {
    options.subcommand = Subcommand::kImport;
  } else {
    return Invalid("unknown subcommand \"" + command +
                   "\"; expected run, console, probe, warm-cache, accel-probe or import (see "
                   "--help)");
  }
  if (auto it = env.find(kRootEnv); it != env.end()) options.root = it->second;

  const std::set<std::string>& known = FlagsOf(options.subcommand);
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    if (arg.rfind("--", 0) != 0) {
      return Invalid(command + ": unexpected argument \"" + arg + "\" (flags start with --)");
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (!known.contains(name)) {
      return Invalid(command + ": unknown flag --" + name + " (see " + command + " --help)");
    }
    if (name == "without-kvm") {  // the one boolean flag
      if (has_value && value != "true" && value != "false") {
        return Invalid("--without-kvm: expected true or false, got \"" + value + "\"");
      }
      options.without_kvm = !has_value || value == "true";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Invalid("--" + name + ": needs a value");
      value = args[++i];
    }
    if (Status s = SetFlag(options, name, value); !s.ok()) return s;
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
    case Subcommand::kProbe:
      return R"(Usage: vireo-launcher probe [flags]

Exits 0 while the domain runs, 1 otherwise (the pod's readiness probe).

Flags:
  --state-dir DIR      the launcher's state dir (default <root>/var/run/vireo/state)
  --root DIR           prefix of every pod path; env VIREO_ROOT
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
  probe        exit 0 while the domain runs (readiness)
  warm-cache   pre-populate libvirt's QEMU capabilities cache (image build)
  accel-probe  decide KVM or TCG with a short boot under KVM (the pod's
               init container with --emulation=auto)
  import       populate a DataVolume's claim (the importer pod)

`vireo-launcher SUBCOMMAND --help` lists a subcommand's flags.
)";
}

}  // namespace vireo::launcher
