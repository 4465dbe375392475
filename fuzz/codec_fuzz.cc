// Fuzz target: the kubevirt.io/v1 codec (lib/api/codec.h) on any JSON, as the
// controller and the launcher decode VMs and VMIs someone else wrote, then
// the defaults and the validation that run on what it decoded.
#include "fuzz/fuzz_target.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"
#include "lib/api/validation.h"
#include "lib/base/json.h"

namespace {

using namespace vireo;

// Decoding what we encoded succeeds and encodes to the same text: the codec
// never writes a document it would refuse, nor loses what it kept.
template <typename T>
void CheckStable(const T& decoded) {
  const std::string once = base::DumpJson(api::ToJson(decoded));
  base::Result<base::Json> reparsed = base::ParseJson(once, "encoded object");
  VIREO_FUZZ_CHECK(reparsed.ok());
  base::Result<T> again = api::FromJson<T>(*reparsed);
  VIREO_FUZZ_CHECK(again.ok());
  VIREO_FUZZ_CHECK(base::DumpJson(api::ToJson(*again)) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  base::Result<base::Json> json = base::ParseJson(fuzz::AsText(data, size), "fuzz input");
  if (!json.ok()) return 0;

  base::Result<api::VirtualMachineInstance> vmi = api::FromJson<api::VirtualMachineInstance>(*json);
  if (vmi.ok()) {
    CheckStable(*vmi);
    (void)api::ValidateVirtualMachineInstance(*vmi);
    api::ApplyVmiDefaults(&*vmi);
    (void)api::ValidateVirtualMachineInstance(*vmi);
    (void)api::ToJson(*vmi);
  } else {
    VIREO_FUZZ_CHECK(!vmi.status().message().empty());
  }

  base::Result<api::VirtualMachine> vm = api::FromJson<api::VirtualMachine>(*json);
  if (vm.ok()) {
    CheckStable(*vm);
    (void)api::ValidateVirtualMachine(*vm);
    (void)api::EffectiveRunStrategy(vm->spec);
    api::ApplyVmDefaults(&*vm);
    (void)api::ValidateVirtualMachine(*vm);
    (void)api::ToJson(*vm);
  }
  return 0;
}
