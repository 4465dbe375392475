// The REST descriptors of kubevirt.io's, CDI's and instancetype.kubevirt.io's
// kinds; see resources.h.
#include "lib/api/resources.h"

namespace vireo::api::resources {

const kube::Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", "VirtualMachine",
                                      true};
const kube::Resource kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances",
                                              "VirtualMachineInstance", true};
const kube::Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume", true};
const kube::Resource kVirtualMachineInstancetypes{"instancetype.kubevirt.io", "v1beta1",
                                                  "virtualmachineinstancetypes",
                                                  "VirtualMachineInstancetype", true};
const kube::Resource kVirtualMachineClusterInstancetypes{
    "instancetype.kubevirt.io", "v1beta1", "virtualmachineclusterinstancetypes",
    "VirtualMachineClusterInstancetype", false};
const kube::Resource kVirtualMachinePreferences{"instancetype.kubevirt.io", "v1beta1",
                                                "virtualmachinepreferences",
                                                "VirtualMachinePreference", true};
const kube::Resource kVirtualMachineClusterPreferences{"instancetype.kubevirt.io", "v1beta1",
                                                       "virtualmachineclusterpreferences",
                                                       "VirtualMachineClusterPreference", false};

}  // namespace vireo::api::resources
