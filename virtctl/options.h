// virtctl's command line: the command, its argument, kubectl-style global
// flags (anywhere on the line), per-command flags, and the help texts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::virtctl {

enum class Command { kHelp, kVersion, kStart, kStop, kRestart, kConsole };

struct Options {
  Command command = Command::kHelp;
  std::string help_topic;  // kHelp: "" for the overview, else a command name
  std::string name;        // the VM (start/stop/restart/console)

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
};

// args excludes the program name; the tree's one flag parser
// (lib/base/flags.h). kBadRequest with a message naming the flag or argument
// at fault.
base::Result<Options> ParseArgs(const std::vector<std::string>& args);

// Go-style durations ("90s", "5m", "1h30m", "500ms"); a bare integer is
// minutes, as KubeVirt's `virtctl console --timeout` takes it. The tree's
// one duration parser (lib/base/duration.h) with virtctl's bare unit.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The overview for "" or "help", else the command's page; nullopt for an
// unknown topic.
std::optional<std::string> HelpText(std::string_view topic);

}  // namespace vireo::virtctl
