// KubeVirt's instance types and preferences (instancetype.kubevirt.io/v1beta1)
// applied to a VirtualMachine: what its spec.instancetype and spec.preference
// make of the template its instances are made from. Pure: the caller reads
// the two objects (controllers/vm_reconciler.cc) and hands their specs in.
//
// The instance type sets vCPUs (laid out as the preference's
// preferredCPUTopology says, sockets by default), memory.guest (and a
// smaller memory request with overcommitPercent), nodeSelector and
// annotations; a template that sets any of these itself conflicts (the CRD
// refuses most of them up front; ExpandVm names each). The preference fills
// in only what the template leaves unset, and its requirements must be met
// by the expanded template. Fields of either spec that Vireo does not
// support never get here: their CRDs refuse them.
#pragma once

#include <optional>
#include <string>

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::api {

inline constexpr char kInstancetypeApiVersion[] = "instancetype.kubevirt.io/v1beta1";
inline constexpr char kClusterInstancetypeKind[] = "VirtualMachineClusterInstancetype";
inline constexpr char kInstancetypeKind[] = "VirtualMachineInstancetype";
inline constexpr char kClusterPreferenceKind[] = "VirtualMachineClusterPreference";
inline constexpr char kPreferenceKind[] = "VirtualMachinePreference";
// KubeVirt's annotations on an instance naming the instance type and
// preference it was made with (ExpandVm adds them to the template's).
inline constexpr char kClusterInstancetypeNameAnnotation[] =
    "kubevirt.io/cluster-instancetype-name";
inline constexpr char kInstancetypeNameAnnotation[] = "kubevirt.io/instancetype-name";
inline constexpr char kClusterPreferenceNameAnnotation[] = "kubevirt.io/cluster-preference-name";
inline constexpr char kPreferenceNameAnnotation[] = "kubevirt.io/preference-name";

// A VM's spec.instancetype or spec.preference: a name, and whether it is the
// cluster-wide kind (KubeVirt's default when no kind is given) or the one
// in the VM's namespace.
struct InstancetypeRef {
  std::string name;
  bool cluster = true;
  std::string kind;  // the canonical kind name, for messages

  // "VirtualMachineClusterInstancetype u1.medium"
  std::string Describe() const { return kind + " " + name; }
};

// nullopt when the VM names none. The kind is read case-insensitively and
// in KubeVirt's plural spellings too, as the CRD allows.
std::optional<InstancetypeRef> InstancetypeOf(const VirtualMachine& vm);
std::optional<InstancetypeRef> PreferenceOf(const VirtualMachine& vm);

// The VM with its template expanded: the annotations above, the instance type's values set (its
// spec `instancetype`; null: none) and the preference's filling the unset
// fields (its spec `preference`; null: none). kInvalid, naming the field,
// when the template sets what the instance type sets, or the expanded
// template misses the preference's requirements.
base::Result<VirtualMachine> ExpandVm(const VirtualMachine& vm, const Json& instancetype,
                                      const Json& preference);

}  // namespace vireo::api
