// virtctl's help: the overview and each command's page; see options.h.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "virtctl/options.h"

namespace vireo::virtctl {
namespace {

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

std::optional<std::string> HelpText(std::string_view topic) {
  if (topic.empty() || topic == "help") return std::string(kOverview) + kGlobalFlags;
  auto it = Pages().find(topic);
  if (it == Pages().end()) return std::nullopt;
  return it->second + kGlobalFlags;
}

}  // namespace vireo::virtctl
