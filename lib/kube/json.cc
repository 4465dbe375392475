// Short, non-throwing reads over cpprestsdk's web::json values, and parse
// errors turned into Status values that say what was being read.
#include "lib/kube/json.h"

#include <cmath>
#include <system_error>

namespace vireo::kube {
namespace {

// Enough of a bad document to recognise it in a log, not enough to flood one.
constexpr size_t kQuotedPrefix = 200;

std::string QuotedPrefix(std::string_view text) {
  std::string out(text.substr(0, kQuotedPrefix));
  if (text.size() > kQuotedPrefix) out += "...";
  return out;
}

// cpprestsdk reads a number beyond a double's range (1e999) as infinity and
// would write it back as "inf", which no JSON parser accepts. Depth is
// bounded by the parser's own nesting limit.
bool HasNonFiniteNumber(const Json& value) {
  if (value.is_double()) return !std::isfinite(value.as_double());
  if (value.is_array()) {
    for (const Json& item : value.as_array()) {
      if (HasNonFiniteNumber(item)) return true;
    }
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.as_object()) {
      if (HasNonFiniteNumber(item)) return true;
    }
  }
  return false;
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
  if (HasNonFiniteNumber(value)) {
    return Status(Code::kInternal, "cannot parse " + std::string(what) +
                                       " as JSON (a number beyond the range of a double); it "
                                       "begins: " +
                                       QuotedPrefix(text));
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

}  // namespace vireo::kube
