// The arguments of virtctl's access commands, as KubeVirt's virtctl spells
// them: a target `type/name[/namespace]` (type vm or vmi, and their long
// forms), an ssh target `[user@]type/name[/namespace]`, an scp argument
// `[user@]type/name[/namespace]:path`, and port-forward's port specs
// `[tcp/]localPort[:targetPort]`. Pure parsing, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::virtctl {

struct Target {
  std::string kind;  // "vm" or "vmi"
  std::string name;
  std::string namespace_name;  // empty: the context's
  std::string user;            // ssh/scp: empty when not given
};

// "vm/NAME", "vmi/NAME/NS", "virtualmachine/NAME", ...; kBadRequest saying
// what is wrong.
base::Result<Target> ParseTarget(std::string_view text);
// "[user@]type/name[/namespace]".
base::Result<Target> ParseSshTarget(std::string_view text);

struct PortSpec {
  int local = 0;   // 0: any free port (":80" asks for one)
  int remote = 0;  // the guest's port
};
// "8080", "8080:80", ":80", "tcp/8080:80"; UDP is refused by name.
base::Result<PortSpec> ParsePortSpec(std::string_view text);

// One side of an scp: a local path, or a path in the guest.
struct ScpArgument {
  std::optional<Target> remote;  // set for "[user@]type/name[/ns]:path"
  std::string path;
};
// A remote argument is one whose part before the first ':' parses as an ssh
// target (so "./vm/x:y" and "/tmp/a:b" stay local).
base::Result<ScpArgument> ParseScpArgument(std::string_view text);

// The host name ssh sees for a target: "vm.NAME.NS" (KubeVirt's form, so
// known_hosts entries and ssh_config Host patterns carry over).
std::string SshHost(const Target& target);

// Quotes one word for the POSIX shell that ssh runs a ProxyCommand with.
std::string ShellQuote(std::string_view word);

}  // namespace vireo::virtctl
