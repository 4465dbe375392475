// Configurators for guest memory and vCPUs: size, topology and CPU model.
#include <string>

#include "launcher/convert/configurators.h"
#include "lib/api/quantity.h"

namespace vireo::launcher::convert_internal {

using base::Code;

Status ConfigureMemory(const VirtualMachineInstance& vmi, DomainXml& xml) {
  const auto& memory = vmi.spec.domain.memory;
  if (!memory.has_value() || memory->guest.empty()) {
    return Status(Code::kInvalid,
                  "spec.domain.memory.guest is not set; set it or "
                  "spec.domain.resources.requests.memory (defaults copy one into the other)");
  }
  base::Result<int64_t> bytes = api::ParseQuantityBytes(memory->guest);
  if (!bytes.ok() || *bytes <= 0) {
    return Status(Code::kInvalid,
                  "spec.domain.memory.guest: '" + memory->guest + "' is not a positive size");
  }
  // libvirt counts in KiB; round up so the guest never gets less than asked.
  xml.memory->Attr("unit", "KiB").Text(std::to_string((*bytes + 1023) / 1024));
  return Status::Ok();
}

Status ConfigureCpu(const VirtualMachineInstance& vmi, const ConvertContext& ctx, DomainXml& xml) {
  api::Cpu cpu = vmi.spec.domain.cpu.value_or(api::Cpu{});
  for (uint32_t* n : {&cpu.sockets, &cpu.cores, &cpu.threads}) {
    if (*n == 0) *n = 1;
  }
  const uint64_t vcpus = uint64_t{cpu.sockets} * cpu.cores * cpu.threads;
  if (vcpus > 512) {
    return Status(Code::kInvalid, "spec.domain.cpu: sockets x cores x threads = " +
                                      std::to_string(vcpus) + " vCPUs, more than QEMU's 512");
  }
  xml.vcpu->Attr("placement", "static").Text(std::to_string(vcpus));

  XmlElement& el = *xml.cpu;
  const std::string& model = cpu.model;
  if (ctx.emulation == Emulation::kTcg) {
    // Under TCG there is no host CPU to copy: "max" is every feature TCG
    // emulates (x86-64-v2 and up, which current distributions require),
    // where QEMU's default qemu64 would not boot them.
    if (model.empty() || model == "host-model" || model == "host-passthrough") {
      el.Attr("mode", "maximum").Attr("check", "none");
    } else {
      el.Attr("mode", "custom").Attr("match", "exact").Attr("check", "none");
      el.Add("model").Attr("fallback", "allow").Text(model);
    }
  } else if (model.empty() || model == "host-model") {
    el.Attr("mode", "host-model").Attr("check", "partial");  // KubeVirt's default
  } else if (model == "host-passthrough") {
    el.Attr("mode", "host-passthrough").Attr("check", "none");
  } else {
    el.Attr("mode", "custom").Attr("match", "exact").Attr("check", "partial");
    el.Add("model").Attr("fallback", "forbid").Text(model);
  }
  el.Add("topology")
      .Attr("sockets", std::to_string(cpu.sockets))
      .Attr("dies", "1")
      .Attr("cores", std::to_string(cpu.cores))
      .Attr("threads", std::to_string(cpu.threads));
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
