// Fuzz target: cloud-init data handling, the user's userData/networkData on
// their way into the NoCloud seed (launcher/storage/cloud_init.h) and the
// networkData check against the guest's NIC names (lib/api/network_data.h).
// The first byte picks where the rest goes: a whole VMI as JSON, or the
// text of one field of a fixed VMI with two NICs.
#include "fuzz/fuzz_target.h"
#include "launcher/storage/cloud_init.h"
#include "lib/api/codec.h"
#include "lib/api/network_data.h"
#include "lib/base/json.h"

namespace {

using namespace vireo;

constexpr char kBaseVmi[] = R"({
  "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
  "metadata": {"name": "fuzz", "namespace": "default", "uid": "u-1"},
  "spec": {
    "domain": {"devices": {"interfaces": [
      {"name": "default", "masquerade": {}},
      {"name": "second", "bridge": {}, "macAddress": "02:00:00:00:00:02"}]}},
    "networks": [{"name": "default", "pod": {}}, {"name": "second", "pod": {}}],
    "volumes": [{"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config\n"}}]
  }
})";

const api::VirtualMachineInstance& BaseVmi() {
  static const api::VirtualMachineInstance vmi = [] {
    base::Result<base::Json> json = base::ParseJson(kBaseVmi, "base VMI");
    VIREO_FUZZ_CHECK(json.ok());
    base::Result<api::VirtualMachineInstance> decoded =
        api::FromJson<api::VirtualMachineInstance>(*json);
    VIREO_FUZZ_CHECK(decoded.ok());
    return *decoded;
  }();
  return vmi;
}

void Exercise(const api::VirtualMachineInstance& vmi) {
  (void)api::GuestNicNames(vmi.spec);
  for (const std::string& problem : api::NetworkDataProblems(vmi.spec)) {
    VIREO_FUZZ_CHECK(!problem.empty());
  }
  for (const api::Volume& volume : vmi.spec.volumes) {
    if (!volume.cloud_init_no_cloud) continue;
    base::Result<launcher::NoCloudSeed> seed =
        launcher::MakeNoCloudSeed(vmi, volume.name, *volume.cloud_init_no_cloud);
    if (seed.ok()) {
      VIREO_FUZZ_CHECK(seed->meta_data.rfind("instance-id: ", 0) == 0);
    } else {
      // The refusal names the volume it is about.
      VIREO_FUZZ_CHECK(seed.status().message().find(volume.name) != std::string::npos);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(fuzz::AsText(data + 1, size - 1));
  if (data[0] % 5 == 0) {
    base::Result<base::Json> json = base::ParseJson(text, "fuzz input");
    if (!json.ok()) return 0;
    base::Result<api::VirtualMachineInstance> vmi =
        api::FromJson<api::VirtualMachineInstance>(*json);
    if (vmi.ok()) Exercise(*vmi);
    return 0;
  }
  api::VirtualMachineInstance vmi = BaseVmi();
  api::CloudInitNoCloudSource& source = *vmi.spec.volumes[0].cloud_init_no_cloud;
  switch (data[0] % 5) {
    case 1:
      source.network_data = text;
      break;
    case 2:
      source.network_data_base64 = text;
      break;
    case 3:
      source.user_data.clear();
      source.user_data_base64 = text;
      break;
    default:
      source.user_data = text;
      vmi.spec.hostname = text.substr(0, 63);
      break;
  }
  Exercise(vmi);
  return 0;
}
