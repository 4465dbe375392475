// virtctl's command line; see options.h.
#include "virtctl/options.h"

#include <charconv>
#include <map>

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

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  int64_t minutes = 0;
  if (ParseInt(text, &minutes)) {
    if (minutes < 0) return std::nullopt;
    return std::chrono::minutes(minutes);
  }
  if (text.empty()) return std::nullopt;
  int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    int64_t value = 0;
    if (!ParseInt(text.substr(start, i - start), &value)) return std::nullopt;
    size_t unit_start = i;
    while (i < text.size() && (text[i] < '0' || text[i] > '9')) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60'000;
    else if (unit == "h")
      scale = 3'600'000;
    else
      return std::nullopt;
    if (value > (int64_t{1} << 40) / scale) return std::nullopt;
    total_ms += value * scale;
  }
  return std::chrono::milliseconds(total_ms);
}

std::optional<std::string> HelpText(std::string_view topic) {
  if (topic.empty() || topic == "help") return std::string(kOverview) + kGlobalFlags;
  auto it = Pages().find(topic);
  if (it == Pages().end()) return std::nullopt;
  return it->second + kGlobalFlags;
}

base::Result<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  bool help = false;
  // The first command-specific flag of each kind, to name it when the
  // command does not take it.
  std::string first_stop_flag, first_console_flag;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    // --flag=value, --flag value, -n value, -nNS, -v2, -v=2
    std::string flag = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else if (arg.size() > 2 && arg[1] != '-') {
      flag = arg.substr(0, 2);
      value = arg.substr(2);
      has_value = true;
    }
    auto take = [&](std::string* out) -> Status {
      if (!has_value) {
        if (i + 1 >= args.size()) return Usage("flag " + flag + " needs a value");
        value = args[++i];
      }
      if (value.empty()) return Usage("flag " + flag + " needs a value");
      *out = value;
      return Status::Ok();
    };
    auto boolean = [&](bool* out) -> Status {
      if (!has_value || value == "true")
        *out = true;
      else if (value == "false")
        *out = false;
      else
        return Usage("flag " + flag + " takes true or false, not \"" + value + "\"");
      return Status::Ok();
    };
    auto duration = [&](std::chrono::milliseconds* out) -> Status {
      std::string text;
      if (Status s = take(&text); !s.ok()) return s;
      auto d = ParseDuration(text);
      if (!d)
        return Usage("flag " + flag + ": \"" + text + "\" is not a duration (e.g. 90s, 5m, 1h)");
      *out = *d;
      return Status::Ok();
    };
    auto for_stop = [&] {
      if (first_stop_flag.empty()) first_stop_flag = flag;
    };
    auto for_console = [&] {
      if (first_console_flag.empty()) first_console_flag = flag;
    };
    Status s;
    if (flag == "-h" || flag == "--help") {
      help = true;
    } else if (flag == "--kubeconfig") {
      s = take(&o.kubeconfig);
    } else if (flag == "--context") {
      s = take(&o.context);
    } else if (flag == "-n" || flag == "--namespace") {
      s = take(&o.namespace_name);
    } else if (flag == "-v" || flag == "--v") {
      std::string text;
      s = take(&text);
      int64_t level = 0;
      if (s.ok() && (!ParseInt(text, &level) || level < 0 || level > 10)) {
        s = Usage("flag -v takes a level 0-10, not \"" + text + "\"");
      }
      o.verbosity = static_cast<int>(level);
    } else if (flag == "--grace-period") {
      std::string text;
      s = take(&text);
      int64_t seconds = 0;
      if (s.ok() && (!ParseInt(text, &seconds) || seconds < 0)) {
        s = Usage("flag --grace-period takes seconds (0 or more), not \"" + text + "\"");
      }
      o.grace_period_seconds = seconds;
      for_stop();
    } else if (flag == "--force") {
      s = boolean(&o.force);
      for_stop();
    } else if (flag == "--timeout") {
      s = duration(&o.timeout);
      for_console();
    } else if (flag == "--keepalive") {
      s = duration(&o.keepalive);
      for_console();
    } else if (flag == "--linger") {
      s = duration(&o.linger);
      for_console();
    } else {
      s = Usage("unknown flag " + flag);
    }
    if (!s.ok()) return s;
  }

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
