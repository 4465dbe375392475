// The exit codes of `vireo-launcher run`: how the guest ended, or why it never
// ran. The controller maps 0 to VMI Succeeded and anything else to Failed;
// docs/launcher.md lists them for people.
#pragma once

namespace vireo::launcher {

enum ExitCode : int {
  // The guest powered itself off (on its own, or after the ACPI power button
  // that SIGTERM pressed).
  kExitGuestPoweredOff = 0,
  // An unexpected failure of the launcher itself (state dir, libvirt setup).
  kExitInternal = 1,
  // Bad command line.
  kExitUsage = 2,
  // The VMI file is missing, unreadable, not JSON, or fails validation.
  kExitInvalidVmi = 3,
  // A volume could not be prepared (missing, unreadable, too small, corrupt).
  kExitStorage = 4,
  // libvirt or QEMU refused to start the domain.
  kExitStartFailed = 5,
  // QEMU ended without the guest powering off (crash, kill, libvirt error).
  kExitQemuEnded = 6,
  // SIGTERM: the guest did not power off within the grace period and was
  // destroyed.
  kExitGraceExpired = 7,
  // SIGTERM arrived before the domain was running; nothing was left behind.
  kExitTerminatedBeforeStart = 8,
};

// "guest-powered-off", "qemu-ended", ...: for the final log line.
const char* ExitCodeName(int code);

}  // namespace vireo::launcher
