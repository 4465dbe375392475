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
