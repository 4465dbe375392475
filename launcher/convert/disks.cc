// Configurator for disks: one <disk> per VMI disk in spec order, its source
// from the prepared volumes, its bus and target name, cdroms, boot order,
// and the virtio-scsi controller a scsi disk needs.
#include <string>

#include "launcher/convert/configurators.h"
#include "lib/base/json.h"

namespace vireo::launcher::convert_internal {
namespace {

using base::Code;

// libvirt's naming: a..z, then aa..az, ba.., as the kernel names sd devices.
std::string DriveName(const std::string& prefix, int index) {
  std::string suffix;
  for (int i = index; i >= 0; i = i / 26 - 1) suffix.insert(suffix.begin(), char('a' + i % 26));
  return prefix + suffix;
}

// When no disk or interface has a bootOrder, disks boot in the order the
// spec lists them; otherwise only the devices that ask are bootable.
bool AnyBootOrder(const api::Devices& devices) {
  for (const api::Disk& disk : devices.disks) {
    if (disk.boot_order.has_value()) return true;
  }
  for (const api::Interface& iface : devices.interfaces) {
    if (iface.boot_order.has_value()) return true;
  }
  return false;
}

}  // namespace

std::string DiskField(size_t index) {
  return "spec.domain.devices.disks[" + std::to_string(index) + "]";
}

Status ConfigureDisks(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                      DomainXml& xml) {
  const api::Devices& devices = vmi.spec.domain.devices;
  const bool explicit_boot = AnyBootOrder(devices);
  int virtio_count = 0;
  int sd_count = 0;  // sata, scsi and usb share the sd namespace in libvirt
  bool needs_scsi_controller = false;
  bool needs_usb_controller = false;

  for (size_t i = 0; i < devices.disks.size(); ++i) {
    const api::Disk& disk = devices.disks[i];
    const std::string field = DiskField(i);
    if (!disk.disk.has_value() && !disk.cdrom.has_value()) {
      return Status(Code::kInvalid,
                    field + ": only disk and cdrom targets are supported (lun is not)");
    }
    const bool cdrom = disk.cdrom.has_value();
    const api::DiskTarget& target = cdrom ? *disk.cdrom : *disk.disk;
    const std::string bus = target.bus.empty() ? (cdrom ? "sata" : "virtio") : target.bus;
    auto source_it = ctx.disks.find(disk.name);
    if (source_it == ctx.disks.end()) {
      return Status(Code::kInvalid, field + ": volume '" + disk.name +
                                        "' was not prepared (no such volume in spec.volumes?)");
    }
    const DiskSource& source = source_it->second;

    std::string dev;
    if (bus == "virtio" && !cdrom) {
      dev = DriveName("vd", virtio_count++);
    } else if (bus == "sata" || bus == "scsi" || (bus == "usb" && !cdrom)) {
      dev = DriveName("sd", sd_count++);
      if (bus == "scsi") needs_scsi_controller = true;
      if (bus == "usb") needs_usb_controller = true;
    } else {
      return Status(Code::kInvalid, field + (cdrom ? ".cdrom" : ".disk") + ".bus: '" + bus +
                                        "' is not supported here; use " +
                                        (cdrom ? "sata or scsi" : "virtio, sata, scsi or usb"));
    }

    XmlElement& el = xml.devices->Add("disk");
    el.Attr("type", source.block ? "block" : "file").Attr("device", cdrom ? "cdrom" : "disk");
    if (bus == "virtio") {
      el.Attr("model", VirtioModel(vmi));
      xml.pci_disks.push_back(&el);
    }
    const bool readonly = cdrom || source.readonly || target.readonly.value_or(false);
    XmlElement& driver = el.Add("driver");
    driver.Attr("name", "qemu").Attr("type", DiskFormatName(source.format));
    const std::string cache = base::GetString(disk.extra, "cache");
    if (!cache.empty()) driver.Attr("cache", cache);
    // Freed guest blocks are freed in sparse images and thin volumes too.
    if (!readonly) driver.Attr("discard", "unmap");
    el.Add("source").Attr(source.block ? "dev" : "file", source.path);
    el.Add("target").Attr("dev", dev).Attr("bus", bus);
    if (readonly) el.Add("readonly");
    if (!disk.serial.empty()) el.Add("serial").Text(disk.serial);
    if (disk.boot_order.has_value()) {
      el.Add("boot").Attr("order", std::to_string(*disk.boot_order));
    } else if (!explicit_boot) {
      el.Add("boot").Attr("order", std::to_string(i + 1));
    }
    el.Add("alias").Attr("name", "ua-disk-" + disk.name);
  }

  const bool q35 = IsQ35(MachineType(vmi));
  if (q35) {
    // As KubeVirt: no USB controller unless a USB disk needs one (QEMU's
    // default xHCI would take a root port), and a SCSI controller always,
    // ready for hotplugged disks, so the PCI layout does not depend on
    // whether a SCSI disk exists.
    XmlElement& usb = xml.devices->Add("controller").Attr("type", "usb").Attr("index", "0");
    usb.Attr("model", needs_usb_controller ? "qemu-xhci" : "none");
    if (needs_usb_controller) xml.pci_controllers.push_back(&usb);
  }
  if (q35 || needs_scsi_controller) {
    XmlElement& scsi = xml.devices->Add("controller")
                           .Attr("type", "scsi")
                           .Attr("index", "0")
                           .Attr("model", q35 ? VirtioModel(vmi) : "virtio-scsi");
    xml.pci_controllers.push_back(&scsi);
  }
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
