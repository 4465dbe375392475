// Where the kinds of lib/api live in the Kubernetes REST API, as lib/kube
// Resources, for the programs that talk to the apiserver (controller,
// virtctl, tests). The one part of lib/api that uses lib/kube, so it is a
// library of its own (api_resources_dep): vireo_api, and the launcher that
// links it, stay on lib/base.
#pragma once

#include "lib/kube/resource.h"

namespace vireo::api::resources {

extern const kube::Resource kVirtualMachines;          // kubevirt.io/v1
extern const kube::Resource kVirtualMachineInstances;  // kubevirt.io/v1
extern const kube::Resource kDataVolumes;              // cdi.kubevirt.io/v1beta1
// instancetype.kubevirt.io/v1beta1
extern const kube::Resource kVirtualMachineInstancetypes;
extern const kube::Resource kVirtualMachineClusterInstancetypes;
extern const kube::Resource kVirtualMachinePreferences;
extern const kube::Resource kVirtualMachineClusterPreferences;

}  // namespace vireo::api::resources
