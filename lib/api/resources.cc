// The REST descriptors of kubevirt.io's and CDI's kinds; see resources.h.
#include "lib/api/resources.h"

namespace vireo::api::resources {

const kube::Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", "VirtualMachine",
                                      true};
const kube::Resource kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances",
                                              "VirtualMachineInstance", true};
const kube::Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume", true};

}  // namespace vireo::api::resources
