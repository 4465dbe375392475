// The REST descriptors agree with the apiVersion and kind the codec writes.
#include "lib/api/resources.h"

#include <gtest/gtest.h>

#include "lib/api/datavolume.h"
#include "lib/api/types.h"

namespace vireo::api {
namespace {

TEST(Resources, KubevirtKindsMatchTheCodec) {
  EXPECT_EQ(resources::kVirtualMachines.ApiVersion(), kApiVersion);
  EXPECT_EQ(resources::kVirtualMachines.kind, kVirtualMachineKind);
  EXPECT_EQ(resources::kVirtualMachineInstances.ApiVersion(), kApiVersion);
  EXPECT_EQ(resources::kVirtualMachineInstances.kind, kVirtualMachineInstanceKind);
  EXPECT_EQ(resources::kDataVolumes.ApiVersion(), kCdiApiVersion);
  EXPECT_EQ(resources::kDataVolumes.kind, kDataVolumeKind);
}

TEST(Resources, NamespacedPaths) {
  EXPECT_EQ(resources::kVirtualMachineInstances.Path("ns", "vm1", "status"),
            "/apis/kubevirt.io/v1/namespaces/ns/virtualmachineinstances/vm1/status");
  EXPECT_EQ(resources::kDataVolumes.Path("ns"),
            "/apis/cdi.kubevirt.io/v1beta1/namespaces/ns/datavolumes");
  EXPECT_EQ(resources::kVirtualMachines.Path(""), "/apis/kubevirt.io/v1/virtualmachines");
}

}  // namespace
}  // namespace vireo::api
