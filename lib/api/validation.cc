// Validation of VMI specs and VMs beyond the CRD schema (see validation.h).
#include "lib/api/validation.h"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/api/bounds.h"
#include "lib/api/defaults.h"
#include "lib/api/quantity.h"

namespace vireo::api {
namespace {

constexpr char kMemory[] = "memory";

// Sources and bindings KubeVirt knows but Vireo does not implement; named so
// the error says "not supported" rather than "missing".
constexpr std::array<const char*, 10> kUnsupportedVolumeSources = {
    "hostDisk",    "cloudInitConfigDrive", "configMap", "secret",  "serviceAccount",
    "downwardAPI", "downwardMetrics",      "ephemeral", "sysprep", "memoryDump"};
constexpr std::array<const char*, 7> kUnsupportedBindings = {
    "bridge", "sriov", "slirp", "macvtap", "passt", "passtBinding", "binding"};
constexpr char kSupportedSources[] =
    "containerDisk, persistentVolumeClaim, dataVolume, cloudInitNoCloud, emptyDisk";

bool Has(const Json& extra, const char* key) {
  return extra.is_object() && extra.contains(key) && !extra.at(key).is_null();
}

// Built by appends: GCC 12 at -O3 warns falsely (-Wrestrict) on the
// operator+ chain, which would fail the release build's -Werror.
std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

// "VirtualMachine default/vm1", for the Status message.
std::string Describe(const char* kind, const ObjectMeta& meta) {
  std::string out = std::string(kind) + " ";
  if (!meta.namespace_.empty()) out += meta.namespace_ + "/";
  return out + meta.name;
}

// The parsed quantity, or nullopt after reporting why it does not parse.
std::optional<int64_t> CheckQuantity(const Quantity& text, const std::string& path,
                                     Problems& problems) {
  base::Result<int64_t> value = ParseQuantityValue(text);
  if (!value.ok()) {
    problems.Add(path, kReasonInvalid, value.status().message());
    return std::nullopt;
  }
  return *value;
}

std::optional<int64_t> CheckPositiveQuantity(const Quantity& text, const std::string& path,
                                             Problems& problems) {
  std::optional<int64_t> value = CheckQuantity(text, path, problems);
  if (value.has_value() && *value <= 0) {
    problems.Add(path, kReasonInvalid, Quoted(text) + " must be greater than zero");
    return std::nullopt;
  }
  return value;
}

// `what` ("16Ti") for the message saying a quantity is too large.
std::string Binary(int64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  size_t unit = 0;
  while (unit + 1 < kUnits.size() && bytes % 1024 == 0 && bytes >= 1024) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + kUnits[unit];
}

// A positive quantity no larger than `max`; nullopt after reporting why not.
std::optional<int64_t> CheckBoundedQuantity(const Quantity& text, int64_t max,
                                            const std::string& path, Problems& problems) {
  std::optional<int64_t> value = CheckPositiveQuantity(text, path, problems);
  if (value.has_value() && *value > max) {
    problems.Add(path, kReasonInvalid,
                 Quoted(text) + " is larger than Vireo's limit of " + Binary(max));
    return std::nullopt;
  }
  return value;
}

// Reports a duplicate at `path` when `name` was seen before; empty names are
// reported as missing instead.
void CheckName(const std::string& name, const std::string& path, const char* what,
               std::map<std::string, std::string>& seen, Problems& problems) {
  if (name.empty()) {
    problems.Add(path, kReasonRequired, std::string(what) + " needs a name");
    return;
  }
  auto [it, inserted] = seen.emplace(name, path);
  if (!inserted) {
    problems.Add(path, kReasonDuplicate,
                 std::string(what) + " name " + Quoted(name) + " is already used by " + it->second);
  }
}

void ValidateMemory(const DomainSpec& domain, const std::string& path, Problems& problems) {
  const std::string resources = FieldPath(path, "resources");
  std::map<std::string, std::optional<int64_t>> memory;  // "requests"/"limits" -> bytes
  for (const auto& [list_name, list] : {std::pair{"requests", &domain.resources.requests},
                                        std::pair{"limits", &domain.resources.limits}}) {
    const std::string list_path = FieldPath(resources, list_name);
    for (const auto& [name, text] : *list) {
      const std::string item = KeyPath(list_path, name);
      if (name == kMemory) {
        memory[list_name] = CheckBoundedQuantity(text, kMaxMemoryBytes, item, problems);
      } else if (std::optional<int64_t> v = CheckQuantity(text, item, problems); v && *v < 0) {
        problems.Add(item, kReasonInvalid, Quoted(text) + " must not be negative");
      }
    }
  }
  std::optional<int64_t> guest;
  const bool has_guest = domain.memory.has_value() && !domain.memory->guest.empty();
  if (has_guest) {
    guest = CheckBoundedQuantity(domain.memory->guest, kMaxMemoryBytes,
                                 FieldPath(path, "memory.guest"), problems);
  }
  if (!has_guest && !domain.resources.requests.contains(kMemory) &&
      !domain.resources.limits.contains(kMemory)) {
    problems.Add(FieldPath(path, "memory.guest"), kReasonRequired,
                 "the VM needs memory: set domain.memory.guest or "
                 "domain.resources.requests.memory");
  }
  const std::optional<int64_t> limit = memory["limits"];
  if (limit.has_value() && guest.has_value() && *guest > *limit) {
    problems.Add(FieldPath(path, "memory.guest"), kReasonInvalid,
                 Quoted(domain.memory->guest) + " exceeds domain.resources.limits.memory " +
                     Quoted(domain.resources.limits.at(kMemory)));
  }
  const std::optional<int64_t> request = memory["requests"];
  if (limit.has_value() && request.has_value() && *request > *limit) {
    problems.Add(KeyPath(FieldPath(resources, "requests"), kMemory), kReasonInvalid,
                 "the request exceeds the limit " + Quoted(domain.resources.limits.at(kMemory)));
  }
}

void CheckBus(const DiskTarget& target, const std::string& path, bool cdrom, Problems& problems) {
  if (target.bus.empty()) return;
  const bool ok = cdrom ? (target.bus == "sata" || target.bus == "scsi")
                        : (target.bus == "virtio" || target.bus == "sata" || target.bus == "scsi" ||
                           target.bus == "usb");
  if (!ok) {
    problems.Add(FieldPath(path, "bus"), kReasonNotSupported,
                 "unsupported bus " + Quoted(target.bus) + ": expected one of " +
                     (cdrom ? "sata, scsi" : "virtio, sata, scsi, usb"));
  }
}

// bootOrder: > 0 and unique across disks and interfaces.
void CheckBootOrder(const std::optional<int64_t>& order, const std::string& path,
                    std::map<int64_t, std::string>& seen, Problems& problems) {
  if (!order.has_value()) return;
  const std::string field = FieldPath(path, "bootOrder");
  if (*order <= 0) {
    problems.Add(field, kReasonInvalid, "must be greater than zero, got " + std::to_string(*order));
    return;
  }
  auto [it, inserted] = seen.emplace(*order, field);
  if (!inserted) {
    problems.Add(field, kReasonDuplicate,
                 "boot order " + std::to_string(*order) + " is already used by " + it->second);
  }
}

void ValidateDisks(const VirtualMachineInstanceSpec& spec, const std::string& path,
                   std::map<int64_t, std::string>& boot_orders, Problems& problems) {
  const std::string disks = FieldPath(path, "domain.devices.disks");
  std::map<std::string, std::string> names;
  for (size_t i = 0; i < spec.domain.devices.disks.size(); ++i) {
    const Disk& disk = spec.domain.devices.disks[i];
    const std::string at = IndexPath(disks, i);
    CheckName(disk.name, FieldPath(at, "name"), "a disk", names, problems);
    if (!disk.name.empty() && FindVolume(spec, disk.name) == nullptr) {
      problems.Add(FieldPath(at, "name"), kReasonNotFound,
                   "no volume named " + Quoted(disk.name) + " in " + FieldPath(path, "volumes"));
    }
    const bool lun = Has(disk.extra, "lun");
    if (lun) problems.Add(FieldPath(at, "lun"), kReasonNotSupported, "lun disks are not supported");
    if (disk.disk.has_value() + disk.cdrom.has_value() + lun > 1) {
      problems.Add(at, kReasonInvalid, "set only one of disk, cdrom, lun");
    }
    if (disk.disk.has_value()) CheckBus(*disk.disk, FieldPath(at, "disk"), false, problems);
    if (disk.cdrom.has_value()) CheckBus(*disk.cdrom, FieldPath(at, "cdrom"), true, problems);
    CheckBootOrder(disk.boot_order, at, boot_orders, problems);
  }
}

bool IsBase64(std::string_view text) {
  size_t length = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;  // line breaks are tolerated, as by Go's decoder
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      ++padding;
    } else if (!alphabet || padding > 0) {
      return false;
    }
    ++length;
  }
  return length % 4 == 0 && padding <= 2;
}

void ValidateNoCloud(const CloudInitNoCloudSource& source, const std::string& path,
                     Problems& problems) {
  if (!source.secret_ref.empty() &&
      (!source.user_data.empty() || !source.user_data_base64.empty())) {
    problems.Add(FieldPath(path, "secretRef"), kReasonInvalid,
                 "set only one of userData, userDataBase64, secretRef");
  }
  if (!source.network_data_secret_ref.empty() &&
      (!source.network_data.empty() || !source.network_data_base64.empty())) {
    problems.Add(FieldPath(path, "networkDataSecretRef"), kReasonInvalid,
                 "set only one of networkData, networkDataBase64, networkDataSecretRef");
  }
  for (const auto& [key, value] : {std::pair{"userData", &source.user_data},
                                   std::pair{"userDataBase64", &source.user_data_base64},
                                   std::pair{"networkData", &source.network_data},
                                   std::pair{"networkDataBase64", &source.network_data_base64}}) {
    if (static_cast<int64_t>(value->size()) > kMaxCloudInitInlineBytes) {
      problems.Add(FieldPath(path, key), kReasonInvalid,
                   std::to_string(value->size()) + " bytes: Vireo takes at most " +
                       std::to_string(kMaxCloudInitInlineBytes) +
                       " inline; put larger data in a Secret and name it in secretRef "
                       "(networkDataSecretRef for networkData)");
    }
  }
  if (!source.user_data.empty() && !source.user_data_base64.empty()) {
    problems.Add(FieldPath(path, "userDataBase64"), kReasonInvalid,
                 "set only one of userData, userDataBase64");
  }
  if (!source.network_data.empty() && !source.network_data_base64.empty()) {
    problems.Add(FieldPath(path, "networkDataBase64"), kReasonInvalid,
                 "set only one of networkData, networkDataBase64");
  }
  for (const auto& [key, value] : {std::pair{"userDataBase64", &source.user_data_base64},
                                   std::pair{"networkDataBase64", &source.network_data_base64}}) {
    if (!value->empty() && !IsBase64(*value)) {
      problems.Add(FieldPath(path, key), kReasonInvalid, "not valid base64");
    }
  }
  if (source.user_data.empty() && source.user_data_base64.empty() && source.network_data.empty() &&
      source.network_data_base64.empty() && source.secret_ref.empty() &&
      source.network_data_secret_ref.empty()) {
    problems.Add(FieldPath(path, "userData"), kReasonRequired,
                 "set userData, userDataBase64, networkData, networkDataBase64, secretRef or "
                 "networkDataSecretRef");
  }
}

void ValidateVolume(const Volume& volume, const std::string& at, Problems& problems) {
  std::vector<std::string> sources;
  if (volume.container_disk.has_value()) sources.push_back("containerDisk");
  if (volume.persistent_volume_claim.has_value()) sources.push_back("persistentVolumeClaim");
  if (volume.cloud_init_no_cloud.has_value()) sources.push_back("cloudInitNoCloud");
  if (volume.empty_disk.has_value()) sources.push_back("emptyDisk");
  if (volume.data_volume.has_value()) sources.push_back("dataVolume");
  for (const char* other : kUnsupportedVolumeSources) {
    if (!Has(volume.extra, other)) continue;
    sources.push_back(other);
    problems.Add(
        FieldPath(at, other), kReasonNotSupported,
        std::string(other) + " volumes are not supported; use one of " + kSupportedSources);
  }
  if (sources.empty()) {
    problems.Add(at, kReasonRequired,
                 std::string("the volume needs a source: one of ") + kSupportedSources);
  } else if (sources.size() > 1) {
    std::string found;
    for (const std::string& s : sources) found += (found.empty() ? "" : ", ") + s;
    problems.Add(at, kReasonInvalid, "set exactly one volume source, found " + found);
  }

  if (volume.container_disk.has_value() && volume.container_disk->image.empty()) {
    problems.Add(FieldPath(at, "containerDisk.image"), kReasonRequired,
                 "the container image holding the disk is required");
  }
  if (volume.container_disk.has_value()) {
    const std::string& path = volume.container_disk->path;
    // A ".." component, as the CRD's rule (crds/src/vmi-spec.yaml) says.
    for (size_t start = 0; start <= path.size();) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      if (path.compare(start, end - start, "..") == 0 && end - start == 2) {
        problems.Add(FieldPath(at, "containerDisk.path"), kReasonInvalid,
                     "must not contain '..': containerDisk.path names a file inside the "
                     "container image");
        break;
      }
      start = end + 1;
    }
  }
  if (volume.persistent_volume_claim.has_value() &&
      volume.persistent_volume_claim->claim_name.empty()) {
    problems.Add(FieldPath(at, "persistentVolumeClaim.claimName"), kReasonRequired,
                 "the name of a PersistentVolumeClaim in the VM's namespace is required");
  }
  if (volume.data_volume.has_value() && volume.data_volume->name.empty()) {
    problems.Add(FieldPath(at, "dataVolume.name"), kReasonRequired,
                 "the name of a DataVolume in the VM's namespace is required");
  }
  if (volume.empty_disk.has_value()) {
    const std::string capacity = FieldPath(at, "emptyDisk.capacity");
    if (volume.empty_disk->capacity.empty()) {
      problems.Add(capacity, kReasonRequired, "the size of the empty disk is required");
    } else {
      CheckBoundedQuantity(volume.empty_disk->capacity, kMaxDiskBytes, capacity, problems);
    }
  }
  if (volume.cloud_init_no_cloud.has_value()) {
    ValidateNoCloud(*volume.cloud_init_no_cloud, FieldPath(at, "cloudInitNoCloud"), problems);
  }
}

bool IsMacAddress(std::string_view mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    const char c = mac[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

void ValidateInterface(const VirtualMachineInstanceSpec& spec, const Interface& iface,
                       const std::string& at, Problems& problems) {
  if (!iface.name.empty() && FindNetwork(spec, iface.name) == nullptr) {
    problems.Add(FieldPath(at, "name"), kReasonNotFound,
                 "no network named " + Quoted(iface.name) + " in networks");
  }
  bool other_binding = false;
  for (const char* binding : kUnsupportedBindings) {
    if (!Has(iface.extra, binding)) continue;
    other_binding = true;
    problems.Add(FieldPath(at, binding), kReasonNotSupported,
                 std::string("the ") + binding + " binding is not supported; use masquerade: {}");
  }
  if (!iface.masquerade.has_value() && !other_binding) {
    problems.Add(FieldPath(at, "masquerade"), kReasonRequired,
                 "the interface needs a binding: masquerade: {}");
  }
  if (!iface.mac_address.empty() && !IsMacAddress(iface.mac_address)) {
    problems.Add(FieldPath(at, "macAddress"), kReasonInvalid,
                 Quoted(iface.mac_address) + " is not a MAC address like 02:00:00:00:00:01");
  }
  for (size_t p = 0; p < iface.ports.size(); ++p) {
    const Port& port = iface.ports[p];
    const std::string port_at = IndexPath(FieldPath(at, "ports"), p);
    if (port.port < 1 || port.port > 65535) {
      problems.Add(FieldPath(port_at, "port"), kReasonInvalid,
                   "must be between 1 and 65535, got " + std::to_string(port.port));
    }
    if (!port.protocol.empty() && port.protocol != "TCP" && port.protocol != "UDP") {
      problems.Add(FieldPath(port_at, "protocol"), kReasonNotSupported,
                   "unsupported protocol " + Quoted(port.protocol) + ": expected TCP or UDP");
    }
  }
}

void ValidateNetworking(const VirtualMachineInstanceSpec& spec, const std::string& path,
                        std::map<int64_t, std::string>& boot_orders, Problems& problems) {
  const std::string networks = FieldPath(path, "networks");
  std::map<std::string, std::string> network_names;
  std::optional<std::string> pod_network;
  for (size_t i = 0; i < spec.networks.size(); ++i) {
    const Network& network = spec.networks[i];
    const std::string at = IndexPath(networks, i);
    CheckName(network.name, FieldPath(at, "name"), "a network", network_names, problems);
    const bool multus = Has(network.extra, "multus");
    if (multus) {
      problems.Add(FieldPath(at, "multus"), kReasonNotSupported,
                   "multus networks are not supported; use pod: {}");
    }
    if (network.pod.has_value()) {
      if (pod_network.has_value()) {
        problems.Add(FieldPath(at, "pod"), kReasonDuplicate,
                     "only one pod network is allowed; " + *pod_network + " is one already");
      } else {
        pod_network = at;
      }
    } else if (!multus) {
      problems.Add(FieldPath(at, "pod"), kReasonRequired, "the network needs a source: pod: {}");
    }
  }

  const std::string interfaces = FieldPath(path, "domain.devices.interfaces");
  std::map<std::string, std::string> interface_names;
  for (size_t i = 0; i < spec.domain.devices.interfaces.size(); ++i) {
    const Interface& iface = spec.domain.devices.interfaces[i];
    const std::string at = IndexPath(interfaces, i);
    CheckName(iface.name, FieldPath(at, "name"), "an interface", interface_names, problems);
    ValidateInterface(spec, iface, at, problems);
    CheckBootOrder(iface.boot_order, at, boot_orders, problems);
  }
}

}  // namespace

void ValidateVmiSpec(const VirtualMachineInstanceSpec& spec, std::string_view path_view,
                     Problems& problems) {
  const std::string path(path_view);
  ValidateMemory(spec.domain, FieldPath(path, "domain"), problems);
  if (spec.eviction_strategy == kEvictionLiveMigrate) {
    problems.Add(FieldPath(path, "evictionStrategy"), kReasonNotSupported,
                 std::string(kEvictionLiveMigrateRefusal));
  }

  const std::optional<Firmware>& firmware = spec.domain.firmware;
  if (firmware.has_value() && firmware->bootloader.has_value() &&
      firmware->bootloader->bios.has_value() && firmware->bootloader->efi.has_value()) {
    problems.Add(FieldPath(path, "domain.firmware.bootloader"), kReasonInvalid,
                 "set only one of bios, efi");
  }
  if (SecureBootOn(spec) && !SmmOn(spec)) {
    problems.Add(FieldPath(path, "domain.features.smm.enabled"), kReasonInvalid,
                 "EFI secure boot needs SMM: enable smm or set "
                 "domain.firmware.bootloader.efi.secureBoot to false");
  }

  std::map<std::string, std::string> volume_names;
  for (size_t i = 0; i < spec.volumes.size(); ++i) {
    const std::string at = IndexPath(FieldPath(path, "volumes"), i);
    CheckName(spec.volumes[i].name, FieldPath(at, "name"), "a volume", volume_names, problems);
    ValidateVolume(spec.volumes[i], at, problems);
  }

  std::map<int64_t, std::string> boot_orders;
  ValidateDisks(spec, path, boot_orders, problems);
  ValidateNetworking(spec, path, boot_orders, problems);

  if (spec.termination_grace_period_seconds.value_or(0) < 0) {
    problems.Add(FieldPath(path, "terminationGracePeriodSeconds"), kReasonInvalid,
                 "must not be negative");
  }
}

base::Status ValidateVirtualMachine(const VirtualMachine& vm) {
  Problems problems;
  if (vm.spec.running.has_value() && vm.spec.run_strategy.has_value()) {
    problems.Add("spec.running", kReasonInvalid,
                 "spec.running and spec.runStrategy are mutually exclusive; remove spec.running");
  }
  ValidateVmiSpec(vm.spec.template_spec.spec, "spec.template.spec", problems);
  return problems.ToStatus(Describe(kVirtualMachineKind, vm.metadata));
}

base::Status ValidateVirtualMachineInstance(const VirtualMachineInstance& vmi) {
  Problems problems;
  ValidateVmiSpec(vmi.spec, "spec", problems);
  return problems.ToStatus(Describe(kVirtualMachineInstanceKind, vmi.metadata));
}

}  // namespace vireo::api
