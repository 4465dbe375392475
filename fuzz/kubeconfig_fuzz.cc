// Fuzz target: kubeconfig parsing (lib/kube/config.h), YAML written by
// whoever handed the user the file. Relative file references resolve in a
// folder that does not exist, so inputs cannot reach the fuzzer's own files
// by accident.
#include "fuzz/fuzz_target.h"
#include "lib/kube/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vireo;
  std::string_view text = fuzz::AsText(data, size);
  // Text before a NUL names the context, as --context would.
  std::string context;
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    context = std::string(text.substr(0, nul));
    text.remove_prefix(nul + 1);
  }
  base::Result<kube::ClusterConfig> config =
      kube::ParseKubeconfig(std::string(text), "/nonexistent/vireo-fuzz", context);
  if (config.ok()) {
    // A config we accept can be dialled: it names an http(s) server.
    VIREO_FUZZ_CHECK(config->server.rfind("https://", 0) == 0 ||
                     config->server.rfind("http://", 0) == 0);
  } else {
    VIREO_FUZZ_CHECK(!config.status().message().empty());
  }
  return 0;
}
