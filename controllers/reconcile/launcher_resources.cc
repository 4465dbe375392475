// The launcher pod's resources: the memory the launcher container asks for
// (the guest plus the measured overhead, docs/controller.md), its CPU and
// KVM device, and the init containers' small fixed ones.
#include "controllers/reconcile/launcher_resources.h"

#include <string>

#include "controllers/reconcile/pod_json.h"
#include "lib/api/quantity.h"

namespace vireo::controllers {
namespace {

using base::Json;
using base::Result;
using pod_json::Str;

// Resources of the copy init containers: cp is I/O bound and small.
constexpr char kInitCpu[] = "100m";
constexpr char kInitMemory[] = "64Mi";
// A containerDisk server: busybox's sh and sleep, about 0.4 MiB once
// started; the container's cgroup peaked at 4.4 MB with the runtime's setup
// (runc's init) on the local cluster. Its CPU request is nominal; as a limit
// (a Guaranteed pod) it is more, since 10m throttled that setup to 1.5 s.
constexpr char kDiskServerCpu[] = "10m";
constexpr char kDiskServerCpuLimit[] = "100m";
constexpr char kDiskServerMemory[] = "16Mi";
// The accel probe runs QEMU (~50 MB) with a 16 MiB guest for about a second.
constexpr char kAccelProbeMemory[] = "128Mi";

constexpr int64_t kMiB = 1LL << 20;

// Whole MiB when exact (readable in `kubectl describe`), else bytes.
std::string BytesQuantity(int64_t bytes) {
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "Mi";
  return std::to_string(bytes);
}

int64_t RoundUpToMiB(int64_t bytes) { return (bytes + kMiB - 1) / kMiB * kMiB; }

int64_t VcpuCount(const api::DomainSpec& domain) {
  if (!domain.cpu.has_value()) return 1;
  int64_t n = 1;
  for (uint32_t v : {domain.cpu->cores, domain.cpu->sockets, domain.cpu->threads}) {
    n *= v == 0 ? 1 : v;
  }
  return n;
}

Result<int64_t> ParseBytes(const std::string& text, const std::string& field) {
  Result<int64_t> value = api::ParseQuantityBytes(text);
  if (!value.ok()) {
    return base::Status(base::Code::kInvalid, field + ": " + value.status().message(), 0,
                        {{"FieldValueInvalid", value.status().message(), field}});
  }
  return value;
}

int64_t OverheadBytes(const api::DomainSpec& domain, int64_t guest_bytes,
                      const LauncherConfig& config) {
  const MemoryOverhead& o = config.overhead;
  int64_t overhead = o.fixed_bytes + o.margin_bytes + o.per_vcpu_bytes * VcpuCount(domain) +
                     (o.guest_memory_divisor > 0 ? guest_bytes / o.guest_memory_divisor : 0) +
                     o.per_disk_bytes * static_cast<int64_t>(domain.devices.disks.size());
  if (config.emulation != EmulationMode::kOff) overhead += o.tcg_translation_cache_bytes;
  if (!domain.devices.interfaces.empty()) {
    const auto& ports = domain.devices.interfaces.front().ports;
    overhead += o.passt_bytes +
                o.per_forwarded_port_bytes *
                    (ports.empty() ? o.all_ports_forwarded : static_cast<int64_t>(ports.size()));
  }
  return RoundUpToMiB(overhead);
}

// The launcher's containers get /dev/kvm through the device plugin's resource.
bool AsksForKvm(const LauncherConfig& config) {
  return config.emulation == EmulationMode::kOff ||
         (config.emulation == EmulationMode::kAuto && config.kvm_resource_offered);
}

Result<int64_t> GuestBytes(const api::DomainSpec& domain) {
  if (domain.memory.has_value() && !domain.memory->guest.empty()) {
    return ParseBytes(domain.memory->guest, "spec.domain.memory.guest");
  }
  auto it = domain.resources.requests.find("memory");
  if (it != domain.resources.requests.end()) {
    return ParseBytes(it->second, "spec.domain.resources.requests.memory");
  }
  return base::Status(base::Code::kInvalid,
                      "spec.domain.memory.guest: the VMI says no memory size");
}

// The pod's memory: its request (the VMI's request, else the guest's
// memory, plus the overhead) and the overhead, which a limit gets too.
struct PodMemory {
  int64_t request = 0;
  int64_t overhead = 0;
};

Result<PodMemory> PodMemoryOf(const api::VirtualMachineInstanceSpec& spec,
                              const LauncherConfig& config) {
  Result<int64_t> guest = GuestBytes(spec.domain);
  if (!guest.ok()) return guest.status();
  int64_t base = *guest;
  if (auto it = spec.domain.resources.requests.find("memory");
      it != spec.domain.resources.requests.end()) {
    Result<int64_t> asked = ParseBytes(it->second, "spec.domain.resources.requests.memory");
    if (!asked.ok()) return asked.status();
    base = *asked;
  }
  PodMemory memory;
  memory.overhead = OverheadBytes(spec.domain, *guest, config);
  memory.request = RoundUpToMiB(base + memory.overhead);
  return memory;
}

}  // namespace

Result<int64_t> LauncherMemoryRequestBytes(const api::VirtualMachineInstanceSpec& spec,
                                           const LauncherConfig& config) {
  Result<PodMemory> memory = PodMemoryOf(spec, config);
  if (!memory.ok()) return memory.status();
  return memory->request;
}

Result<Json> LauncherResources(const api::VirtualMachineInstance& vmi,
                               const LauncherConfig& config) {
  const api::DomainSpec& domain = vmi.spec.domain;
  Result<PodMemory> memory = PodMemoryOf(vmi.spec, config);
  if (!memory.ok()) return memory.status();

  Json requests = Json::object();
  Json limits = Json::object();
  // Other resources (extended ones) pass through as the VMI asks.
  for (const auto& [name, value] : domain.resources.requests) requests[name] = Str(value);
  for (const auto& [name, value] : domain.resources.limits) limits[name] = Str(value);

  requests["memory"] = Str(BytesQuantity(memory->request));
  if (auto it = domain.resources.limits.find("memory"); it != domain.resources.limits.end()) {
    Result<int64_t> limit = ParseBytes(it->second, "spec.domain.resources.limits.memory");
    if (!limit.ok()) return limit.status();
    limits["memory"] = Str(BytesQuantity(RoundUpToMiB(*limit + memory->overhead)));
  }

  if (!domain.resources.requests.contains("cpu")) {
    const int64_t ratio = config.cpu_allocation_ratio > 0 ? config.cpu_allocation_ratio : 1;
    const int64_t millis = (VcpuCount(domain) * 1000 + ratio - 1) / ratio;
    requests["cpu"] = Str(std::to_string(millis) + "m");
  }
  // A CPU quantity that does not parse would make the apiserver refuse the
  // pod with a less helpful message; say which field is wrong.
  for (const Json* list : {&requests, &limits}) {
    if (!list->contains("cpu")) continue;
    const std::string text = list->at("cpu").get<std::string>();
    if (!api::ParseQuantityMilli(text).ok()) {
      return base::Status(base::Code::kInvalid,
                          "spec.domain.resources: cpu \"" + text + "\" is not a quantity");
    }
  }
  if (AsksForKvm(config)) limits[config.kvm_resource] = Str("1");

  Json resources = Json::object();
  resources["requests"] = std::move(requests);
  if (limits.size() > 0) resources["limits"] = std::move(limits);
  return resources;
}

Json InitContainerResources(bool with_limits) {
  Json list = Json::object();
  list["cpu"] = Str(kInitCpu);
  list["memory"] = Str(kInitMemory);
  Json resources = Json::object();
  resources["requests"] = list;
  // A launcher with limits may make the pod Guaranteed, which needs every
  // container, init ones included, to have limits equal to requests.
  if (with_limits) resources["limits"] = list;
  return resources;
}

Json DiskServerResources(bool with_limits) {
  Json list = Json::object();
  list["cpu"] = Str(with_limits ? kDiskServerCpuLimit : kDiskServerCpu);
  list["memory"] = Str(kDiskServerMemory);
  Json resources = Json::object();
  resources["requests"] = list;
  if (with_limits) resources["limits"] = list;
  return resources;
}

// Limits equal requests when the pod is Guaranteed, as InitContainerResources; the KVM
// resource (extended resources go in limits) in both cases.
Json AccelProbeResources(bool with_limits, const LauncherConfig& config) {
  Json list = Json::object();
  list["cpu"] = Str(kInitCpu);
  list["memory"] = Str(kAccelProbeMemory);
  Json resources = Json::object();
  resources["requests"] = list;
  Json limits = with_limits ? list : Json::object();
  limits[config.kvm_resource] = Str("1");
  resources["limits"] = std::move(limits);
  return resources;
}

}  // namespace vireo::controllers
