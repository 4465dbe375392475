// Renders the launcher Pod of a VMI, following the contract with
// vireo-launcher (lib/api/launcher_pod.h, docs/launcher-pod.md): command, the
// VMI handed over as a file, resources with the overhead of
// docs/controller.md, volumes, /dev/kvm.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "controllers/reconcile/common.h"
#include "lib/api/launcher_pod.h"
#include "lib/api/types.h"
#include "lib/base/status.h"

namespace vireo::controllers {

// How the launcher runs guests: its --emulation flag (the contract's enum,
// lib/api/launcher_pod.h). For the pod:
//   kAuto: with LauncherConfig::kvm_resource_offered the pod asks for the KVM
//          resource (a device plugin gives /dev/kvm where the node has it)
//          and an init container probes KVM first (its verdict becomes the
//          VMI's SoftwareEmulation condition); without, it asks for nothing
//          and schedules anywhere (and gets no /dev/kvm: TCG).
//   kOn:   no KVM device asked for.
//   kOff:  the pod asks for the KVM device resource, so it only schedules on
//          nodes that offer it.
using api::launcher_pod::EmulationMode;

// Memory the launcher pod needs beyond the guest's RAM: the formula
// bench/overhead derives from the peaks it measures (docs/controller.md,
// "Resources and the memory overhead", has the run these come from).
struct MemoryOverhead {
  // vireo-launcher with its embedded libvirt, QEMU's own code and heap, and
  // the kernel's memory for them (peaks, startup transients included).
  int64_t fixed_bytes = 98LL << 20;
  // Per vCPU: QEMU's vCPU thread and, under TCG, what it grows while the
  // guest runs (measured under TCG only: more than KVM needs).
  int64_t per_vcpu_bytes = 8LL << 20;
  // The kernel's page tables for the guest's RAM: 8 bytes per 4 KiB page.
  int64_t guest_memory_divisor = 512;
  // Per disk: QEMU's block layer (qcow2 caches, buffers, I/O threads).
  int64_t per_disk_bytes = 6LL << 20;
  // TCG's translation cache at the size the launcher gives it; counted for
  // emulation on and auto (auto falls back to TCG when the pod has no
  // /dev/kvm). Counted whole: another guest's code can fill it.
  int64_t tcg_translation_cache_bytes = int64_t{api::launcher_pod::kTcgTranslationCacheMiB} << 20;
  // passt, the guest's network (launcher/passt.h), when the VMI has an
  // interface: its own memory (20.9 MB measured with two ports), and the
  // kernel's per forwarded port and protocol (one socket each, ~3.5 KB
  // measured in a memory cgroup). An interface without ports forwards every
  // TCP and UDP port outside Linux's default ephemeral range: 2 x 37,303.
  int64_t passt_bytes = 24LL << 20;
  int64_t per_forwarded_port_bytes = 4LL << 10;
  int64_t all_ports_forwarded = 2 * 37303;
  // On top of the sum: for what the bench's guests did not do (chart value
  // launcher.memoryOverheadMargin, --launcher-memory-overhead-margin).
  int64_t margin_bytes = 16LL << 20;
};

struct LauncherConfig {
  std::string image;  // the vireo-launcher image (required)
  std::string image_pull_policy = "IfNotPresent";
  EmulationMode emulation = EmulationMode::kAuto;
  // vCPUs per CPU of request when the VMI asks for no CPU (KubeVirt's
  // cpuAllocationRatio): request = vCPUs * 1000m / ratio.
  int64_t cpu_allocation_ratio = 10;
  // The extended resource a device plugin offers /dev/kvm as (KubeVirt's
  // name, so nodes prepared for KubeVirt work); asked for in mode kOff, and
  // in kAuto when kvm_resource_offered.
  std::string kvm_resource = "devices.kubevirt.io/kvm";
  // Every node the launcher pods may run on offers kvm_resource (the chart's
  // device plugin, which offers it on every node, or KubeVirt's).
  bool kvm_resource_offered = false;
  // Pod terminationGracePeriodSeconds = the VMI's + this: time for the
  // launcher to destroy the domain and exit after the guest's grace period.
  int64_t termination_grace_margin_seconds = 15;
  // The seccomp profile of the launcher container of a VMI with an interface
  // (passt's sandbox needs four calls RuntimeDefault refuses): a Localhost
  // profile, relative to the kubelet's seccomp directory, that every node
  // holds (manifests/seccomp/vireo-launcher.json). Empty: that container
  // names no profile (docs/launcher-pod.md).
  std::string passt_seccomp_profile;
  MemoryOverhead overhead;
};

// "virt-launcher-<vmi name>-<suffix>". The suffix is 5 characters derived
// from the VMI's uid (Kubernetes' generateName alphabet), not random: two
// creates of the launcher pod of one VMI (a retry after a timeout, a
// reconcile that ran before the informer showed the first pod, a controller
// restarted in between) name the same pod, so the second meets AlreadyExists
// instead of making a twin. A restarted VM has a new VMI uid, hence a new pod
// name, so a new pod never collides with the old one still terminating.
std::string LauncherPodName(const api::VirtualMachineInstance& vmi);

// The launcher pod's memory request in bytes: the VMI's requests.memory
// (which defaults to the guest memory) + overhead, rounded up to whole MiB so
// it reads well in `kubectl describe`. limits.memory, when the VMI has one,
// gets the same overhead.
// kInvalid when the VMI's memory is unset or not a quantity.
base::Result<int64_t> LauncherMemoryRequestBytes(const api::VirtualMachineInstanceSpec& spec,
                                                 const LauncherConfig& config);

// The launcher Pod (a core/v1 Pod JSON object, ready to POST) for `vmi`,
// whose spec must have defaults applied (api::ApplyVmiDefaults) and which must
// have its uid. `claims` gives the volume mode of each PVC (a claim absent
// from it is rendered as Filesystem). In short (details: docs/controller.md):
// - name LauncherPodName(vmi), the VMI's namespace, labels kAppLabel,
//   kCreatedByLabel, kVmNameLabel plus the VMI's labels; a controller owner
//   reference to the VMI with blockOwnerDeletion;
// - annotation kVmiAnnotation = the VMI JSON (no status, resourceVersion,
//   managedFields or kubectl's last-applied copy), projected by a
//   downwardAPI volume to /var/run/vireo/vmi/vmi.json;
// - container kLauncherContainer running `vireo-launcher run ...` exactly as
//   the contract says, an exec readiness probe `vireo-launcher probe`,
//   resources (memory = LauncherMemoryRequestBytes, CPU from the VMI or
//   vCPUs / ratio, limits when the VMI has limits, the KVM resource in kOff,
//   and in kAuto when config.kvm_resource_offered);
// - in kAuto with kvm_resource_offered, a first init container
//   kAccelProbeContainer running `vireo-launcher accel-probe` with the KVM
//   resource and the state dir: it leaves its verdict there for the launcher
//   and in its termination message for the controller; with containerDisks
//   it first copies the launcher image's busybox into the tools volume
//   (--copy-tools-to), in place of ToolsInitContainer (disk_containers.h);
// - an emptyDir state dir; PVCs mounted at /var/run/vireo/volumes/<vol>/ or as
//   block devices at /dev/vireo/<vol>; per containerDisk a container
//   "cd-<vol>" before the launcher (ServeDiskScript) serving its file in
//   place, with an emptyDir at /var/run/vireo/container-disks/<vol>/ for its
//   answer, and shareProcessNamespace;
//   firmware.kernelBoot's kernel and initrd copied by the init container
//   "vireo-kernel-boot" (CopyKernelScript) into an emptyDir at
//   contract::kKernelBootDir;
// - restartPolicy Never, automountServiceAccountToken false,
//   terminationGracePeriodSeconds = the VMI's + margin, nodeSelector,
//   affinity, tolerations, hostname and subdomain from the VMI.
// kInvalid (naming the field) for a VMI it cannot render: a quantity that
// does not parse, no memory, a volume name the pod reserves ("vireo-...").
// Pure: the same inputs give the same JSON.
base::Result<Json> RenderLauncherPod(const api::VirtualMachineInstance& vmi,
                                     const LauncherConfig& config, const Claims& claims);

}  // namespace vireo::controllers
