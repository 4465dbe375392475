// Configurator for the PCI layout: on q35 every device gets its own PCIe
// root port, in the order libvirt gives KubeVirt's domains their addresses,
// so a guest finds its NICs and disks at the same PCI addresses (and so
// under the same names: the first NIC is enp1s0) as under KubeVirt.
#include <cstdio>
#include <string>

#include "launcher/convert/configurators.h"

namespace vireo::launcher::convert_internal {
namespace {

// KubeVirt defines its domains with placeholder NICs up to this count and
// drops them after libvirt has addressed the domain: their root ports stay
// empty, for hotplug, and push the controllers and disks that follow.
constexpr size_t kReservedInterfaceSlots = 4;

std::string Hex(unsigned value, int width) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%0*x", width, value);
  return text;
}

void AddressOnRootPort(XmlElement& device, unsigned bus) {
  device.Add("address")
      .Attr("type", "pci")
      .Attr("domain", "0x0000")
      .Attr("bus", Hex(bus, 2))
      .Attr("slot", "0x00")
      .Attr("function", "0x0");
}

}  // namespace

Status ConfigurePciTopology(const VirtualMachineInstance& vmi, DomainXml& xml) {
  if (!IsQ35(MachineType(vmi))) {
    // i440fx has no root ports: libvirt and QEMU fill the root bus's slots.
    for (base::Json& nic : xml.nic_devices) {
      xml.qemu_args.push_back("-device");
      xml.qemu_args.push_back(base::DumpJson(nic));
    }
    return Status::Ok();
  }
  // Bus N is the secondary bus of root port N; each device sits at N:00.0.
  unsigned bus = 1;
  for (XmlElement* nic : xml.nic_elements) AddressOnRootPort(*nic, bus++);
  for (base::Json& nic : xml.nic_devices) {
    nic["bus"] = base::Json("pci." + std::to_string(bus++));
    nic["addr"] = base::Json("0x0");
    xml.qemu_args.push_back("-device");
    xml.qemu_args.push_back(base::DumpJson(nic));
  }
  const size_t nics = xml.nic_elements.size() + xml.nic_devices.size();
  if (nics < kReservedInterfaceSlots) bus += kReservedInterfaceSlots - nics;
  for (XmlElement* controller : xml.pci_controllers) AddressOnRootPort(*controller, bus++);
  for (XmlElement* disk : xml.pci_disks) AddressOnRootPort(*disk, bus++);
  if (xml.balloon != nullptr) AddressOnRootPort(*xml.balloon, bus++);
  if (xml.rng != nullptr) AddressOnRootPort(*xml.rng, bus++);
  // One more, empty, as libvirt adds to a new q35 domain for hotplug.
  for (unsigned index = 1; index <= bus; ++index) {
    xml.devices->Add("controller")
        .Attr("type", "pci")
        .Attr("index", std::to_string(index))
        .Attr("model", "pcie-root-port");
  }
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
