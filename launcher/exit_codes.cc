// Names of the launcher's exit codes, for its last log line.
#include "launcher/exit_codes.h"

namespace vireo::launcher {

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

}  // namespace vireo::launcher
