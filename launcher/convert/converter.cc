// ConvertToDomainXml: lays out the domain skeleton and runs the
// configurators (configurators.h) over it in a fixed order.
#include "launcher/convert/converter.h"

#include "launcher/convert/configurators.h"
#include "launcher/convert/xml.h"

namespace vireo::launcher {

using convert_internal::DomainXml;

std::string DomainName(const api::VirtualMachineInstance& vmi) {
  const std::string& ns = vmi.metadata.namespace_;
  return (ns.empty() ? std::string("default") : ns) + "_" + vmi.metadata.name;
}

base::Result<std::string> ConvertToDomainXml(const api::VirtualMachineInstance& vmi,
                                             const ConvertContext& ctx) {
  XmlElement domain("domain");
  domain.Attr("type", ctx.emulation == Emulation::kKvm ? "kvm" : "qemu");
  DomainXml xml;
  xml.domain = &domain;
  domain.Add("name").Text(DomainName(vmi));
  if (vmi.spec.domain.firmware.has_value() && !vmi.spec.domain.firmware->uuid.empty()) {
    domain.Add("uuid").Text(vmi.spec.domain.firmware->uuid);
  }
  xml.memory = &domain.Add("memory");
  xml.vcpu = &domain.Add("vcpu");
  xml.sysinfo = &domain.Add("sysinfo").OmitWhenEmpty();
  xml.os = &domain.Add("os");
  xml.features = &domain.Add("features");
  xml.cpu = &domain.Add("cpu");
  xml.clock = &domain.Add("clock");
  // A guest that powers off ends the launcher (exit 0); a reboot stays
  // inside QEMU; a crash ends it too, so the VMI fails visibly.
  domain.Add("on_poweroff").Text("destroy");
  domain.Add("on_reboot").Text("restart");
  domain.Add("on_crash").Text("destroy");
  xml.devices = &domain.Add("devices");

  using namespace convert_internal;  // NOLINT: the configurators, in order
  for (const Status& status :
       {ConfigureMemory(vmi, xml), ConfigureCpu(vmi, ctx, xml), ConfigureFirmware(vmi, ctx, xml),
        ConfigureClock(vmi, xml), ConfigureDisks(vmi, ctx, xml), ConfigureInterfaces(vmi, ctx, xml),
        ConfigureConsoleAndDisplay(vmi, ctx, xml), ConfigurePciTopology(vmi, xml)}) {
    if (!status.ok()) return status.WithContext("convert VMI " + DomainName(vmi));
  }

  if (!xml.qemu_args.empty()) {
    domain.Attr("xmlns:qemu", "http://libvirt.org/schemas/domain/qemu/1.0");
    XmlElement& cmdline = domain.Add("qemu:commandline");
    for (const std::string& arg : xml.qemu_args) cmdline.Add("qemu:arg").Attr("value", arg);
  }
  return domain.Serialize();
}

}  // namespace vireo::launcher
