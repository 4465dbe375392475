// Configurator for the machine and its firmware: machine type, SeaBIOS or
// OVMF (with secure boot and its variable store), SMBIOS identity, the
// platform features every guest needs (ACPI above all).
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "launcher/convert/configurators.h"
#include "lib/api/defaults.h"
#include "lib/base/json.h"

namespace vireo::launcher::convert_internal {
namespace {

using base::Code;

// libvirt refuses a domain <uuid> that is not 8-4-4-4-12 hex digits.
bool IsUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

}  // namespace

// Debian's QEMU knows "q35", "pc" and their versioned names, not RHEL's
// ("pc-q35-rhel9.2.0"), which a VM created on a RHEL-based KubeVirt carries;
// those get the generic q35 board rather than a start failure.
std::string MachineType(const VirtualMachineInstance& vmi) {
  const auto& machine = vmi.spec.domain.machine;
  const std::string type = machine.has_value() ? machine->type : "";
  if (type.empty() || type.starts_with("pc-q35-rhel")) return "q35";
  return type;
}

bool IsQ35(const std::string& machine) {
  return machine == "q35" || machine.starts_with("pc-q35-");
}

const char* VirtioModel(const VirtualMachineInstance& vmi) {
  return IsQ35(MachineType(vmi)) ? "virtio-non-transitional" : "virtio";
}

namespace {

const char* OnOff(const std::optional<bool>& enabled) {
  return enabled.value_or(true) ? "on" : "off";
}

// features.hyperv as libvirt's <hyperv mode='custom'>: each given
// enlightenment on unless enabled is false (KubeVirt's default).
void AddHyperv(const api::Hyperv& hyperv, XmlElement& features) {
  XmlElement& hv = features.Add("hyperv").Attr("mode", "custom");
  for (const auto& [name, state] :
       {std::pair{"relaxed", &hyperv.relaxed}, std::pair{"vapic", &hyperv.vapic},
        std::pair{"runtime", &hyperv.runtime}, std::pair{"reset", &hyperv.reset},
        std::pair{"frequencies", &hyperv.frequencies},
        std::pair{"reenlightenment", &hyperv.reenlightenment}}) {
    if (state->has_value()) hv.Add(name).Attr("state", OnOff((*state)->enabled));
  }
  if (hyperv.spinlocks.has_value()) {
    XmlElement& spinlocks = hv.Add("spinlocks").Attr("state", OnOff(hyperv.spinlocks->enabled));
    if (hyperv.spinlocks->enabled.value_or(true)) {
      // KubeVirt's default retry count.
      spinlocks.Attr("retries", std::to_string(hyperv.spinlocks->spinlocks.value_or(4096)));
    }
  }
  if (hyperv.vendorid.has_value()) {
    XmlElement& vendor = hv.Add("vendor_id").Attr("state", OnOff(hyperv.vendorid->enabled));
    if (hyperv.vendorid->enabled.value_or(true)) vendor.Attr("value", hyperv.vendorid->vendorid);
  }
}

}  // namespace

Status ConfigureFirmware(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                         DomainXml& xml) {
  const std::string machine = MachineType(vmi);
  XmlElement& os = *xml.os;
  os.Add("type").Attr("arch", "x86_64").Attr("machine", machine).Text("hvm");

  const api::Firmware firmware = vmi.spec.domain.firmware.value_or(api::Firmware{});
  if (!firmware.uuid.empty() && !IsUuid(firmware.uuid)) {
    return Status(Code::kInvalid, "spec.domain.firmware.uuid: '" + firmware.uuid +
                                      "' is not a UUID (8-4-4-4-12 hex digits)");
  }
  // The domain <uuid> (converter.cc) becomes the SMBIOS system UUID; the
  // serial needs a sysinfo block.
  if (!firmware.serial.empty()) {
    xml.sysinfo->Attr("type", "smbios");
    xml.sysinfo->Add("system").Add("entry").Attr("name", "serial").Text(firmware.serial);
    os.Add("smbios").Attr("mode", "sysinfo");
  }

  const bool secure_boot = api::SecureBootOn(vmi.spec);
  const auto& bootloader = firmware.bootloader;
  if (bootloader.has_value() && bootloader->efi.has_value()) {
    if (secure_boot && !IsQ35(machine)) {
      return Status(Code::kInvalid,
                    "spec.domain.firmware.bootloader.efi.secureBoot needs a q35 machine (SMM), "
                    "spec.domain.machine.type is '" +
                        machine + "'");
    }
    if (ctx.nvram_path.empty()) {
      return Status(Code::kInvalid, "EFI firmware needs ConvertContext.nvram_path (launcher bug)");
    }
    const FirmwarePaths& paths = ctx.firmware;
    os.Add("loader")
        .Attr("readonly", "yes")
        .Attr("secure", secure_boot ? "yes" : "no")
        .Attr("type", "pflash")
        .Text(secure_boot ? paths.ovmf_code_secure_boot : paths.ovmf_code);
    os.Add("nvram")
        .Attr("template", secure_boot ? paths.ovmf_vars_secure_boot : paths.ovmf_vars)
        .Text(ctx.nvram_path);
  } else if (bootloader.has_value() && bootloader->bios.has_value() &&
             base::GetBool(bootloader->bios->extra, "useSerial").value_or(false)) {
    // SeaBIOS prints its boot menu and messages on the serial console.
    os.Add("bios").Attr("useserial", "yes");
  }

  if (const api::KernelBootContainer* found = api::FindKernelBootContainer(vmi.spec)) {
    // Direct kernel boot: the firmware loads these instead of a boot loader.
    const api::KernelBootContainer& kernel = *found;
    if ((!kernel.kernel_path.empty() && ctx.kernel_path.empty()) ||
        (!kernel.initrd_path.empty() && ctx.initrd_path.empty())) {
      return Status(
          Code::kInvalid,
          "firmware.kernelBoot needs ConvertContext.kernel_path/initrd_path (launcher bug)");
    }
    if (!ctx.kernel_path.empty()) os.Add("kernel").Text(ctx.kernel_path);
    if (!ctx.initrd_path.empty()) os.Add("initrd").Text(ctx.initrd_path);
    if (!firmware.kernel_boot->kernel_args.empty()) {
      os.Add("cmdline").Text(firmware.kernel_boot->kernel_args);
    }
  }

  XmlElement& features = *xml.features;
  // Without <acpi/> libvirt runs QEMU with -no-acpi: the ACPI power button
  // that graceful shutdown presses would never reach the guest.
  features.Add("acpi");
  features.Add("apic");
  // OVMF's secure-boot build keeps its variable store safe from the guest
  // only with SMM on.
  const bool smm = api::SmmOn(vmi.spec);
  if (secure_boot && !smm) {
    return Status(Code::kInvalid,
                  "spec.domain.features.smm.enabled is false, but EFI secure boot needs SMM; "
                  "enable smm or set spec.domain.firmware.bootloader.efi.secureBoot to false");
  }
  if (smm) features.Add("smm").Attr("state", "on");
  if (vmi.spec.domain.features.has_value() && vmi.spec.domain.features->hyperv.has_value()) {
    AddHyperv(*vmi.spec.domain.features->hyperv, features);
  }
  if (ctx.emulation == Emulation::kTcg && ctx.tb_cache_mib > 0) {
    // Becomes -accel tcg,tb-size=N (libvirt >= 8.0): QEMU's default cache
    // would take more than a pod's memory overhead.
    features.Add("tcg").Add("tb-cache").Attr("unit", "MiB").Text(std::to_string(ctx.tb_cache_mib));
  }
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
