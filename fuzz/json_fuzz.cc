// Fuzz target: lib/base/json, the parser every apiserver reply and watch
// event goes through, and the non-throwing readers over what it returns.
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "lib/base/json.h"

namespace {

using vireo::base::Json;

// The members a list parse leaves out here: every key that begins with 'd'.
bool Dropped(const std::string& key) { return !key.empty() && key[0] == 'd'; }

// `value` with every member Dropped names erased, at any depth.
Json WithoutDropped(const Json& value) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& item : value) out.push_back(WithoutDropped(item));
    return out;
  }
  if (!value.is_object()) return value;
  Json out = Json::object();
  for (const auto& [key, member] : value.items()) {
    if (!Dropped(key)) out[key] = WithoutDropped(member);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vireo::base;
  Result<Json> parsed = ParseJson(vireo::fuzz::AsText(data, size), "fuzz input");
  if (!parsed.ok()) {
    VIREO_FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const Json& value = *parsed;
  // Leaving members out while parsing gives what erasing them afterwards
  // gives, and never refuses a document the plain parse took.
  Result<Json> lean =
      ParseJson(vireo::fuzz::AsText(data, size), "fuzz input",
                [](int, const std::vector<std::string>& keys) { return Dropped(keys.back()); });
  VIREO_FUZZ_CHECK(lean.ok());
  VIREO_FUZZ_CHECK(*lean == WithoutDropped(value));
  (void)KeyOf(value);
  (void)ResourceVersionOf(value);
  (void)GetInt(value, "metadata.generation");
  (void)GetBool(value, "spec.running");
  (void)GetString(value, "a.b.c.d", "fallback");
  // What we write, we can read back, and from then on it reads and writes
  // as the same text. (Not from the first write: a float such as -0e2 is
  // written "-0.0", and a writer may choose another spelling than the input's.)
  const std::string text = DumpJson(value);
  Result<Json> again = ParseJson(text, "fuzz output");
  VIREO_FUZZ_CHECK(again.ok());
  const std::string settled = DumpJson(*again);
  Result<Json> third = ParseJson(settled, "fuzz output");
  VIREO_FUZZ_CHECK(third.ok());
  VIREO_FUZZ_CHECK(DumpJson(*third) == settled);
  return 0;
}
