// One command-line parser for the tree's three programs (vireo-controller,
// vireo-launcher, virtctl): --name=value and --name value, booleans that may
// stand alone, one-letter short forms (-n NS, -nNS, -n=NS), repeated flags,
// positional arguments anywhere (or only after "--"), and errors that name
// the flag as the user typed it. Why our own and not Boost.Program_options:
// lib/base/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::base {

// Sets what a flag controls from one value. `flag` is the flag as typed
// ("--namespace", "-n"), for the message of a bad value, which the setter
// writes in its program's words and returns as kInvalid (or any non-OK
// Status, which Parse returns as it is). Called once per occurrence, in
// order: a repeated flag's setter sees every value (the last wins, or it
// collects them).
using FlagSetter = std::function<Status(const std::string& flag, const std::string& value)>;

struct Flag {
  std::string name;     // long name without "--": "namespace"
  char short_name = 0;  // one-letter form without "-": 'n'; 0: none
  // A boolean may stand alone (--force = --force=true); its setter gets
  // "true" or "false" (true/1 and false/0 accepted). Not followed by a value
  // in the next argument: "--force false" is the flag, then an argument.
  bool boolean = false;
  FlagSetter set;
};

// The flags of one program (or one subcommand), and how it reports errors.
class FlagSet {
 public:
  // `context`: put before every message ("run: "), may be empty.
  // `help_hint`: put after the parser's own messages (" (see virtctl --help)").
  FlagSet(std::string context, std::string help_hint);

  FlagSet& Add(Flag flag);
  // Shorthands for the common kinds; each returns *this.
  FlagSet& String(std::string name, std::string* out, char short_name = 0);
  FlagSet& Bool(std::string name, bool* out, char short_name = 0);

  // Single-dash long flags as Go's flag package takes them ("-workers=2"),
  // besides "--workers=2"; off by default (then "-x" is a short flag only).
  FlagSet& AllowSingleDashLong(bool allow = true);

  // Parses `args` (no program name): every flag is handed to its setter; the
  // arguments that are not flags are returned in order, as are all after a
  // "--". A lone "-" is an argument. Errors (kInvalid):
  //   unknown flag --x          (a name not added)
  //   flag --x needs a value    (the last argument; "--x=" hands the setter
  //                             an empty value, which it may refuse)
  //   flag --x=v: expected true or false
  // each with the context and hint around it, or a setter's Status.
  Result<std::vector<std::string>> Parse(const std::vector<std::string>& args) const;

 private:
  const Flag* Find(std::string_view name, bool short_form) const;
  Status Error(const std::string& message) const;

  std::string context_;
  std::string help_hint_;
  bool single_dash_long_ = false;
  std::vector<Flag> flags_;
};

// A whole decimal number (optional leading '-'), nothing else; nullopt when
// it is not one or overflows int64.
std::optional<int64_t> ParseInt64(std::string_view text);

}  // namespace vireo::base
