// The command-line parser of the three programs; see flags.h.
#include "lib/base/flags.h"

#include <charconv>
#include <utility>

namespace vireo::base {

FlagSet::FlagSet(std::string context, std::string help_hint)
    : context_(std::move(context)), help_hint_(std::move(help_hint)) {}

FlagSet& FlagSet::Add(Flag flag) {
  flags_.push_back(std::move(flag));
  return *this;
}

FlagSet& FlagSet::String(std::string name, std::string* out, char short_name) {
  return Add(
      {std::move(name), short_name, false, [out](const std::string&, const std::string& value) {
         *out = value;
         return Status::Ok();
       }});
}

FlagSet& FlagSet::Bool(std::string name, bool* out, char short_name) {
  return Add(
      {std::move(name), short_name, true, [out](const std::string&, const std::string& value) {
         *out = value == "true";
         return Status::Ok();
       }});
}

FlagSet& FlagSet::AllowSingleDashLong(bool allow) {
  single_dash_long_ = allow;
  return *this;
}

const Flag* FlagSet::Find(std::string_view name, bool short_form) const {
  for (const Flag& f : flags_) {
    if (short_form ? (name.size() == 1 && f.short_name == name[0]) : f.name == name) return &f;
  }
  return nullptr;
}

Status FlagSet::Error(const std::string& message) const {
  return Status(Code::kInvalid, context_ + message + help_hint_);
}

Result<std::vector<std::string>> FlagSet::Parse(const std::vector<std::string>& args) const {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    // What the user typed for the flag (to name it in messages), its name,
    // and a value given in the same argument.
    std::string spelled, value;
    std::optional<std::string> inline_value;
    const Flag* flag = nullptr;
    if (arg[1] == '-') {
      const size_t eq = arg.find('=');
      spelled = arg.substr(0, eq);
      if (eq != std::string::npos) inline_value = arg.substr(eq + 1);
      flag = Find(std::string_view(spelled).substr(2), false);
    } else {
      // -n, -nNS, -n=NS; or, when allowed and -n is no short flag, -name[=v].
      spelled = arg.substr(0, 2);
      flag = Find(std::string_view(arg).substr(1, 1), true);
      if (flag != nullptr) {
        if (arg.size() > 2) inline_value = arg.substr(arg[2] == '=' ? 3 : 2);
      } else if (single_dash_long_) {
        const size_t eq = arg.find('=');
        spelled = arg.substr(0, eq);
        if (eq != std::string::npos) inline_value = arg.substr(eq + 1);
        flag = Find(std::string_view(spelled).substr(1), false);
      } else {
        spelled = arg.substr(0, arg.find('='));
      }
    }
    if (flag == nullptr) return Error("unknown flag " + spelled);
    if (flag->boolean) {
      value = inline_value.value_or("true");
      if (value == "1") value = "true";
      if (value == "0") value = "false";
      if (value != "true" && value != "false") {
        return Error("flag " + spelled + "=" + value + ": expected true or false");
      }
    } else if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Error("flag " + spelled + " needs a value");
    }
    if (Status s = flag->set(spelled, value); !s.ok()) return s;
  }
  return positional;
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace vireo::base
