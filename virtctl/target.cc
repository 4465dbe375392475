// virtctl's access targets and port specs; see target.h.
#include "virtctl/target.h"

#include "lib/base/flags.h"

namespace vireo::virtctl {

using base::Code;
using base::Status;

namespace {

Status Bad(std::string message) { return Status(Code::kBadRequest, std::move(message)); }

std::optional<std::string> NormalizeKind(std::string_view kind) {
  std::string lower;
  for (char c : kind) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "vm" || lower == "vms" || lower == "virtualmachine" || lower == "virtualmachines") {
    return "vm";
  }
  if (lower == "vmi" || lower == "vmis" || lower == "virtualmachineinstance" ||
      lower == "virtualmachineinstances") {
    return "vmi";
  }
  return std::nullopt;
}

std::optional<int> ParsePort(std::string_view text) {
  std::optional<int64_t> n = base::ParseInt64(text);
  if (!n || *n < 0 || *n > 65535) return std::nullopt;
  return static_cast<int>(*n);
}

}  // namespace

base::Result<Target> ParseTarget(std::string_view text) {
  if (text.empty()) return Bad("the target is empty: expected type/name[/namespace]");
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (parts.size() == 1) {
    return Bad("target " + quoted + " needs a type: vm/NAME or vmi/NAME[/NAMESPACE]");
  }
  if (parts.size() > 3) return Bad("target " + quoted + " has more than two '/'");
  std::optional<std::string> kind = NormalizeKind(parts[0]);
  if (!kind) {
    return Bad("target " + quoted + ": unsupported type \"" + parts[0] + "\" (vm or vmi)");
  }
  if (parts[1].empty()) return Bad("target " + quoted + ": the name is empty");
  Target target{*kind, parts[1], "", ""};
  if (parts.size() == 3) {
    if (parts[2].empty()) return Bad("target " + quoted + ": the namespace is empty");
    target.namespace_name = parts[2];
  }
  return target;
}

base::Result<Target> ParseSshTarget(std::string_view text) {
  std::string user;
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    user = std::string(text.substr(0, at));
    if (user.empty())
      return Bad("expected a user name before '@' in \"" + std::string(text) + "\"");
    text = text.substr(at + 1);
    if (text.empty()) return Bad("expected a target after '@'");
  }
  auto target = ParseTarget(text);
  if (!target.ok()) return target.status();
  target->user = user;
  return target;
}

base::Result<PortSpec> ParsePortSpec(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view protocol = text.substr(0, slash);
    if (protocol == "udp" || protocol == "UDP") {
      return Bad("port " + quoted + ": UDP is not supported, only TCP");
    }
    if (protocol != "tcp" && protocol != "TCP") {
      return Bad("port " + quoted + ": unknown protocol \"" + std::string(protocol) + "\"");
    }
    text = text.substr(slash + 1);
  }
  PortSpec spec;
  size_t colon = text.find(':');
  std::string_view local = text.substr(0, colon);
  std::string_view remote = colon == std::string_view::npos ? local : text.substr(colon + 1);
  std::optional<int> l = local.empty() && colon != std::string_view::npos ? 0 : ParsePort(local);
  std::optional<int> r = ParsePort(remote);
  if (!l || !r || *r == 0) {
    return Bad("port " + quoted + ": expected [tcp/]LOCAL[:REMOTE], ports 1-65535");
  }
  spec.local = *l;
  spec.remote = *r;
  return spec;
}

base::Result<ScpArgument> ParseScpArgument(std::string_view text) {
  ScpArgument arg;
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    std::string_view head = text.substr(0, colon);
    size_t at = head.find('@');
    std::string_view target = at == std::string_view::npos ? head : head.substr(at + 1);
    size_t slash = target.find('/');
    // Only a known type makes it remote: "/tmp/a:b" and "dir/x:y" stay local.
    if (slash != std::string_view::npos && NormalizeKind(target.substr(0, slash))) {
      auto remote = ParseSshTarget(head);
      if (!remote.ok()) return remote.status();
      arg.remote = *remote;
      arg.path = std::string(text.substr(colon + 1));
      return arg;
    }
  }
  arg.path = std::string(text);
  return arg;
}

std::string SshHost(const Target& target) {
  return target.kind + "." + target.name + "." + target.namespace_name;
}

std::string ShellQuote(std::string_view word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace vireo::virtctl
