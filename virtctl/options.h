// virtctl's command line: the command, its argument, kubectl-style global
// flags (anywhere on the line), per-command flags, and the help texts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/status.h"
#include "virtctl/target.h"

namespace vireo::virtctl {

enum class Command {
  kHelp,
  kVersion,
  kStart,
  kStop,
  kRestart,
  kConsole,
  kVnc,
  kPortForward,
  kSsh,
  kScp,
  kCreate,
};

struct Options {
  Command command = Command::kHelp;
  std::string help_topic;  // kHelp: "" for the overview, else a command name
  std::string name;        // the VM (start/stop/restart/console/vnc)

  // Global, as kubectl spells them.
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;  // empty: the context's namespace
  int verbosity = 0;           // -v N; 1 or more logs each request on stderr

  // stop, restart
  std::optional<int64_t> grace_period_seconds;
  bool force = false;

  // console
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds keepalive{std::chrono::seconds(30)};
  std::chrono::milliseconds linger{std::chrono::seconds(1)};

  // vnc, port-forward: the local address to listen on.
  std::string address = "127.0.0.1";
  // vnc: print {"port":N} and only proxy, start no viewer.
  bool proxy_only = false;
  // vnc: the local port (unset: any free one); ssh, scp: the guest's port
  // (unset: 22).
  std::optional<int> port;

  // port-forward, ssh: the VM or VMI (Target.namespace_name empty: the
  // context's namespace). scp: the remote side's.
  Target target;
  // port-forward: one or more; with --stdio exactly one.
  std::vector<PortSpec> ports;
  bool stdio = false;

  // ssh, scp: handed to the system's ssh/scp.
  std::string username;                  // -l; the target's user@ wins
  std::string identity_file;             // -i
  std::string known_hosts;               // --known-hosts: UserKnownHostsFile
  std::vector<std::string> ssh_options;  // -t/--local-ssh-opts, each one argument
  std::string remote_command;            // ssh -c
  // scp: the two sides, one of them in the guest.
  ScpArgument scp_from, scp_to;
  bool recursive = false;  // scp -r
  bool preserve = false;   // scp --preserve (-p to scp)

  // create: the kind ("vm", "instancetype", "preference") and the create
  // flags as given, in order: {name without "--", value} per occurrence
  // (booleans as "true"/"false"). create.h makes the manifest from them.
  std::string create_kind;
  std::vector<std::pair<std::string, std::string>> create_flags;
};

// args excludes the program name; the tree's one flag parser
// (lib/base/flags.h). kBadRequest with a message naming the flag or argument
// at fault.
base::Result<Options> ParseArgs(const std::vector<std::string>& args);

// Go-style durations ("90s", "5m", "1h30m", "500ms"); a bare integer is
// minutes, as KubeVirt's `virtctl console --timeout` takes it. The tree's
// one duration parser (lib/base/duration.h) with virtctl's bare unit.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// KubeVirt's params syntax of create's volume flags, "key:value,key:value":
// each piece is split at its first colon (a value may hold more:
// url:docker://a/b:1); a key given twice keeps its last value. Empty text or
// a piece without a colon is kBadRequest naming `flag` ("--volume-pvc").
using Params = std::map<std::string, std::string, std::less<>>;
base::Result<Params> ParseParams(std::string_view flag, std::string_view text);

// The overview for "" or "help", else the command's page; nullopt for an
// unknown topic.
std::optional<std::string> HelpText(std::string_view topic);

}  // namespace vireo::virtctl
