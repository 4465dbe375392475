// What a guest will call its NICs, and whether the cloud-init networkData
// of a VMI names NICs the guest has: networkData written for another
// platform (ens3, a generated MAC) configures nothing, and the guest boots
// without an address; the controller says so instead (a condition and an
// Event), since nothing in the pod can see the guest's network.
#pragma once

#include <string>
#include <vector>

#include "lib/api/types.h"

namespace vireo::api {

// The names a Linux guest gives the VMI's interfaces, in order, by the PCI
// layout the launcher gives them (docs/launcher.md, "PCI topology"): on q35
// the n-th interface sits at bus n, 00:00.0, so systemd names it enp<n>s0;
// the kernel's own eth<n-1> (net.ifnames=0) is accepted too. Empty where the
// layout does not fix the names (other machine types).
std::vector<std::string> GuestNicNames(const VirtualMachineInstanceSpec& spec);

// The networkData (v1 or v2, NoCloud, plain or base64) entries that can
// match none of the guest's NICs, one sentence each; empty when every entry
// can match, when there is no networkData, or where the names are not
// known. networkData that is not YAML is left to cloud-init to reject.
std::vector<std::string> NetworkDataProblems(const VirtualMachineInstanceSpec& spec);

}  // namespace vireo::api
