// The one JSON library of the tree is cpprestsdk's web::json; these helpers
// make the common reads short and never throw on a missing or mistyped field.
#pragma once

#include <cpprest/json.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::base {

using Json = web::json::value;

// Parses text; a syntax error becomes kInternal naming `what` (e.g. "watch event").
Result<Json> ParseJson(std::string_view text, std::string_view what = "JSON");
std::string DumpJson(const Json& value);

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
