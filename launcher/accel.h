// KVM or TCG: the launcher's --emulation flag against what the pod offers,
// and the boot probe that tells a working KVM from one that only opens.
//
// Why a probe: on some hosts /dev/kvm opens and answers KVM's API version,
// yet guests barely run under it (the project's machines: a nested
// hypervisor runs a busy loop ~250 times slower under KVM than QEMU's TCG
// does, so Linux seems to hang after SeaBIOS). The probe boots a 64 KiB
// firmware of our own under KVM that prints a start mark, runs a fixed busy
// loop printing a dot per chunk, prints an end mark and exits QEMU; KVM is
// used when the end mark comes within a bound far above what any working
// KVM (or TCG) needs. It takes ~0.5 s where KVM works and where it is
// broken (QEMU killed at the bound).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "launcher/convert/context.h"
#include "launcher/options.h"
#include "lib/base/status.h"

namespace vireo::launcher {

struct AccelChoice {
  Emulation emulation = Emulation::kTcg;
  std::string reason;  // for the log line that states the mode, and the VMI's condition
};

// The verdict the accel-probe init container leaves for `run` (in the state
// dir, kAccelVerdictFile) and for the controller (its termination message):
// "kvm: <why>" or "tcg: <why>" on one line. The controller parses the same
// text (controllers/reconcile/pod_summary.cc); docs/launcher-pod.md.
inline constexpr char kAccelVerdictFile[] = "accel";
std::string FormatAccelVerdict(const AccelChoice& choice);
base::Result<AccelChoice> ParseAccelVerdict(std::string_view text);

// The probe guest and its bounds.
struct KvmProbeConfig {
  std::string qemu = "/usr/bin/qemu-system-x86_64";
  std::string accel = "kvm";  // tests boot the same firmware under "tcg"
  // The firmware's busy loop: chunks x iterations of `dec ecx; jnz` (a dot
  // after each chunk). 20 x 1M: ~10 ms on hardware, ~60 ms under TCG.
  uint16_t chunks = 20;
  uint32_t iterations_per_chunk = 1'000'000;
  // QEMU must start the firmware within `start_limit` (a loaded node starts
  // QEMU slowly), then finish the loop within `run_limit`.
  std::chrono::milliseconds start_limit{10'000};
  std::chrono::milliseconds run_limit{1'000};
};

// The firmware: a 64 KiB BIOS image (QEMU's -bios) whose reset vector jumps
// to real-mode code that writes 'S', a '.' per chunk and 'E' to COM1, then
// exits QEMU through isa-debug-exit (status 33).
std::string KvmProbeFirmware(uint16_t chunks, uint32_t iterations_per_chunk);

// What one probe run showed; times from QEMU's start.
struct KvmProbeRun {
  bool spawned = true;
  std::string spawn_error;
  std::optional<std::chrono::milliseconds> started;  // 'S' seen
  std::optional<std::chrono::milliseconds> ended;    // 'E' seen
  int chunks_done = 0;
  bool killed = false;             // stopped at a limit
  std::optional<int> exit_status;  // QEMU's exit code when it exited by itself
  std::string stderr_tail;         // QEMU's last error line
};

// The QEMU command line of the probe.
std::vector<std::string> KvmProbeCommand(const KvmProbeConfig& config,
                                         const std::string& firmware_path);

// Runs QEMU on `firmware_path` (which must hold KvmProbeFirmware), killing
// it at the limits. Never hangs.
KvmProbeRun RunKvmProbe(const KvmProbeConfig& config, const std::string& firmware_path);

// Empty when the run shows a usable accelerator, else why not, for people.
std::string KvmProbeProblem(const KvmProbeRun& run, const KvmProbeConfig& config);

// on: TCG. auto: TCG when `kvm_device` does not open read-write or answer
// KVM's API version; else, with a `probe_dir`, the boot probe decides (its
// firmware is written there); without one, KVM. off: the same checks, but
// KVM or kUnavailable saying why (a guest that would hang under a broken KVM
// fails to start instead).
base::Result<AccelChoice> ChooseAccel(EmulationMode flag,
                                      const std::string& kvm_device = "/dev/kvm",
                                      const std::string& probe_dir = "",
                                      const KvmProbeConfig& probe = {});

// What `run` uses: the accel-probe init container's verdict in the state
// dir when there is one (so the guest runs as the VMI's condition says),
// else ChooseAccel with the boot probe in the state dir.
base::Result<AccelChoice> ChooseAccelForRun(const Options& options);

// `vireo-launcher accel-probe`: the launcher pod's init container with
// --emulation=auto. Decides as ChooseAccel(auto) with the boot probe and
// writes the verdict to <state-dir>/accel and to options.termination_log
// (where the kubelet reads the container's termination message). Exit 0
// once written, 1 when it cannot write.
// With options.copy_tools_to set it first copies the launcher image's static
// busybox there (CopyTools); a failed copy exits 1 too.
int RunAccelProbe(const Options& options);

// Copies `busybox` to <dir>/busybox, executable by all (the containerDisk
// containers run it as the pod's user). An error names the file and why.
base::Status CopyTools(const std::string& busybox, const std::string& dir);

}  // namespace vireo::launcher
