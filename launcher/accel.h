// KVM or TCG: the launcher's --emulation flag against what the pod offers.
#pragma once

#include <string>

#include "launcher/convert/context.h"
#include "launcher/options.h"
#include "lib/kube/status.h"

namespace vireo::launcher {

struct AccelChoice {
  Emulation emulation = Emulation::kTcg;
  std::string reason;  // for the log line that states the mode
};

// on: TCG. off: KVM, or kUnavailable when `kvm_device` cannot be used.
// auto: KVM when `kvm_device` opens read-write and answers KVM's API
// version, else TCG. (On the project's machines /dev/kvm opens but guests
// hang under it, which is why tests force `on`.)
kube::Result<AccelChoice> ChooseAccel(EmulationFlag flag,
                                      const std::string& kvm_device = "/dev/kvm");

}  // namespace vireo::launcher
