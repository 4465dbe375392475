// Short, non-throwing reads over cpprestsdk's web::json values, and parse
// errors turned into Status values that say what was being read.
#include "lib/base/json.h"

#include <cmath>
#include <set>
#include <system_error>

namespace vireo::base {
namespace {

// Enough of a bad document to recognise it in a log, not enough to flood one.
constexpr size_t kQuotedPrefix = 200;

std::string QuotedPrefix(std::string_view text) {
  std::string out(text.substr(0, kQuotedPrefix));
  if (text.size() > kQuotedPrefix) out += "...";
  return out;
}

// Why a parsed document cannot be trusted to mean one thing, or "". cpprestsdk
// reads a number beyond a double's range (1e999) as infinity and writes it
// back as "inf", which no parser accepts; and it keeps every copy of a key
// named twice in one object, of which a lookup finds any one (the apiserver
// reads the last). Depth is bounded by the parser's own nesting limit.
std::string Ambiguity(const Json& value) {
  if (value.is_double() && !std::isfinite(value.as_double())) {
    return "a number beyond the range of a double";
  }
  if (value.is_array()) {
    for (const Json& item : value.as_array()) {
      std::string why = Ambiguity(item);
      if (!why.empty()) return why;
    }
  } else if (value.is_object()) {
    std::set<std::string_view> keys;
    for (const auto& [key, item] : value.as_object()) {
      if (!keys.insert(key).second) {
        return "the key \"" + QuotedPrefix(key) + "\" twice in one object";
      }
      std::string why = Ambiguity(item);
      if (!why.empty()) return why;
    }
  }
  return "";
}

}  // namespace

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  std::error_code error;
  Json value;
  try {
    value = Json::parse(std::string(text), error);
  } catch (const std::exception& e) {
    // parse(text, error) should not throw; a bad_alloc on a huge document might.
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON: " + e.what());
  }
  if (error) {
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON (" +
                                       error.message() + "); it begins: " + QuotedPrefix(text));
  }
  if (std::string why = Ambiguity(value); !why.empty()) {
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON (" + why +
                                       "); it begins: " + QuotedPrefix(text));
  }
  return value;
}

std::string DumpJson(const Json& value) { return value.serialize(); }

const Json* Find(const Json& value, std::string_view dotted_path) {
  const Json* current = &value;
  while (!dotted_path.empty()) {
    size_t dot = dotted_path.find('.');
    std::string key(dotted_path.substr(0, dot));
    dotted_path = dot == std::string_view::npos ? std::string_view() : dotted_path.substr(dot + 1);
    if (!current->is_object()) return nullptr;
    const auto& object = current->as_object();
    auto it = object.find(key);
    if (it == object.end()) return nullptr;
    current = &it->second;
  }
  return current;
}

std::string GetString(const Json& value, std::string_view dotted_path, std::string fallback) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr || !found->is_string()) return fallback;
  return found->as_string();
}

std::optional<int64_t> GetInt(const Json& value, std::string_view dotted_path) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr || !found->is_number()) return std::nullopt;
  const auto& number = found->as_number();
  if (!number.is_int64()) return std::nullopt;
  return number.to_int64();
}

std::optional<bool> GetBool(const Json& value, std::string_view dotted_path) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr || !found->is_boolean()) return std::nullopt;
  return found->as_bool();
}

std::string KeyOf(const Json& o) {
  std::string ns = NamespaceOf(o);
  std::string name = NameOf(o);
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace vireo::base
