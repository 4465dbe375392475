// The launcher pod contract's names; see launcher_pod.h.
#include "lib/api/launcher_pod.h"

namespace vireo::api::launcher_pod {

bool GuestClaimsMetricsPort(const VirtualMachineInstanceSpec& spec) {
  for (const Interface& iface : spec.domain.devices.interfaces) {
    for (const Port& port : iface.ports) {
      if (port.port == kMetricsPort) return true;
    }
  }
  return false;
}

const char* EmulationModeName(EmulationMode mode) {
  switch (mode) {
    case EmulationMode::kAuto:
      return "auto";
    case EmulationMode::kOn:
      return "on";
    case EmulationMode::kOff:
      return "off";
  }
  return "auto";
}

std::optional<EmulationMode> ParseEmulationMode(std::string_view text) {
  for (EmulationMode mode : {EmulationMode::kAuto, EmulationMode::kOn, EmulationMode::kOff}) {
    if (text == EmulationModeName(mode)) return mode;
  }
  return std::nullopt;
}

const char* ExitCodeName(int code) {
  switch (code) {
    case kExitGuestPoweredOff:
      return "guest-powered-off";
    case kExitInternal:
      return "internal-error";
    case kExitUsage:
      return "usage";
    case kExitInvalidVmi:
      return "invalid-vmi";
    case kExitStorage:
      return "storage";
    case kExitStartFailed:
      return "start-failed";
    case kExitQemuEnded:
      return "qemu-ended";
    case kExitGraceExpired:
      return "grace-period-expired";
    case kExitTerminatedBeforeStart:
      return "terminated-before-start";
    default:
      return "unknown";
  }
}

}  // namespace vireo::api::launcher_pod
