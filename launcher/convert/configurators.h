// The configurators the converter runs in turn, one concern each. Each reads
// the VMI and the context and fills its part of the domain; none does I/O.
// Internal to launcher/convert.
#pragma once

#include <string>
#include <vector>

#include "launcher/convert/context.h"
#include "launcher/convert/xml.h"
#include "lib/api/types.h"
#include "lib/base/json.h"
#include "lib/base/status.h"

namespace vireo::launcher::convert_internal {

// The domain's top-level sections, laid out in the order they are written.
struct DomainXml {
  XmlElement* domain = nullptr;
  XmlElement* memory = nullptr;
  XmlElement* vcpu = nullptr;
  XmlElement* sysinfo = nullptr;  // omitted when empty
  XmlElement* os = nullptr;
  XmlElement* features = nullptr;
  XmlElement* cpu = nullptr;
  XmlElement* clock = nullptr;
  XmlElement* devices = nullptr;
  // Arguments for <qemu:commandline>, for what libvirt 9.0 cannot express.
  std::vector<std::string> qemu_args;

  // The devices that take a PCI slot, by kind, each kind in spec order.
  // ConfigurePciTopology gives them their addresses at the end.
  // NICs libvirt cannot express: QEMU JSON -device objects, appended to
  // qemu_args once placed.
  std::vector<base::Json> nic_devices;
  std::vector<XmlElement*> nic_elements;     // <interface> libvirt knows
  std::vector<XmlElement*> pci_controllers;  // usb (when used), scsi, virtio-serial
  std::vector<XmlElement*> pci_disks;        // virtio <disk>s
  XmlElement* balloon = nullptr;
  XmlElement* rng = nullptr;  // devices.rng
};

using api::VirtualMachineInstance;
using base::Status;

// <memory>: the guest memory (memory.guest) in KiB.
Status ConfigureMemory(const VirtualMachineInstance& vmi, DomainXml& xml);
// <vcpu> and <cpu>: topology, and the model for KVM or TCG.
Status ConfigureCpu(const VirtualMachineInstance& vmi, const ConvertContext& ctx, DomainXml& xml);
// <os> (machine, SeaBIOS or OVMF + nvram), SMBIOS identity, and <features>
// (ACPI, APIC, SMM for secure boot, the TCG translation cache).
Status ConfigureFirmware(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                         DomainXml& xml);
// <clock>: UTC, shifted by clock.utc.offsetSeconds, and clock.timer's
// timers.
Status ConfigureClock(const VirtualMachineInstance& vmi, DomainXml& xml);
// <disk> per VMI disk, in spec order, and the controllers their buses need.
Status ConfigureDisks(const VirtualMachineInstance& vmi, const ConvertContext& ctx, DomainXml& xml);
// NICs on the pod network (masquerade): slirp on QEMU's command line, or
// libvirt's passt backend.
Status ConfigureInterfaces(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                           DomainXml& xml);
// Serial console with its log, graphics when asked, the balloon, and the
// random number generator when asked.
Status ConfigureConsoleAndDisplay(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                                  DomainXml& xml);

// PCI addresses for every device above, as a KubeVirt q35 guest sees them
// (docs/launcher.md, "PCI topology"); on other machines libvirt and QEMU
// choose. Runs last.
Status ConfigurePciTopology(const VirtualMachineInstance& vmi, DomainXml& xml);

// The machine type QEMU gets; RHEL's q35 names become Debian's q35.
std::string MachineType(const VirtualMachineInstance& vmi);
bool IsQ35(const std::string& machine);
// The virtio device model: virtio-non-transitional on q35, as KubeVirt
// chooses there (modern virtio only, a PCIe device on a root port).
const char* VirtioModel(const VirtualMachineInstance& vmi);

// "spec.domain.devices.disks[2]"-style prefixes for error messages.
std::string DiskField(size_t index);
std::string InterfaceField(size_t index);

}  // namespace vireo::launcher::convert_internal
