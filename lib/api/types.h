// Plain structs for the subset of kubevirt.io/v1 VirtualMachine and
// VirtualMachineInstance that Vireo understands (README.md lists it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/json.h"

namespace vireo::api {

using base::Json;

// Every modelled JSON object keeps the keys it does not model in `extra` (an
// object, or null when there were none), so that decode -> encode loses
// nothing a user or another controller wrote. The codec also leaves in
// `extra` any value it cannot tell apart from "absent" in these structs (null,
// "", 0, false, {} or [] for a non-optional field), which keeps round trips
// exact. On encode the modelled fields win over `extra`.

using StringMap = std::map<std::string, std::string>;

// A resource.Quantity exactly as written ("128Mi", "500m", "1"). JSON numbers
// are accepted on decode and become their decimal text; see quantity.h to
// compute with one.
using Quantity = std::string;

inline constexpr char kApiVersion[] = "kubevirt.io/v1";
inline constexpr char kVirtualMachineKind[] = "VirtualMachine";
inline constexpr char kVirtualMachineInstanceKind[] = "VirtualMachineInstance";

// ---------------------------------------------------------------- metadata

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;
  Json extra;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // "namespace" is a keyword
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::string creation_timestamp;  // RFC 3339, as the apiserver wrote it
  std::string deletion_timestamp;
  StringMap labels;
  StringMap annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  Json extra;  // generateName, managedFields, deletionGracePeriodSeconds, ...
};

// The metadata a VM's template may carry into its VMI.
struct TemplateMeta {
  StringMap labels;
  StringMap annotations;
  Json extra;  // e.g. the "creationTimestamp: null" kubectl leaves behind
};

// One entry of status.conditions (VM and VMI share the shape).
struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
  std::string last_probe_time;
  std::string last_transition_time;
  Json extra;
};

// ------------------------------------------------------------- VMI spec

struct Cpu {
  uint32_t cores = 0;  // 0: not set
  uint32_t sockets = 0;
  uint32_t threads = 0;
  std::string model;  // "host-model", "host-passthrough" or a libvirt model name
  Json extra;
};

struct Memory {
  Quantity guest;  // memory the guest sees; empty: not set
  Json extra;      // hugepages, maxGuest
};

struct ResourceRequirements {
  std::map<std::string, Quantity> requests;  // "memory", "cpu", ...
  std::map<std::string, Quantity> limits;
  Json extra;
};

struct Machine {
  std::string type;  // "q35" or a versioned alias such as "pc-q35-rhel9.2.0"
  Json extra;
};

struct Bios {
  Json extra;  // useSerial
};

struct Efi {
  std::optional<bool> secure_boot;  // KubeVirt: true when unset
  Json extra;                       // persistent
};

struct Bootloader {
  std::optional<Bios> bios;
  std::optional<Efi> efi;
  Json extra;
};

// firmware.kernelBoot.container: the image a kernel and initrd are copied
// out of before the guest starts (launcher_pod.h, kKernelBootDir).
struct KernelBootContainer {
  std::string image;
  std::string image_pull_policy;  // "Always", "IfNotPresent", "Never"
  std::string kernel_path;        // absolute, in the image; empty: none
  std::string initrd_path;        // likewise
  Json extra;                     // imagePullSecret (refused by the CRD)
};

struct KernelBoot {
  std::string kernel_args;  // the kernel command line
  std::optional<KernelBootContainer> container;
  Json extra;
};

struct Firmware {
  std::string uuid;    // SMBIOS system UUID
  std::string serial;  // SMBIOS system serial
  std::optional<Bootloader> bootloader;
  std::optional<KernelBoot> kernel_boot;
  Json extra;  // acpi
};

// The `disk` or `cdrom` member of a disk: how the volume appears to the guest.
struct DiskTarget {
  std::string bus;  // "virtio", "sata", "scsi", "usb"
  std::optional<bool> readonly;
  Json extra;  // pciAddress, tray
};

struct Disk {
  std::string name;  // names a volume
  std::optional<DiskTarget> disk;
  std::optional<DiskTarget> cdrom;
  std::optional<int64_t> boot_order;  // > 0, lower boots first
  std::string serial;
  Json extra;  // lun, cache, io, blockSize, ...
};

struct InterfaceMasquerade {
  Json extra;
};

struct Port {
  std::string name;
  std::string protocol;  // "TCP" (default) or "UDP"
  int64_t port = 0;
  Json extra;
};

struct Interface {
  std::string name;  // names a network
  std::optional<InterfaceMasquerade> masquerade;
  std::string model;  // "virtio" (default), "e1000", ...
  std::vector<Port> ports;
  std::string mac_address;
  std::optional<int64_t> boot_order;
  Json extra;  // other bindings (bridge, sriov, ...), pciAddress, dhcpOptions
};

// A virtio random number generator; it takes no settings.
struct Rng {
  Json extra;
};

struct Devices {
  std::vector<Disk> disks;
  std::vector<Interface> interfaces;
  std::optional<bool> autoattach_pod_interface;
  std::optional<bool> autoattach_serial_console;
  std::optional<bool> autoattach_graphics_device;
  std::optional<Rng> rng;
  Json extra;
};

// One of features' acpi, apic, smm. Read and written from a generated field
// list, as ClockUtc (hack/gen-crds.py CODEC_STRUCTS).
struct FeatureState {
  std::optional<bool> enabled;  // default true
  Json extra;                   // apic.endOfInterrupt (refused by the CRD)
};

// features.hyperv.spinlocks and .vendorid: a feature state with a value.
struct HypervSpinlocks {
  std::optional<bool> enabled;  // default true
  std::optional<int64_t> spinlocks;
  Json extra;
};

struct HypervVendorId {
  std::optional<bool> enabled;  // default true
  std::string vendorid;
  Json extra;
};

// features.hyperv: the enlightenments QEMU takes with and without KVM.
struct Hyperv {
  std::optional<FeatureState> relaxed;
  std::optional<FeatureState> vapic;
  std::optional<FeatureState> runtime;
  std::optional<FeatureState> reset;
  std::optional<FeatureState> frequencies;
  std::optional<FeatureState> reenlightenment;
  std::optional<HypervSpinlocks> spinlocks;
  std::optional<HypervVendorId> vendorid;
  Json extra;  // vpindex, synic, synictimer, tlbflush, ipi, evmcs (refused by the CRD)
};

struct Features {
  std::optional<FeatureState> acpi;
  std::optional<FeatureState> apic;
  std::optional<FeatureState> smm;
  std::optional<Hyperv> hyperv;
  Json extra;  // kvm, pvspinlock, hypervPassthrough (refused by the CRD)
};

// One of clock.timer's hpet, pit, rtc; "" and nullopt: not given.
struct ClockTimer {
  std::optional<bool> present;
  std::string tick_policy;
  std::string track;  // rtc only
  Json extra;
};

struct ClockTimers {
  std::optional<ClockTimer> hpet;
  std::optional<ClockTimer> pit;
  std::optional<ClockTimer> rtc;
  std::optional<ClockTimer> hyperv;  // present only
  Json extra;                        // kvm (refused by the CRD)
};

struct ClockUtc {
  std::optional<int64_t> offset_seconds;
  Json extra;
};

struct Clock {
  std::optional<ClockUtc> utc;
  std::optional<ClockTimers> timer;
  Json extra;  // timezone (refused by the CRD)
};

struct DomainSpec {
  std::optional<Cpu> cpu;
  std::optional<Memory> memory;
  ResourceRequirements resources;
  std::optional<Machine> machine;
  std::optional<Firmware> firmware;
  std::optional<Clock> clock;
  std::optional<Features> features;
  Devices devices;
  Json extra;  // chassis, ioThreadsPolicy, ...
};

// The volume sources below but cloud-init are read and written from field
// lists generated from the CRD schema (hack/gen-crds.py CODEC_STRUCTS): each
// supported field of the source's schema object is the member of the same
// name in snake_case, and the build fails until a new field has its member.
struct ContainerDiskSource {
  std::string image;
  std::string image_pull_policy;  // "Always", "IfNotPresent", "Never"
  std::string path;               // disk file inside the image
  Json extra;                     // imagePullSecret
};

struct PersistentVolumeClaimSource {
  std::string claim_name;
  std::optional<bool> read_only;
  Json extra;  // hotpluggable
};

// The inline data is bounded (bounds.h); larger data comes from a Secret in
// the VMI's namespace, which the launcher pod mounts (keys `userdata` or
// `userData`, `networkdata` or `networkData`, as KubeVirt reads them).
struct CloudInitNoCloudSource {
  std::string user_data;
  std::string user_data_base64;
  std::string network_data;
  std::string network_data_base64;
  std::string secret_ref;               // secretRef.name
  std::string network_data_secret_ref;  // networkDataSecretRef.name
  Json extra;
};

struct EmptyDiskSource {
  Quantity capacity;
  Json extra;
};

// A volume backed by the claim of the DataVolume `name` (CDI's DataVolume
// names its claim after itself); the VMI waits for the DataVolume to succeed.
struct DataVolumeVolumeSource {
  std::string name;
  Json extra;  // hotpluggable
};

struct Volume {
  std::string name;
  std::optional<ContainerDiskSource> container_disk;
  std::optional<PersistentVolumeClaimSource> persistent_volume_claim;
  std::optional<CloudInitNoCloudSource> cloud_init_no_cloud;
  std::optional<EmptyDiskSource> empty_disk;
  std::optional<DataVolumeVolumeSource> data_volume;
  Json extra;  // sources Vireo does not support (hostDisk, ...)
};

struct PodNetwork {
  Json extra;  // vmNetworkCIDR, vmIPv6NetworkCIDR
};

struct Network {
  std::string name;
  std::optional<PodNetwork> pod;
  Json extra;  // multus
};

struct VirtualMachineInstanceSpec {
  DomainSpec domain;
  std::vector<Volume> volumes;
  std::vector<Network> networks;
  StringMap node_selector;
  Json affinity;     // a core/v1 Affinity, passed to the launcher pod as is; null: none
  Json tolerations;  // a list of core/v1 Toleration, likewise; null: none
  std::optional<int64_t> termination_grace_period_seconds;
  std::string eviction_strategy;  // "None", "LiveMigrate", "LiveMigrateIfPossible", "External"
  std::string hostname;
  std::string subdomain;
  std::string priority_class_name;  // the launcher pod's
  Json extra;                       // schedulerName, probes, dnsConfig, ...
};

// ------------------------------------------------------------- VMI

enum class VmiPhase {
  kUnset,  // "": not yet seen by a controller
  kPending,
  kScheduling,
  kScheduled,
  kRunning,
  kSucceeded,
  kFailed,
  kUnknown,
};

const char* VmiPhaseName(VmiPhase phase);
std::optional<VmiPhase> ParseVmiPhase(std::string_view text);
// Succeeded and Failed are final: the VMI never runs again.
inline bool IsFinal(VmiPhase phase) {
  return phase == VmiPhase::kSucceeded || phase == VmiPhase::kFailed;
}

struct VmiNetworkInterfaceStatus {
  std::string name;
  std::string ip_address;
  std::vector<std::string> ip_addresses;
  std::string mac;
  Json extra;  // interfaceName, infoSource, podInterfaceName, ...
};

struct PhaseTransitionTimestamp {
  VmiPhase phase = VmiPhase::kUnset;
  std::string phase_transition_timestamp;
  Json extra;
};

// status.volumeStatus[].persistentVolumeClaimInfo: what the controller saw
// of a volume's claim when it made the launcher pod (the launcher sizes a
// blank disk.img from it).
struct PersistentVolumeClaimInfo {
  std::string claim_name;
  std::vector<std::string> access_modes;
  std::string volume_mode;                   // "Filesystem" or "Block"
  std::map<std::string, Quantity> capacity;  // status.capacity of a bound claim
  std::map<std::string, Quantity> requests;  // spec.resources.requests
  std::string filesystem_overhead;           // e.g. "0.055"
  Json extra;
};

struct VolumeStatus {
  std::string name;
  std::string target;
  std::optional<PersistentVolumeClaimInfo> persistent_volume_claim_info;
  Json extra;  // phase, reason, hotplugVolume, ...
};

struct VirtualMachineInstanceStatus {
  VmiPhase phase = VmiPhase::kUnset;
  std::vector<Condition> conditions;
  std::string node_name;
  std::string reason;
  std::vector<VmiNetworkInterfaceStatus> interfaces;
  std::vector<PhaseTransitionTimestamp> phase_transition_timestamps;
  std::string launcher_container_image_version;
  std::vector<VolumeStatus> volume_status;
  Json extra;  // guestOSInfo, qosClass, activePods, ...
};

struct VirtualMachineInstance {
  std::string api_version = kApiVersion;
  std::string kind = kVirtualMachineInstanceKind;
  ObjectMeta metadata;
  VirtualMachineInstanceSpec spec;
  VirtualMachineInstanceStatus status;
  Json extra;
};

// ------------------------------------------------------------- VM

enum class RunStrategy { kAlways, kRerunOnFailure, kManual, kHalted, kOnce };

const char* RunStrategyName(RunStrategy strategy);
std::optional<RunStrategy> ParseRunStrategy(std::string_view text);

enum class StateChangeAction { kStart, kStop };

const char* StateChangeActionName(StateChangeAction action);
std::optional<StateChangeAction> ParseStateChangeAction(std::string_view text);

// The values of VirtualMachine status.printableStatus, as `kubectl get vm` shows them.
namespace printable_status {
inline constexpr char kStopped[] = "Stopped";
inline constexpr char kProvisioning[] = "Provisioning";
inline constexpr char kStarting[] = "Starting";
inline constexpr char kRunning[] = "Running";
inline constexpr char kPaused[] = "Paused";
inline constexpr char kStopping[] = "Stopping";
inline constexpr char kTerminating[] = "Terminating";
inline constexpr char kCrashLoopBackOff[] = "CrashLoopBackOff";
inline constexpr char kMigrating[] = "Migrating";
inline constexpr char kUnknown[] = "Unknown";
inline constexpr char kErrorUnschedulable[] = "ErrorUnschedulable";
inline constexpr char kErrImagePull[] = "ErrImagePull";
inline constexpr char kImagePullBackOff[] = "ImagePullBackOff";
inline constexpr char kErrorPvcNotFound[] = "ErrorPvcNotFound";
inline constexpr char kWaitingForVolumeBinding[] = "WaitingForVolumeBinding";
inline constexpr char kDataVolumeError[] = "DataVolumeError";
}  // namespace printable_status

struct VirtualMachineInstanceTemplateSpec {
  TemplateMeta metadata;
  VirtualMachineInstanceSpec spec;
  Json extra;
};

struct VirtualMachineSpec {
  std::optional<bool> running;  // deprecated by KubeVirt in favour of run_strategy
  std::optional<RunStrategy> run_strategy;
  VirtualMachineInstanceTemplateSpec template_spec;  // JSON "template"
  // spec.dataVolumeTemplates as written (an array, or null): each item's
  // metadata and spec become a DataVolume owned by the VM (datavolume.h).
  Json data_volume_templates;
  Json extra;  // instancetype, preference, ...
};

struct StateChangeRequest {
  StateChangeAction action = StateChangeAction::kStart;
  std::optional<std::string> uid;  // the VMI the request applies to
  StringMap data;
  Json extra;
};

struct VirtualMachineStatus {
  bool created = false;
  bool ready = false;
  std::string printable_status;
  std::vector<Condition> conditions;
  std::vector<StateChangeRequest> state_change_requests;
  std::optional<RunStrategy> run_strategy;  // the last one acted on
  int64_t observed_generation = 0;
  int64_t desired_generation = 0;
  Json extra;  // startFailure, volumeSnapshotStatuses, ...
};

struct VirtualMachine {
  std::string api_version = kApiVersion;
  std::string kind = kVirtualMachineKind;
  ObjectMeta metadata;
  VirtualMachineSpec spec;
  VirtualMachineStatus status;
  Json extra;
};

// ------------------------------------------------------------- lookups

// nullptr when the spec has no volume (network, disk, interface) of that name.
const Volume* FindVolume(const VirtualMachineInstanceSpec& spec, std::string_view name);
const Network* FindNetwork(const VirtualMachineInstanceSpec& spec, std::string_view name);
const Disk* FindDisk(const VirtualMachineInstanceSpec& spec, std::string_view name);
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);
// firmware.kernelBoot.container; nullptr when the spec boots no kernel from an image.
const KernelBootContainer* FindKernelBootContainer(const VirtualMachineInstanceSpec& spec);

}  // namespace vireo::api
