// Fuzz target: lib/kube/json, the parser every apiserver reply and watch
// event goes through, and the non-throwing readers over what it returns.
#include "fuzz/fuzz_target.h"
#include "lib/kube/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vireo::kube;
  Result<Json> parsed = ParseJson(vireo::fuzz::AsText(data, size), "fuzz input");
  if (!parsed.ok()) {
    VIREO_FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const Json& value = *parsed;
  (void)KeyOf(value);
  (void)ResourceVersionOf(value);
  (void)GetInt(value, "metadata.generation");
  (void)GetBool(value, "spec.running");
  (void)GetString(value, "a.b.c.d", "fallback");
  // What we write, we can read back, and it reads as the same document.
  const std::string text = DumpJson(value);
  Result<Json> again = ParseJson(text, "fuzz output");
  VIREO_FUZZ_CHECK(again.ok());
  VIREO_FUZZ_CHECK(DumpJson(*again) == text);
  return 0;
}
