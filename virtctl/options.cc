// virtctl's command line; see options.h.
#include "virtctl/options.h"

#include <algorithm>
#include <map>
#include <set>

#include "lib/base/duration.h"
#include "lib/base/flags.h"
#include "virtctl/create.h"

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
      {"vnc", R"(Usage: virtctl vnc NAME [-n NS] [--proxy-only] [--port N] [--address A]

Opens the VNC display of the running VirtualMachineInstance NAME (or
vm/NAME[/NS], vmi/NAME[/NS]) through its launcher pod (pods/exec, as the
console). virtctl listens on a local port and starts a viewer on it
(remote-viewer, else vncviewer, from PATH); with --proxy-only it prints
{"port":N} and waits for one viewer of your own. It exits when that viewer
disconnects. The display needs spec.domain.devices.autoattachGraphicsDevice
not false (the default gives one).

Flags:
  --proxy-only          only proxy: print {"port":N}, start no viewer
  --port N              the local port (default: any free one)
  --address A           the local address to listen on (default 127.0.0.1)
  --keepalive DURATION  WebSocket ping interval (default 30s; 0: none)
)"},
      {"port-forward",
       R"(Usage: virtctl port-forward TYPE/NAME[/NS] [tcp/]LOCAL[:REMOTE]... [--stdio]

Forwards local TCP ports to the guest of a running VM (vm/NAME) or VMI
(vmi/NAME). Every connection to LOCAL is joined to the guest's port REMOTE
(default: the same number; ":REMOTE" picks a free local port) through the
launcher pod (pods/exec, one stream per connection) and the pod's network
(passt), so the guest sees it come from its gateway, 10.0.2.1. Runs until
interrupted; a connection the guest refuses is reported and closed, the
others go on. A port the VM's interface does not forward (it lists ports and
not this one) cannot be reached.

With --stdio the one port is joined to stdin and stdout instead (ssh's
ProxyCommand), and virtctl exits when the connection ends: 0, or 7 when
nothing listens on the port.

Flags:
  --stdio               join one port to stdin/stdout
  --address A           the local address to listen on (default 127.0.0.1)
  --keepalive DURATION  WebSocket ping interval (default 30s; 0: none)
)"},
      {"ssh", R"(Usage: virtctl ssh [flags] [USER@]TYPE/NAME[/NS]

Runs the system's ssh to the guest of a running VM (vm/NAME) or VMI, its
connection carried by `virtctl port-forward --stdio` (a ProxyCommand), so the
guest needs no Service. ssh sees the host name TYPE.NAME.NS (vm.web.default):
known_hosts entries and ssh_config Host patterns use it. The exit code is
ssh's.

Flags:
  -l, --username USER        the user in the guest (USER@ in the target wins;
                             default: ssh's, your local user)
  -i, --identity-file PATH   the private key (default: ssh's)
  -p, --port N               the guest's ssh port (default 22)
  -c, --command CMD          run CMD instead of a login shell
  -t, --local-ssh-opts OPT   one more argument for ssh, repeatable
                             (-t "-o StrictHostKeyChecking=no")
  --known-hosts PATH         ssh's UserKnownHostsFile
)"},
      {"scp", R"(Usage: virtctl scp [flags] SOURCE DESTINATION

Copies files between this machine and the guest of a running VM with the
system's scp, carried as virtctl ssh is. One side is [USER@]TYPE/NAME[/NS]:PATH
(vm/web:/tmp/x, alice@vmi/db/prod:backup.tar); the other a local path.

Flags:
  -r, --recursive            copy directories
  --preserve                 keep modification times and modes (scp -p)
  -l, --username, -i, --identity-file, -p, --port, -t, --local-ssh-opts,
  --known-hosts              as for ssh
)"},
      {"create", R"(Usage: virtctl create vm|instancetype|preference [flags] [-n NS]

Prints a manifest (YAML) for kubectl apply -f -, as KubeVirt's virtctl create
does. It contacts no cluster and needs no kubeconfig. -n NS sets
metadata.namespace (and makes an instance type or preference namespaced).
A KubeVirt flag Vireo does not support is refused by name (exit 2).

create vm:
  --name NAME                   default vm-XXXXX
  --run-strategy S              Always (default), RerunOnFailure, Manual, Halted, Once
  --termination-grace-period N  seconds (default 180)
  --memory Q                    the guest's memory (default 512Mi); not with --instancetype
  --instancetype [KIND/]NAME    KIND virtualmachineclusterinstancetype (default) or
                                virtualmachineinstancetype
  --preference [KIND/]NAME      KIND virtualmachineclusterpreference (default) or
                                virtualmachinepreference
  --volume-containerdisk src:IMAGE[,name:N][,bootorder:N]
  --volume-pvc src:CLAIM[,name:N][,bootorder:N]
  --volume-import type:http,url:URL,size:Q[,name:N][,bootorder:N]
                  type:registry,url:docker://IMAGE,size:Q[,pullmethod:pod|node]...
                  type:pvc,src:NAMESPACE/CLAIM[,size:Q]...   type:blank,size:Q...
  --volume-blank size:Q[,name:N], --volume-clone-pvc src:NAMESPACE/CLAIM
                                KubeVirt's older forms of --volume-import
  --cloud-init-user-data B64, --cloud-init-network-data B64
                                cloudInitNoCloud data (the volume cloudinitdisk)
  --user U, --ssh-key KEY[,KEY], --password-file F
                                user data made from these instead
  --cloud-init nocloud|none     none: no cloud-init volume
  Volume flags may be repeated. Only volumes with a bootorder get a disk in
  the manifest, as in KubeVirt; Vireo gives the others theirs when it starts
  the VM.

create instancetype --cpu N --memory Q [--name NAME] [--namespaced]
  A VirtualMachineClusterInstancetype (VirtualMachineInstancetype with
  --namespaced or -n), default name clusterinstancetype-XXXXX.

create preference [--cpu-topology T] [--machine-type M] [--name NAME] [--namespaced]
  A VirtualMachineClusterPreference (or VirtualMachinePreference); T is
  sockets, cores, threads, spread or any; M is q35 or pc-q35-*.
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
  vnc NAME       open the VM's VNC display in a viewer (or --proxy-only)
  port-forward vm/NAME PORT...   forward local TCP ports to the guest
  ssh [USER@]vm/NAME             ssh into the guest (the system's ssh)
  scp SRC DST                    copy files to or from the guest (the system's scp)
  create vm|instancetype|preference  print a manifest for kubectl apply -f -
  version        client and server versions
  help COMMAND   the page of a command

Exit codes: 0 done; 1 failure (cluster unreachable, unexpected reply); 2 usage;
3 the VM or VMI does not exist; 4 refused (already in that state, or its
runStrategy does not allow it); 5 permission denied; 6 timed out waiting;
7 the console, VNC or forwarded connection failed or broke; 8 the VM is not
running, or has no VNC display. ssh and scp exit with ssh's code. See
docs/virtctl.md.
)";

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto d = base::ParseDuration(text, std::chrono::minutes(1));
  if (!d.ok()) return std::nullopt;
  return *d;
}

base::Result<Params> ParseParams(std::string_view flag, std::string_view text) {
  if (text.empty()) return Usage("flag " + std::string(flag) + ": params may not be empty");
  Params params;
  for (size_t begin = 0; begin <= text.size();) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view piece = text.substr(begin, end - begin);
    const size_t colon = piece.find(':');
    if (colon == std::string_view::npos) {
      return Usage("flag " + std::string(flag) + ": param \"" + std::string(piece) +
                   "\" has no colon; write key:value,key:value");
    }
    params[std::string(piece.substr(0, colon))] = std::string(piece.substr(colon + 1));
    begin = end + 1;
  }
  return params;
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
  // Each command-specific flag as typed, with the commands that take it; the
  // first one the command does not take is named in the error.
  using Commands = std::set<Command>;
  std::vector<std::pair<std::string, Commands>> used;
  const Commands kPower = {Command::kStop, Command::kRestart};
  const Commands kStreams = {Command::kConsole, Command::kVnc, Command::kPortForward};
  const Commands kListen = {Command::kVnc, Command::kPortForward};
  const Commands kSshLike = {Command::kSsh, Command::kScp};
  auto text = [](std::string* out) -> base::FlagSetter {
    return [out](const std::string& flag, const std::string& value) {
      if (value.empty()) return Usage("flag " + flag + " needs a value");
      *out = value;
      return Status::Ok();
    };
  };
  // A flag only some commands take.
  auto only = [&used](Commands commands, base::FlagSetter set) -> base::FlagSetter {
    return [&used, commands, set](const std::string& flag, const std::string& value) {
      used.emplace_back(flag, commands);
      return set(flag, value);
    };
  };
  auto boolean = [](bool* out) -> base::FlagSetter {
    return [out](const std::string&, const std::string& value) {
      *out = value == "true";
      return Status::Ok();
    };
  };
  auto duration = [&](std::chrono::milliseconds* out) -> base::FlagSetter {
    return [out](const std::string& flag, const std::string& value) {
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
            only(kPower,
                 [&](const std::string& flag, const std::string& value) {
                   if (value.empty()) return Usage("flag " + flag + " needs a value");
                   std::optional<int64_t> seconds = base::ParseInt64(value);
                   if (!seconds || *seconds < 0) {
                     return Usage("flag " + flag + " takes seconds (0 or more), not \"" + value +
                                  "\"");
                   }
                   o.grace_period_seconds = *seconds;
                   return Status::Ok();
                 })})
      .Add({"force", 0, true, only(kPower, boolean(&o.force))})
      .Add({"timeout", 0, false, only({Command::kConsole}, duration(&o.timeout))})
      .Add({"keepalive", 0, false, only(kStreams, duration(&o.keepalive))})
      .Add({"linger", 0, false, only({Command::kConsole}, duration(&o.linger))})
      .Add({"address", 0, false, only(kListen, text(&o.address))})
      .Add({"proxy-only", 0, true, only({Command::kVnc}, boolean(&o.proxy_only))})
      .Add({"stdio", 0, true, only({Command::kPortForward}, boolean(&o.stdio))})
      .Add({"port", 'p', false,
            only({Command::kVnc, Command::kSsh, Command::kScp},
                 [&](const std::string& flag, const std::string& value) {
                   std::optional<int64_t> port = base::ParseInt64(value);
                   if (!port || *port < 0 || *port > 65535) {
                     return Usage("flag " + flag + " takes a port 0-65535, not \"" + value + "\"");
                   }
                   o.port = static_cast<int>(*port);
                   return Status::Ok();
                 })})
      .Add({"username", 'l', false, only(kSshLike, text(&o.username))})
      .Add({"identity-file", 'i', false, only(kSshLike, text(&o.identity_file))})
      .Add({"known-hosts", 0, false, only(kSshLike, text(&o.known_hosts))})
      .Add({"local-ssh-opts", 't', false,
            only(kSshLike,
                 [&](const std::string& flag, const std::string& value) {
                   if (value.empty()) return Usage("flag " + flag + " needs a value");
                   o.ssh_options.push_back(value);
                   return Status::Ok();
                 })})
      .Add({"command", 'c', false, only({Command::kSsh}, text(&o.remote_command))})
      .Add({"recursive", 'r', true, only({Command::kScp}, boolean(&o.recursive))})
      .Add({"preserve", 0, true, only({Command::kScp}, boolean(&o.preserve))});
  // All of KubeVirt's create flags, collected as given; which kind takes
  // which, and the ones Vireo refuses, are checked with the kind below.
  for (const CreateFlag& f : kCreateFlags) {
    flags.Add({std::string(f.name), 0, f.boolean,
               only({Command::kCreate},
                    [&o, name = std::string(f.name)](const std::string&, const std::string& value) {
                      o.create_flags.emplace_back(name, value);
                      return Status::Ok();
                    })});
  }
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
      {"vnc", Command::kVnc},         {"port-forward", Command::kPortForward},
      {"ssh", Command::kSsh},         {"scp", Command::kScp},
      {"version", Command::kVersion}, {"create", Command::kCreate},
  };
  auto it = commands.find(command);
  if (it == commands.end()) return Usage("unknown command \"" + command + "\"");
  o.command = it->second;
  if (help) {
    o.help_topic = command;
    o.command = Command::kHelp;
    return o;
  }
  for (const auto& [flag, takers] : used) {
    if (takers.contains(o.command)) continue;
    std::vector<std::string> names;
    for (const auto& [name, value] : commands) {
      if (takers.contains(value)) names.push_back(name);
    }
    std::string list;
    for (size_t i = 0; i < names.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    }
    return Usage("flag " + flag + " is for " + list);
  }
  const size_t count = positional.size() - 1;
  switch (o.command) {
    case Command::kVersion:
      if (count > 0) return Usage("version takes no arguments");
      return o;
    case Command::kPortForward: {
      if (count < 2) return Usage("port-forward needs a target (vm/NAME) and at least one port");
      auto target = ParseTarget(positional[1]);
      if (!target.ok()) return Usage(target.status().message());
      o.target = *target;
      for (size_t i = 2; i < positional.size(); ++i) {
        auto port = ParsePortSpec(positional[i]);
        if (!port.ok()) return Usage(port.status().message());
        o.ports.push_back(*port);
      }
      if (o.stdio && o.ports.size() != 1) return Usage("--stdio forwards exactly one port");
      o.name = o.target.name;
      return o;
    }
    case Command::kSsh: {
      if (o.port == 0) return Usage("ssh: --port takes the guest's port, 1-65535");
      if (count != 1) return Usage("ssh takes one target, [user@]vm/NAME[/NAMESPACE]");
      auto target = ParseSshTarget(positional[1]);
      if (!target.ok()) return Usage(target.status().message());
      o.target = *target;
      o.name = o.target.name;
      return o;
    }
    case Command::kScp: {
      if (o.port == 0) return Usage("scp: --port takes the guest's port, 1-65535");
      if (count != 2) return Usage("scp takes a source and a destination");
      auto from = ParseScpArgument(positional[1]);
      if (!from.ok()) return Usage(from.status().message());
      auto to = ParseScpArgument(positional[2]);
      if (!to.ok()) return Usage(to.status().message());
      if (from->remote.has_value() == to->remote.has_value()) {
        return Usage(
            "scp copies between this machine and one VM: exactly one of source and "
            "destination is [user@]vm/NAME[/NAMESPACE]:PATH");
      }
      o.scp_from = *from;
      o.scp_to = *to;
      o.target = from->remote ? *from->remote : *to->remote;
      o.name = o.target.name;
      return o;
    }
    case Command::kCreate: {
      if (count != 1) return Usage("create takes one kind: vm, instancetype or preference");
      const std::string& kind = positional[1];
      const unsigned bit = kind == "vm"             ? kCreateVm
                           : kind == "instancetype" ? kCreateInstancetype
                           : kind == "preference"   ? kCreatePreference
                                                    : 0;
      if (kind == "clone") return Usage("create clone: Vireo has no VirtualMachineClone");
      if (bit == 0)
        return Usage("create makes vm, instancetype or preference, not \"" + kind + "\"");
      for (const auto& [flag_name, value] : o.create_flags) {
        // A named copy: clang before 16 cannot capture a structured binding.
        const std::string& name = flag_name;
        const CreateFlag* f = std::find_if(std::begin(kCreateFlags), std::end(kCreateFlags),
                                           [&](const CreateFlag& c) { return c.name == name; });
        if ((f->kinds & bit) == 0) return Usage("flag --" + name + " is not one of create " + kind);
        // A switch turned off asks for what Vireo does anyway
        // (--infer-instancetype=false).
        const bool switched_off = f->boolean && value == "false";
        if (!f->why.empty() && !switched_off)
          return Usage("flag --" + name + ": Vireo does not support it: " + std::string(f->why));
        // An empty --ssh-key adds no key, as in KubeVirt.
        if (!f->boolean && value.empty() && name != "ssh-key")
          return Usage("flag --" + name + " needs a value");
      }
      o.create_kind = kind;
      return o;
    }
    default:
      break;
  }
  if (count < 1) return Usage(command + " needs the name of a VM");
  if (count > 1) return Usage(command + " takes one VM name, got " + std::to_string(count));
  o.name = positional[1];
  if (o.command == Command::kVnc && o.name.find('/') != std::string::npos) {
    auto target = ParseTarget(o.name);
    if (!target.ok()) return Usage(target.status().message());
    o.target = *target;
    o.name = target->name;
  }
  return o;
}

}  // namespace vireo::virtctl
