// The defaults KubeVirt applies to a VM or VMI, for the fields Vireo acts on.
// Vireo has no mutating webhook: the controller applies these to the VMI it
// creates (and to standalone VMIs) before rendering the launcher pod, so the
// VMI in the API shows what actually runs.
#pragma once

#include <cstdint>

#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::api {

inline constexpr char kDefaultMachineType[] = "q35";
inline constexpr char kDefaultDiskBus[] = "virtio";
inline constexpr char kDefaultCdromBus[] = "sata";
inline constexpr char kDefaultInterfaceModel[] = "virtio";
inline constexpr char kDefaultNetworkName[] = "default";
inline constexpr int64_t kDefaultTerminationGracePeriodSeconds = 30;

// Fills in, where unset: machine type; memory requests/guest from each other
// (and from limits); cpu request from the limit; cpu topology; a BIOS
// bootloader (EFI gets secureBoot true); a disk for every volume without
// one; disk and cdrom bus; cdrom readonly; containerDisk pull policy; the
// default pod network and masquerade interface; interface model; the serial
// console; terminationGracePeriodSeconds. Never overwrites a set value, so
// applying it twice changes nothing. defaults.cc notes where Vireo differs
// from KubeVirt.
void ApplyVmiSpecDefaults(VirtualMachineInstanceSpec* spec);

// The devices of those defaults, without bus or model: a disk for every
// volume without one, and the default pod network with a masquerade
// interface (unless autoattachPodInterface is false or the spec has
// networks or interfaces). Run first by ApplyVmiSpecDefaults, and before a
// preference fills in buses and models (instancetype.h), as KubeVirt does.
void AddDefaultDevices(VirtualMachineInstanceSpec* spec);

// The spec defaults, plus a firmware UUID that stays the same across the
// restarts of one VM: the uid of the controlling VirtualMachine owner, or the
// VMI's own uid for a standalone VMI (none when neither is known yet).
void ApplyVmiDefaults(VirtualMachineInstance* vmi);

// What KubeVirt persists on a VM: the machine type of its template, so that a
// later change of the default does not change the hardware of existing VMs.
void ApplyVmDefaults(VirtualMachine* vm);

// The run strategy a VM asks for: spec.runStrategy, else Always for
// `running: true` and Halted for `running: false`, else Halted. kInvalid when
// both fields are set, as KubeVirt refuses that.
base::Result<RunStrategy> EffectiveRunStrategy(const VirtualMachineSpec& spec);

// EFI secure boot and SMM with KubeVirt's defaults, decided here once for
// the validation (which refuses secure boot without SMM) and the converter.
// Secure boot: an efi bootloader whose secureBoot is unset or true. SMM:
// features.smm's enabled (unset: true) when smm is given, else on exactly
// when secure boot is (OVMF's secure-boot build needs it).
bool SecureBootOn(const VirtualMachineInstanceSpec& spec);
bool SmmOn(const VirtualMachineInstanceSpec& spec);

}  // namespace vireo::api
