// Makes sure no QEMU outlives the launcher and every process is reaped.
// `run` forks at once into two processes:
//  - the guardian (the parent: the container's first process) reaps every child that is
//    reparented to it — QEMU, and the QEMUs libvirt runs to probe
//    capabilities — forwards SIGTERM/SIGINT/SIGHUP to the launcher, reports
//    QEMU's exit status to it, kills QEMU if the launcher dies without
//    releasing it, and exits with the launcher's exit code;
//  - the launcher (the child) runs libvirt and the domain.
// libvirt starts QEMU as a daemon, so PR_SET_PDEATHSIG cannot tie QEMU to
// the launcher; and libvirt waits for a killed QEMU's pid to disappear, which
// a zombie nobody reaps never does. Hence the guardian, a subreaper. Should
// the guardian die, the launcher gets SIGUSR2 (PR_SET_PDEATHSIG) and destroys
// the domain at once.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "lib/base/status.h"

namespace vireo::launcher {

// The launcher's end of the link to its guardian.
class Guardian {
 public:
  // Forks. Returns in the launcher (the child). In the guardian it never
  // returns: the process exits with the launcher's exit code, once it has
  // called `before_exit` (however the launcher ended).
  // REQUIRES: no other thread exists yet.
  static base::Result<Guardian> Fork(std::function<void()> before_exit = {});

  Guardian(Guardian&& other) noexcept;
  Guardian& operator=(Guardian&& other) noexcept;
  Guardian(const Guardian&) = delete;
  ~Guardian();

  // From now on the launcher's death kills `qemu`, and its exit is reported.
  void Watch(pid_t qemu);
  // The launcher ended QEMU itself. Idempotent.
  void Release();

  // Readable when the guardian reports QEMU's exit; -1 when unlinked.
  int fd() const { return fd_; }
  // QEMU's wait status, once reported (call when fd() is readable).
  std::optional<int> ReadQemuExit();

 private:
  explicit Guardian(int fd) : fd_(fd) {}
  int fd_ = -1;  // a socketpair end
};

// Records QEMU's pid and start time in `pid_file`, so that a later launcher
// on the same state dir can tell it is still the same process.
base::Status RecordQemuPid(const std::string& pid_file, pid_t qemu);

// Kills the QEMU recorded in `pid_file` if it is still that process, waits
// for it to be gone and removes the file. Returns whether one was killed.
base::Result<bool> KillRecordedQemu(const std::string& pid_file);

// The pid libvirt's QEMU driver wrote for `domain` in its state directory
// (<embed root>/run/qemu, or /run/libvirt/qemu for a daemon).
base::Result<pid_t> ReadLibvirtQemuPid(const std::string& pid_dir, const std::string& domain);

// The start time of `pid` in clock ticks since boot (field 22 of
// /proc/<pid>/stat); 0 when there is no such process.
unsigned long long ProcessStartTime(pid_t pid);

// Whether `pid` has ended and awaits its reaper (state Z in /proc/<pid>/stat).
bool IsZombie(pid_t pid);

}  // namespace vireo::launcher
