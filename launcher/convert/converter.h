// VMI -> libvirt domain XML. The VMI must have lib/api defaults applied and
// have passed validation; the context says how this launcher runs it.
#pragma once

#include <string>

#include "launcher/convert/context.h"
#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::launcher {

// The libvirt domain name for a VMI: "<namespace>_<name>" ("default" when the
// namespace is empty), unique on a node and readable in `virsh list`.
std::string DomainName(const api::VirtualMachineInstance& vmi);

// The whole <domain> document, deterministic for a given input (golden tests
// compare it byte for byte). Pure: touches no file. kInvalid, naming the
// field, for what the launcher cannot express: a disk whose volume has no
// entry in ctx.disks, an unknown bus, secure boot on a non-q35 machine, a
// memory size that does not parse, an interface binding other than
// masquerade.
base::Result<std::string> ConvertToDomainXml(const api::VirtualMachineInstance& vmi,
                                             const ConvertContext& ctx);

}  // namespace vireo::launcher
