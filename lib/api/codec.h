// JSON <-> struct conversion for the kubevirt.io/v1 types in types.h.
//
// Decoding checks types, not meaning (validation.h does that): a failure is
// kInvalid with one Cause per problem, each naming the JSON path, e.g.
// "spec.template.spec.domain.devices.disks[1].disk.bus: expected a string, got
// a number". Keys the structs do not model are kept and written back, so
// ToJson(FromJson(x)) equals x up to key order; the one normalization is that
// a quantity written as a JSON number comes back as a string, as it does from
// KubeVirt itself.
#pragma once

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::api {

using base::Result;
using base::Status;

// Specialized for VirtualMachine, VirtualMachineInstance, ObjectMeta and
// VirtualMachineInstanceSpec. Never throws.
template <typename T>
Result<T> FromJson(const Json& json);

template <>
Result<VirtualMachine> FromJson<VirtualMachine>(const Json& json);
template <>
Result<VirtualMachineInstance> FromJson<VirtualMachineInstance>(const Json& json);
template <>
Result<ObjectMeta> FromJson<ObjectMeta>(const Json& json);
template <>
Result<VirtualMachineInstanceSpec> FromJson<VirtualMachineInstanceSpec>(const Json& json);

Json ToJson(const VirtualMachine& vm);
Json ToJson(const VirtualMachineInstance& vmi);
Json ToJson(const ObjectMeta& meta);
Json ToJson(const VirtualMachineInstanceSpec& spec);
Json ToJson(const VirtualMachineStatus& status);
Json ToJson(const VirtualMachineInstanceStatus& status);

}  // namespace vireo::api
