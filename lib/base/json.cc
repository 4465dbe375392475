// Short, non-throwing reads over nlohmann/json values, and parse errors
// turned into Status values that say what was being read.
#include "lib/base/json.h"

#include <cmath>
#include <set>
#include <vector>

namespace vireo::base {
namespace {

// Enough of a bad document to recognise it in a log, not enough to flood one.
constexpr size_t kQuotedPrefix = 200;

// Deeper documents are refused: the parser recurses once a level when the
// value is destroyed or compared, and no Kubernetes object nests this deep.
constexpr size_t kMaxDepth = 256;

std::string QuotedPrefix(std::string_view text) {
  std::string out(text.substr(0, kQuotedPrefix));
  if (text.size() > kQuotedPrefix) out += "...";
  return out;
}

// The first key named twice in one object of `text`, or "". Run only on a
// document already known to hold one, to name it.
std::string FirstDuplicateKey(std::string_view text) {
  std::string found;
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto name = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) keys.emplace_back();
    if (event == Json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == Json::parse_event_t::key && found.empty() && !keys.empty() &&
        !keys.back().insert(parsed.get<std::string>()).second) {
      found = parsed.get<std::string>();
    }
    return true;
  };
  try {
    Json ignored = Json::parse(text.begin(), text.end(), name);
  } catch (const std::exception&) {
    // The caller's parse of the same text reports what is wrong with it.
  }
  return found;
}

}  // namespace

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  return ParseJson(text, what, nullptr);
}

Result<Json> ParseJson(std::string_view text, std::string_view what, const DropKey& drop) {
  // Why a document cannot be trusted to mean one thing, found while it is
  // read: a key named twice in one object (the parser keeps the last, as the
  // apiserver does, but another reader of the text may take the first), or
  // nesting beyond kMaxDepth. A duplicate is seen by counting: an object
  // that ends with fewer members than keys were read had one. (A number
  // beyond a double's range the parser refuses itself.) Counting keeps the
  // check cheap: a list of 10,000 objects is parsed at the plain parser's
  // speed within a few per cent, with no set of names per object.
  std::string ambiguity;
  std::vector<size_t> keys_read;  // one counter per open object
  std::vector<std::string> keys;  // by depth, kept only for `drop`
  // The depth of a member being dropped: the parser still reports the starts
  // and keys inside its value (not their ends), which must not be counted.
  int dropping = -1;
  auto check = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (dropping >= 0) {
      const bool past = (event == Json::parse_event_t::key && depth == dropping) ||
                        (event == Json::parse_event_t::object_end && depth < dropping);
      if (!past) return true;
      dropping = -1;
    }
    if (drop != nullptr && event == Json::parse_event_t::key && depth >= 0) {
      keys.resize(static_cast<size_t>(depth) + 1);
      keys.back() = parsed.get<std::string>();
      if (drop(depth, keys)) {
        dropping = depth;
        return false;  // neither built nor counted
      }
    }
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_read.push_back(0);
        break;
      case Json::parse_event_t::key:
        if (!keys_read.empty()) ++keys_read.back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_read.empty()) {
          if (parsed.size() != keys_read.back() && ambiguity.empty()) {
            ambiguity =
                "the key \"" + QuotedPrefix(FirstDuplicateKey(text)) + "\" twice in one object";
          }
          keys_read.pop_back();
        }
        break;
      default:
        break;
    }
    if (depth > static_cast<int>(kMaxDepth) && ambiguity.empty()) {
      ambiguity = "nesting deeper than " + std::to_string(kMaxDepth) + " levels";
    }
    return true;
  };
  Json value;
  try {
    value = Json::parse(text.begin(), text.end(), check);
  } catch (const Json::parse_error& e) {
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON (" + e.what() +
                                       "); it begins: " + QuotedPrefix(text));
  } catch (const Json::out_of_range& e) {
    // 406: the parser's own refusal of a number beyond a double's range.
    const std::string why = e.id == 406 ? "a number beyond the range of a double" : e.what();
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON (" + why +
                                       "); it begins: " + QuotedPrefix(text));
  } catch (const std::exception& e) {
    // bad_alloc on a huge document.
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON: " + e.what());
  }
  if (!ambiguity.empty()) {
    return Status(Code::kInternal, "cannot parse " + std::string(what) + " as JSON (" + ambiguity +
                                       "); it begins: " + QuotedPrefix(text));
  }
  return value;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* Find(const Json& value, std::string_view dotted_path) {
  const Json* current = &value;
  while (!dotted_path.empty()) {
    size_t dot = dotted_path.find('.');
    std::string_view key = dotted_path.substr(0, dot);
    dotted_path = dot == std::string_view::npos ? std::string_view() : dotted_path.substr(dot + 1);
    if (!current->is_object()) return nullptr;
    auto it = current->find(key);
    if (it == current->end()) return nullptr;
    current = &*it;
  }
  return current;
}

std::string GetString(const Json& value, std::string_view dotted_path, std::string fallback) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr || !found->is_string()) return fallback;
  return found->get<std::string>();
}

std::optional<int64_t> GetInt(const Json& value, std::string_view dotted_path) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr) return std::nullopt;
  if (found->is_number_unsigned()) {
    const uint64_t n = found->get<uint64_t>();
    if (n > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(n);
  }
  if (!found->is_number_integer()) return std::nullopt;
  return found->get<int64_t>();
}

std::optional<bool> GetBool(const Json& value, std::string_view dotted_path) {
  const Json* found = Find(value, dotted_path);
  if (found == nullptr || !found->is_boolean()) return std::nullopt;
  return found->get<bool>();
}

std::string KeyOf(const Json& o) {
  std::string ns = NamespaceOf(o);
  std::string name = NameOf(o);
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace vireo::base
