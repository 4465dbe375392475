// The one JSON library of the tree is nlohmann/json (Debian's
// nlohmann-json3-dev, header-only: why, in README.md); these helpers make the
// common reads short and never throw on a missing or mistyped field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace vireo::base {

// Objects keep their keys sorted (std::map), so a document is written the
// same way whatever order it was built in: golden files and patches rely on it.
using Json = nlohmann::json;

// Parses text; a syntax error becomes kInternal naming `what` (e.g. "watch event").
// A document whose meaning is ambiguous (a key twice in one object, a number
// beyond a double's range) is refused the same way.
Result<Json> ParseJson(std::string_view text, std::string_view what = "JSON");
// The same, leaving out each member whose key `drop` returns true for, so it
// is never built. `keys` are the keys on the way to it, by depth: keys[1] is
// the top-level key it lies under, keys[depth] its own.
using DropKey = std::function<bool(int depth, const std::vector<std::string>& keys)>;
Result<Json> ParseJson(std::string_view text, std::string_view what, const DropKey& drop);
// Compact text. Never throws: a string that is not UTF-8 (which no parsed
// document holds, but bytes from a guest or a file might) is written with
// U+FFFD in place of each bad byte.
std::string DumpJson(const Json& value);

// An array of `size` nulls, to be filled by index.
inline Json JsonArray(size_t size) { return Json(std::vector<Json>(size)); }

// Follows a dotted path ("metadata.name"); nullptr when any step is missing or
// not an object.
const Json* Find(const Json& value, std::string_view dotted_path);
std::string GetString(const Json& value, std::string_view dotted_path, std::string fallback = "");
std::optional<int64_t> GetInt(const Json& value, std::string_view dotted_path);
std::optional<bool> GetBool(const Json& value, std::string_view dotted_path);

// metadata shortcuts
inline std::string NameOf(const Json& o) { return GetString(o, "metadata.name"); }
inline std::string NamespaceOf(const Json& o) { return GetString(o, "metadata.namespace"); }
inline std::string UidOf(const Json& o) { return GetString(o, "metadata.uid"); }
inline std::string ResourceVersionOf(const Json& o) {
  return GetString(o, "metadata.resourceVersion");
}
// "namespace/name", or "name" for cluster-scoped objects: the work-queue key.
std::string KeyOf(const Json& o);

}  // namespace vireo::base
