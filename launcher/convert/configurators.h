// The configurators the converter runs in turn, one concern each. Each reads
// the VMI and the context and fills its part of the domain; none does I/O.
// Internal to launcher/convert.
#pragma once

#include <string>
#include <vector>

#include "launcher/convert/context.h"
#include "launcher/convert/xml.h"
#include "lib/api/types.h"
#include "lib/kube/status.h"

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
  XmlElement* devices = nullptr;
  // Arguments for <qemu:commandline>, for what libvirt 9.0 cannot express.
  std::vector<std::string> qemu_args;
};

using api::VirtualMachineInstance;
using kube::Status;

// <memory>: the guest memory (memory.guest) in KiB.
Status ConfigureMemory(const VirtualMachineInstance& vmi, DomainXml& xml);
// <vcpu> and <cpu>: topology, and the model for KVM or TCG.
Status ConfigureCpu(const VirtualMachineInstance& vmi, const ConvertContext& ctx, DomainXml& xml);
// <os> (machine, SeaBIOS or OVMF + nvram), SMBIOS identity, and <features>
// (ACPI, APIC, SMM for secure boot, the TCG translation cache).
Status ConfigureFirmware(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                         DomainXml& xml);
// <disk> per VMI disk, in spec order, and the controllers their buses need.
Status ConfigureDisks(const VirtualMachineInstance& vmi, const ConvertContext& ctx, DomainXml& xml);
// NICs on the pod network (masquerade): slirp on QEMU's command line, or
// libvirt's passt backend.
Status ConfigureInterfaces(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                           DomainXml& xml);
// Serial console with its log, graphics when asked, no balloon.
Status ConfigureConsoleAndDisplay(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                                  DomainXml& xml);

// "spec.domain.devices.disks[2]"-style prefixes for error messages.
std::string DiskField(size_t index);
std::string InterfaceField(size_t index);

}  // namespace vireo::launcher::convert_internal
