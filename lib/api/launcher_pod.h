// The launcher pod contract: what vireo-controller (which renders one pod per
// VMI, controllers/reconcile/launcher_pod.h) and vireo-launcher (which runs in
// it) agree on, in one place both include: the pod's paths, the annotation
// the VMI arrives in, the container names, the launcher's subcommands and
// flags, the emulation choice and the exit codes. docs/launcher-pod.md says
// what each is for; tests/contract/ checks that a rendered pod is one the
// launcher accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "lib/api/types.h"

namespace vireo::api::launcher_pod {

// ------------------------------------------------------------ the pod

// Launcher pods carry their VMI's uid under this label (KubeVirt's): the
// controller finds a VMI's pods by it, virtctl a VMI's launcher.
inline constexpr char kCreatedByLabel[] = "kubevirt.io/created-by";

// The pod annotation holding the VMI JSON; a downwardAPI volume projects it
// as kVmiFileName in kVmiDir.
inline constexpr char kVmiAnnotation[] = "vireo.io/vmi";

// The launcher container (`virtctl console` execs into it) and the init
// container that decides KVM or TCG (emulation auto with a KVM device
// plugin; its termination message is the verdict).
inline constexpr char kLauncherContainer[] = "compute";
inline constexpr char kAccelProbeContainer[] = "accel-probe";

// Paths inside the pod. Directories carry no trailing slash.
inline constexpr char kVmiDir[] = "/var/run/vireo/vmi";
inline constexpr char kVmiFileName[] = "vmi.json";
inline constexpr char kVmiFile[] = "/var/run/vireo/vmi/vmi.json";
// An emptyDir the launcher owns: libvirt's root, console socket, overlays,
// emptyDisks, the cidata ISO, the accel verdict.
inline constexpr char kStateDir[] = "/var/run/vireo/state";
// A filesystem claim of VMI volume <vol> is mounted at kVolumesDir/<vol>;
// its disk is disk.img in it (importer::kDiskImage).
inline constexpr char kVolumesDir[] = "/var/run/vireo/volumes";
// A block claim of VMI volume <vol> is the device kBlockDir/<vol>.
inline constexpr char kBlockDir[] = "/dev/vireo";
// firmware.kernelBoot: the image's kernelPath and initrdPath are copied into
// this directory as kKernelBootKernel and kKernelBootInitrd.
inline constexpr char kKernelBootDir[] = "/var/run/vireo/kernel-boot";
inline constexpr char kKernelBootKernel[] = "kernel";
inline constexpr char kKernelBootInitrd[] = "initrd";
// A containerDisk volume <vol> is served in place, not copied: its image
// runs as a container of the pod (one process namespace for the pod) that
// finds the disk file and sleeps, and writes, in kContainerDisksDir/<vol>/
// (an emptyDir the launcher mounts too), either kContainerDiskSourceFile,
// "<pid> <path>\n" (its own pid and the file's resolved path inside its
// image: QEMU reads /proc/<pid>/root<path>), or kContainerDiskErrorFile,
// the reason it cannot. It exits 0 on SIGTERM, which the launcher sends it
// as the launcher ends, after writing kContainerDiskStopFile there (so one
// that answers only later, its image pulled after the launcher failed, ends
// at once instead of sleeping).
inline constexpr char kContainerDisksDir[] = "/var/run/vireo/container-disks";
inline constexpr char kContainerDiskSourceFile[] = "source";
inline constexpr char kContainerDiskErrorFile[] = "error";
inline constexpr char kContainerDiskStopFile[] = "stop";
// The file a containerDisk volume without `path` names in its image.
inline constexpr char kDefaultContainerDiskPath[] = "/disk";
// The Secrets a cloudInitNoCloud volume <vol> names: secretRef at
// kCloudInitSecretsDir/<vol>/kCloudInitUserDataDir, networkDataSecretRef at
// .../kCloudInitNetworkDataDir.
inline constexpr char kCloudInitSecretsDir[] = "/var/run/vireo/cloud-init-secrets";
inline constexpr char kCloudInitUserDataDir[] = "userdata";
inline constexpr char kCloudInitNetworkDataDir[] = "networkdata";
// Where the pod's first init container puts the launcher image's static
// busybox, for the containerDisk containers (their images may be FROM
// scratch).
inline constexpr char kToolsDir[] = "/var/run/vireo/tools";
// The static busybox in the launcher image the tools dir gets (Debian's
// busybox-static), and its name there.
inline constexpr char kBusyboxInLauncherImage[] = "/bin/busybox";
inline constexpr char kToolsBusybox[] = "busybox";
// In the launcher image: QEMU's capabilities probed at image build.
inline constexpr char kCapabilitiesCacheDir[] = "/usr/lib/vireo/qemu-capabilities";
// QEMU's TCG translation cache under software emulation (-accel
// tcg,tb-size): the launcher sets it, the controller counts it in the pod's
// memory request. QEMU's own default grows far larger.
inline constexpr uint32_t kTcgTranslationCacheMiB = 32;

// ----------------------------------------------------------------- metrics

// The launcher serves the guest's Prometheus metrics (KubeVirt's names) on
// this TCP port of the pod, path /metrics; the pod's container port
// "metrics" and its prometheus.io annotations name it. In the kernel's
// default ephemeral range, which passt never forwards to the guest, so no
// guest port is lost to it.
inline constexpr int kMetricsPort = 39100;
inline constexpr char kMetricsPortName[] = "metrics";
inline constexpr char kMetricsPath[] = "/metrics";
// The node the pod runs on (downward API spec.nodeName), the metrics' node
// label.
inline constexpr char kNodeNameEnv[] = "VIREO_NODE_NAME";
// Whether the VMI's interfaces list kMetricsPort for the guest: then the
// guest keeps it and the launcher serves no metrics.
bool GuestClaimsMetricsPort(const VirtualMachineInstanceSpec& spec);

// ------------------------------------------------------ the command line

inline constexpr char kBinary[] = "vireo-launcher";
// Subcommands the pod runs: the guest, the readiness probe, the postStart
// hook that waits for the domain, the KVM probe (init container), and what
// virtctl execs: the console, the VNC display and a guest's TCP port.
inline constexpr char kRun[] = "run";
inline constexpr char kProbe[] = "probe";
inline constexpr char kWaitRunning[] = "wait-running";
inline constexpr char kAccelProbe[] = "accel-probe";
inline constexpr char kConsole[] = "console";
inline constexpr char kVnc[] = "vnc";
inline constexpr char kForward[] = "forward";

// Flag names, without the leading "--".
inline constexpr char kFlagVmi[] = "vmi";                                  // run
inline constexpr char kFlagStateDir[] = "state-dir";                       // all but forward
inline constexpr char kFlagEmulation[] = "emulation";                      // run
inline constexpr char kFlagGracePeriodSeconds[] = "grace-period-seconds";  // run
inline constexpr char kFlagWaitSeconds[] = "wait-seconds";                 // console, wait-running
inline constexpr char kFlagPort[] = "port";                                // forward
// run: the container's postStart hook is wait-running (it must return
// before the launcher's exit ends the container).
inline constexpr char kFlagPostStartHook[] = "post-start-hook";
// wait-running as the postStart hook: how long it waits for the domain at
// most. While it waits the kubelet does nothing else for the pod (a
// deletion cancels it); after it the readiness probe's period takes over.
inline constexpr int kWaitRunningSeconds = 60;
// accel-probe: also copy the launcher image's static busybox
// (kBusyboxInLauncherImage) into this directory (kToolsDir), so a pod with
// the KVM probe and containerDisks needs no init container of its own for it.
inline constexpr char kFlagCopyToolsTo[] = "copy-tools-to";
// --grace-period-seconds: N, or this word: the launcher never destroys the
// guest by itself; whoever sent SIGTERM ends it (the kubelet, at the end of
// the pod's deletion grace period).
inline constexpr char kGraceUnbounded[] = "unbounded";

// --emulation: how the launcher runs guests.
//   kAuto: KVM when /dev/kvm works in the pod (a boot probe decides), else TCG.
//   kOn:   always TCG (software emulation).
//   kOff:  KVM only; without a usable KVM the guest does not start.
enum class EmulationMode { kAuto, kOn, kOff };
const char* EmulationModeName(EmulationMode mode);  // "auto", "on", "off"
std::optional<EmulationMode> ParseEmulationMode(std::string_view text);

// -------------------------------------------------------- the exit codes

// How `vireo-launcher run` ends: how the guest ended, or why it never ran.
// The controller maps kExitGuestPoweredOff to VMI Succeeded and anything
// else to Failed; docs/launcher.md lists them for people.
enum ExitCode : int {
  // The guest powered itself off (on its own, or after the ACPI power button
  // that SIGTERM pressed).
  kExitGuestPoweredOff = 0,
  // An unexpected failure of the launcher itself (state dir, libvirt setup).
  kExitInternal = 1,
  // Bad command line: a controller/launcher mismatch.
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
// "guest-powered-off", "qemu-ended", ...: the launcher's last log line says
// it; "unknown" for a code not above.
const char* ExitCodeName(int code);

}  // namespace vireo::api::launcher_pod
