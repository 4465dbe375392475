// virtctl's command line; see options.h.
#include "virtctl/options.h"

#include <map>

#include "lib/base/duration.h"
#include "lib/base/flags.h"

namespace vireo::virtctl {

using base::Code;
using base::Status;

namespace {

Status Usage(std::string message) {
  return Status(Code::kBadRequest, message + " (see 'virtctl --help')");
}

constexpr char kGlobalFlags[] = R"(
Global flags (as kubectl's):
  --kubeconfig PATH      kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME         kubeconfig context (default: its current-context)
  -n, --namespace NS     namespace of the VM (default: the context's, else "default")
  -v N                   log each API request on stderr when N >= 1
  -h, --help             this help
)";

const std::map<std::string, std::string, std::less<>>& Pages() {
  static const std::map<std::string, std::string, std::less<>> pages = {
      {"start", R"(Usage: virtctl start NAME [-n NS]

Starts the VirtualMachine NAME. How depends on its spec.runStrategy:
  Halted          becomes Always (the VM runs and is kept running)
  Manual          a Start request is added to its status; the controller
                  makes a new VMI (an ended one is replaced)
  RerunOnFailure  a Start request, as Manual (refused after a failure: the
                  controller restarts those by itself)
  Always, Once    refused: the controller starts these by itself
A VM whose VMI is running already is refused with "VM is already running".
)"},
      {"stop", R"(Usage: virtctl stop NAME [-n NS] [--grace-period N [--force]]

Stops the VirtualMachine NAME: the guest gets an ACPI power-button press and
the VMI's grace period (spec.terminationGracePeriodSeconds, 30 s by default)
to power off, then it is stopped hard. How depends on spec.runStrategy:
  Always, Once    becomes Halted
  Manual, RerunOnFailure  a Stop request for the running VMI is added to the
                  VM's status; the runStrategy stays
  Halted          only with a --grace-period shorter than the VMI's
A VM with no running VMI is refused with "VM is not running".

Flags:
  --grace-period N   seconds the guest gets to power off (patches the VMI first)
  --force            with --grace-period=0: also delete the launcher pod at once,
                     without waiting for the guest (data in its caches is lost)
)"},
      {"restart", R"(Usage: virtctl restart NAME [-n NS] [--force --grace-period=0]

Restarts the VirtualMachine NAME: its VMI is stopped (gracefully) and a new one,
with a new UID, is started from the VM's template. Refused for runStrategy
Halted and Once, and when the VM has no VMI.

Flags:
  --force --grace-period=0   delete the launcher pod at once instead of waiting
                             for the guest to power off
)"},
      {"console", R"(Usage: virtctl console NAME [-n NS] [--timeout 5m]

Connects to the serial console of the VirtualMachine (or VirtualMachineInstance)
NAME. Waits for its VMI to run, then attaches to the console through the
launcher pod (pods/exec). One viewer at a time: a new one takes over.

On a terminal, keys go to the guest as typed (Ctrl+C included); Ctrl+] leaves.
When stdin is not a terminal the input is sent as it is (Ctrl+] does not
leave); when it ends, output is shown for --linger more, then virtctl exits.

Flags:
  --timeout DURATION    how long to wait for the VMI to run (default 5m; a bare
                        number is minutes)
  --keepalive DURATION  WebSocket ping interval (default 30s; 0: none); a ping
                        unanswered for as long ends the console (exit 7)
  --linger DURATION     after piped input ends, keep showing output this long (default 1s)
)"},
      {"version", R"(Usage: virtctl version

Prints the client's version and the Kubernetes version of the server.
)"},
  };
  return pages;
}

constexpr char kOverview[] =
    R"(virtctl controls Vireo's virtual machines (kubevirt.io/v1 VirtualMachines).

Usage: virtctl COMMAND NAME [flags]

Commands:
  start NAME     start a stopped VM
  stop NAME      stop a running VM (graceful power-off)
  restart NAME   stop the VM's VMI and start a new one
  console NAME   attach to the VM's serial console (Ctrl+] leaves)
  version        client and server versions
  help COMMAND   the page of a command

Exit codes: 0 done; 1 failure (cluster unreachable, unexpected reply); 2 usage;
3 the VM or VMI does not exist; 4 refused (already in that state, or its
runStrategy does not allow it); 5 permission denied; 6 timed out waiting;
7 the console connection failed or broke. See docs/virtctl.md.
)";

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto d = base::ParseDuration(text, std::chrono::minutes(1));
  if (!d.ok()) return std::nullopt;
  return *d;
}

std::optional<std::string> HelpText(std::string_view topic) {
  if (topic.empty() || topic == "help") return std::string(kOverview) + kGlobalFlags;
  auto it = Pages().find(topic);
  if (it == Pages().end()) return std::nullopt;
  return it->second + kGlobalFlags;
}

base::Result<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  bool help = false;
  // The first command-specific flag of each kind, to name it when the
  // command does not take it.
  std::string first_stop_flag, first_console_flag;
  auto note = [](std::string* first, const std::string& flag) {
    if (first->empty()) *first = flag;
  };
  auto text = [](std::string* out) -> base::FlagSetter {
    return [out](const std::string& flag, const std::string& value) {
      if (value.empty()) return Usage("flag " + flag + " needs a value");
      *out = value;
      return Status::Ok();
    };
  };
  auto duration = [&](std::chrono::milliseconds* out) -> base::FlagSetter {
    return [&, out](const std::string& flag, const std::string& value) {
      note(&first_console_flag, flag);
      if (value.empty()) return Usage("flag " + flag + " needs a value");
      auto d = base::ParseDuration(value, std::chrono::minutes(1));
      if (!d.ok()) return Usage("flag " + flag + ": " + d.status().message());
      *out = *d;
      return Status::Ok();
    };
  };
  // Global flags as kubectl spells them, then the commands' own; anywhere on
  // the line.
  base::FlagSet flags("", " (see 'virtctl --help')");
  flags.Bool("help", &help, 'h')
      .Add({"kubeconfig", 0, false, text(&o.kubeconfig)})
      .Add({"context", 0, false, text(&o.context)})
      .Add({"namespace", 'n', false, text(&o.namespace_name)})
      .Add({"v", 'v', false,
            [&](const std::string& flag, const std::string& value) {
              std::optional<int64_t> level = base::ParseInt64(value);
              if (!level || *level < 0 || *level > 10) {
                return Usage("flag " + flag + " takes a level 0-10, not \"" + value + "\"");
              }
              o.verbosity = static_cast<int>(*level);
              return Status::Ok();
            }})
      .Add({"grace-period", 0, false,
            [&](const std::string& flag, const std::string& value) {
              note(&first_stop_flag, flag);
              if (value.empty()) return Usage("flag " + flag + " needs a value");
              std::optional<int64_t> seconds = base::ParseInt64(value);
              if (!seconds || *seconds < 0) {
                return Usage("flag " + flag + " takes seconds (0 or more), not \"" + value + "\"");
              }
              o.grace_period_seconds = *seconds;
              return Status::Ok();
            }})
      .Add({"force", 0, true,
            [&](const std::string& flag, const std::string& value) {
              note(&first_stop_flag, flag);
              o.force = value == "true";
              return Status::Ok();
            }})
      .Add({"timeout", 0, false, duration(&o.timeout)})
      .Add({"keepalive", 0, false, duration(&o.keepalive)})
      .Add({"linger", 0, false, duration(&o.linger)});
  auto parsed = flags.Parse(args);
  // Every usage error is kBadRequest (exit 2), the parser's own included.
  if (!parsed.ok()) return Status(Code::kBadRequest, parsed.status().message());
  const std::vector<std::string>& positional = *parsed;

  if (positional.empty()) {
    o.command = Command::kHelp;
    return o;
  }
  const std::string& command = positional[0];
  if (command == "help") {
    if (positional.size() > 2) return Usage("help takes one command name");
    o.command = Command::kHelp;
    o.help_topic = positional.size() == 2 ? positional[1] : "";
    if (!HelpText(o.help_topic))
      return Usage("no help for unknown command \"" + o.help_topic + "\"");
    return o;
  }
  static const std::map<std::string, Command, std::less<>> commands = {
      {"start", Command::kStart},     {"stop", Command::kStop},
      {"restart", Command::kRestart}, {"console", Command::kConsole},
      {"version", Command::kVersion},
  };
  auto it = commands.find(command);
  if (it == commands.end()) return Usage("unknown command \"" + command + "\"");
  o.command = it->second;
  if (help) {
    o.help_topic = command;
    o.command = Command::kHelp;
    return o;
  }
  if (o.command == Command::kVersion) {
    if (positional.size() > 1) return Usage("version takes no arguments");
  } else {
    if (positional.size() < 2) return Usage(command + " needs the name of a VM");
    if (positional.size() > 2)
      return Usage(command + " takes one VM name, got " + std::to_string(positional.size() - 1));
    o.name = positional[1];
  }
  bool power = o.command == Command::kStop || o.command == Command::kRestart;
  if (!first_stop_flag.empty() && !power)
    return Usage("flag " + first_stop_flag + " is for stop and restart");
  if (!first_console_flag.empty() && o.command != Command::kConsole) {
    return Usage("flag " + first_console_flag + " is for console");
  }
  return o;
}

}  // namespace vireo::virtctl
