// KubeVirt's defaulting, reduced to what Vireo acts on.
//
// Where Vireo chooses differently from KubeVirt, and why:
// - Disk bus: KubeVirt (amd64) defaults both disk and cdrom to sata since
//   v1.0. Vireo defaults disks to virtio: every cloud image Vireo targets has
//   the driver, it is much faster, and it was KubeVirt's own behaviour before.
//   Cdroms stay sata (libvirt refuses virtio cdroms).
// - Pod network binding: KubeVirt's cluster default is bridge; Vireo only
//   implements masquerade, so the auto-attached interface uses it.
// - KubeVirt computes several values at use without writing them into the
//   spec (cpu threads/cores of 0 read as 1, serial console on, bios when no
//   bootloader, 30 s grace period, virtio NIC model). Vireo writes them into
//   the VMI so the object shows what runs; the values are KubeVirt's.
// - Cpu topology: KubeVirt only fills it when cores, sockets and threads are
//   all unset; Vireo also turns a remaining 0 into 1 (same effect as above).
// - Firmware UUID: KubeVirt derives a VM's from its name (random for a bare
//   VMI); Vireo uses the VM's uid (the VMI's own uid for a bare VMI): stable
//   across restarts, though not across deleting and re-creating the VM.
// - Pull policy: KubeVirt treats any ':' in the image as a tag, so
//   "registry:5000/disk" gets IfNotPresent; Vireo looks for the tag in the
//   last path component only, as Kubernetes does for pods.
#include "lib/api/defaults.h"

#include <string>
#include <string_view>
#include <utility>

#include "lib/api/quantity.h"

namespace vireo::api {
namespace {

constexpr char kMemory[] = "memory";
constexpr char kCpu[] = "cpu";

bool HasPositive(const std::map<std::string, Quantity>& list, const char* name) {
  auto it = list.find(name);
  if (it == list.end()) return false;
  base::Result<int64_t> value = ParseQuantityValue(it->second);
  return value.ok() && *value > 0;
}

void DefaultResourcesAndMemory(DomainSpec& domain) {
  ResourceRequirements& res = domain.resources;
  if (!res.requests.contains(kCpu) && res.limits.contains(kCpu)) {
    res.requests[kCpu] = res.limits[kCpu];
  }
  if (!res.requests.contains(kMemory) && HasPositive(res.limits, kMemory)) {
    res.requests[kMemory] = res.limits[kMemory];
  }
  const bool has_guest = domain.memory.has_value() && !domain.memory->guest.empty();
  if (!res.requests.contains(kMemory) && has_guest) {
    base::Result<int64_t> guest = ParseQuantityValue(domain.memory->guest);
    if (guest.ok() && *guest > 0) res.requests[kMemory] = domain.memory->guest;
  }
  if (!has_guest && HasPositive(res.requests, kMemory)) {
    if (!domain.memory.has_value()) domain.memory.emplace();
    domain.memory->guest = res.requests[kMemory];
  }
}

// Sockets follow the cpu count asked for (better guest performance than
// cores, per KubeVirt); a fraction such as 500m still needs one vCPU.
uint32_t SocketsFor(const ResourceRequirements& res) {
  for (const auto* list : {&res.limits, &res.requests}) {
    auto it = list->find(kCpu);
    if (it == list->end()) continue;
    base::Result<int64_t> cpus = ParseQuantityValue(it->second);
    if (cpus.ok() && *cpus >= 1 && *cpus <= UINT32_MAX) return static_cast<uint32_t>(*cpus);
    return 1;
  }
  return 1;
}

void DefaultCpu(DomainSpec& domain) {
  if (!domain.cpu.has_value()) domain.cpu.emplace();
  Cpu& cpu = *domain.cpu;
  if (cpu.cores == 0 && cpu.sockets == 0 && cpu.threads == 0) {
    cpu.sockets = SocketsFor(domain.resources);
  }
  for (uint32_t* n : {&cpu.cores, &cpu.sockets, &cpu.threads}) {
    if (*n == 0) *n = 1;
  }
}

void DefaultFirmware(DomainSpec& domain) {
  if (!domain.firmware.has_value()) domain.firmware.emplace();
  Firmware& firmware = *domain.firmware;
  if (!firmware.bootloader.has_value()) firmware.bootloader.emplace();
  Bootloader& boot = *firmware.bootloader;
  if (!boot.bios.has_value() && !boot.efi.has_value()) boot.bios.emplace();
  if (boot.efi.has_value() && !boot.efi->secure_boot.has_value()) boot.efi->secure_boot = true;
}

bool HasKey(const Json& extra, const char* key) { return extra.is_object() && extra.contains(key); }

void DefaultDisks(VirtualMachineInstanceSpec& spec) {
  std::vector<Disk>& disks = spec.domain.devices.disks;
  for (Disk& disk : disks) {
    // A lun is not modelled; leave it for validation to report.
    if (!disk.disk.has_value() && !disk.cdrom.has_value() && !HasKey(disk.extra, "lun")) {
      disk.disk.emplace();
    }
    if (disk.disk.has_value() && disk.disk->bus.empty()) disk.disk->bus = kDefaultDiskBus;
    if (disk.cdrom.has_value()) {
      if (disk.cdrom->bus.empty()) disk.cdrom->bus = kDefaultCdromBus;
      if (!disk.cdrom->readonly.has_value()) disk.cdrom->readonly = true;
    }
  }
}

// Kubernetes' rule: no tag or ":latest" pulls every time.
std::string PullPolicyFor(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return "IfNotPresent";
  const size_t slash = image.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  const size_t colon = last.rfind(':');
  if (colon == std::string_view::npos || last.substr(colon + 1) == "latest") return "Always";
  return "IfNotPresent";
}

void DefaultVolumes(VirtualMachineInstanceSpec& spec) {
  for (Volume& volume : spec.volumes) {
    if (volume.container_disk.has_value() && volume.container_disk->image_pull_policy.empty() &&
        !volume.container_disk->image.empty()) {
      volume.container_disk->image_pull_policy = PullPolicyFor(volume.container_disk->image);
    }
  }
}

void DefaultNetworking(VirtualMachineInstanceSpec& spec) {
  for (Interface& iface : spec.domain.devices.interfaces) {
    if (iface.model.empty()) iface.model = kDefaultInterfaceModel;
  }
}

}  // namespace

void AddDefaultDevices(VirtualMachineInstanceSpec* spec) {
  Devices& devices = spec->domain.devices;
  for (const Volume& volume : spec->volumes) {
    if (FindDisk(*spec, volume.name) != nullptr) continue;
    Disk disk;
    disk.name = volume.name;
    devices.disks.push_back(std::move(disk));
  }
  const bool autoattach = devices.autoattach_pod_interface.value_or(true);
  if (autoattach && spec->networks.empty() && devices.interfaces.empty()) {
    Interface iface;
    iface.name = kDefaultNetworkName;
    iface.masquerade.emplace();
    devices.interfaces.push_back(std::move(iface));
    Network network;
    network.name = kDefaultNetworkName;
    network.pod.emplace();
    spec->networks.push_back(std::move(network));
  }
}

void ApplyVmiSpecDefaults(VirtualMachineInstanceSpec* spec) {
  AddDefaultDevices(spec);
  DomainSpec& domain = spec->domain;
  if (!domain.machine.has_value()) domain.machine.emplace();
  if (domain.machine->type.empty()) domain.machine->type = kDefaultMachineType;
  DefaultResourcesAndMemory(domain);
  DefaultCpu(domain);
  DefaultFirmware(domain);
  DefaultDisks(*spec);
  DefaultVolumes(*spec);
  DefaultNetworking(*spec);
  if (!domain.devices.autoattach_serial_console.has_value()) {
    domain.devices.autoattach_serial_console = true;
  }
  // KubeVirt attaches a graphics device (VNC and a VGA card) unless told not
  // to; the CRD says the same. Written here so the VMI shows it.
  if (!domain.devices.autoattach_graphics_device.has_value()) {
    domain.devices.autoattach_graphics_device = true;
  }
  if (!spec->termination_grace_period_seconds.has_value()) {
    spec->termination_grace_period_seconds = kDefaultTerminationGracePeriodSeconds;
  }
}

void ApplyVmiDefaults(VirtualMachineInstance* vmi) {
  ApplyVmiSpecDefaults(&vmi->spec);
  Firmware& firmware = *vmi->spec.domain.firmware;  // set by the spec defaults
  if (!firmware.uuid.empty()) return;
  for (const OwnerReference& owner : vmi->metadata.owner_references) {
    if (owner.controller.value_or(false) && owner.kind == kVirtualMachineKind) {
      firmware.uuid = owner.uid;
      return;
    }
  }
  firmware.uuid = vmi->metadata.uid;
}

void ApplyVmDefaults(VirtualMachine* vm) {
  DomainSpec& domain = vm->spec.template_spec.spec.domain;
  if (!domain.machine.has_value()) domain.machine.emplace();
  if (domain.machine->type.empty()) domain.machine->type = kDefaultMachineType;
}

base::Result<RunStrategy> EffectiveRunStrategy(const VirtualMachineSpec& spec) {
  if (spec.running.has_value() && spec.run_strategy.has_value()) {
    return base::Status(base::Code::kInvalid,
                        "spec.running and spec.runStrategy are mutually exclusive; "
                        "remove spec.running");
  }
  if (spec.run_strategy.has_value()) return *spec.run_strategy;
  if (spec.running.has_value() && *spec.running) return RunStrategy::kAlways;
  return RunStrategy::kHalted;
}

bool SecureBootOn(const VirtualMachineInstanceSpec& spec) {
  const std::optional<Firmware>& firmware = spec.domain.firmware;
  return firmware.has_value() && firmware->bootloader.has_value() &&
         firmware->bootloader->efi.has_value() &&
         firmware->bootloader->efi->secure_boot.value_or(true);
}

bool SmmOn(const VirtualMachineInstanceSpec& spec) {
  const std::optional<Features>& features = spec.domain.features;
  if (features.has_value() && features->smm.has_value()) {
    return features->smm->enabled.value_or(true);
  }
  return SecureBootOn(spec);
}

}  // namespace vireo::api
