// JSON codec of VirtualMachineInstanceSpec: domain, devices, volumes, networks.
#include "lib/api/codec_generated.h"
#include "lib/api/codec_internal.h"

namespace vireo::api::codec {
namespace {

// ---------------------------------------------------------------- domain

void DecodeCpu(const Json& json, const std::string& path, Problems& problems, Cpu* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.Uint32("cores", &out->cores);
  r.Uint32("sockets", &out->sockets);
  r.Uint32("threads", &out->threads);
  r.String("model", &out->model);
  out->extra = r.Extra();
}

Json EncodeCpu(const Cpu& cpu) {
  ObjectWriter w(cpu.extra);
  w.Int("cores", cpu.cores);
  w.Int("sockets", cpu.sockets);
  w.Int("threads", cpu.threads);
  w.String("model", cpu.model);
  return w.Done();
}

void DecodeMemory(const Json& json, const std::string& path, Problems& problems, Memory* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.QuantityValue("guest", &out->guest);
  out->extra = r.Extra();
}

Json EncodeMemory(const Memory& memory) {
  ObjectWriter w(memory.extra);
  w.String("guest", memory.guest);
  return w.Done();
}

void DecodeResources(const Json& json, const std::string& path, Problems& problems,
                     ResourceRequirements* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.QuantityMap("requests", &out->requests);
  r.QuantityMap("limits", &out->limits);
  out->extra = r.Extra();
}

Json EncodeResources(const ResourceRequirements& resources) {
  ObjectWriter w(resources.extra);
  w.StringMap("requests", resources.requests);
  w.StringMap("limits", resources.limits);
  return w.Done();
}

void DecodeMachine(const Json& json, const std::string& path, Problems& problems, Machine* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("type", &out->type);
  out->extra = r.Extra();
}

Json EncodeMachine(const Machine& machine) {
  ObjectWriter w(machine.extra);
  w.String("type", machine.type);
  return w.Done();
}

// ---------------------------------------------------------------- devices

void DecodeDiskTarget(const Json& json, const std::string& path, Problems& problems,
                      DiskTarget* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("bus", &out->bus);
  r.OptBool("readonly", &out->readonly);
  out->extra = r.Extra();
}

Json EncodeDiskTarget(const DiskTarget& target) {
  ObjectWriter w(target.extra);
  w.String("bus", target.bus);
  w.OptBool("readonly", target.readonly);
  return w.Done();
}

void DecodeDisk(const Json& json, const std::string& path, Problems& problems, Disk* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.OptObject("disk", &out->disk, DecodeDiskTarget);
  r.OptObject("cdrom", &out->cdrom, DecodeDiskTarget);
  r.OptInt("bootOrder", &out->boot_order);
  r.String("serial", &out->serial);
  out->extra = r.Extra();
}

Json EncodeDisk(const Disk& disk) {
  ObjectWriter w(disk.extra);
  w.String("name", disk.name);
  w.OptObject("disk", disk.disk, EncodeDiskTarget);
  w.OptObject("cdrom", disk.cdrom, EncodeDiskTarget);
  w.OptInt("bootOrder", disk.boot_order);
  w.String("serial", disk.serial);
  return w.Done();
}

void DecodePort(const Json& json, const std::string& path, Problems& problems, Port* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.String("protocol", &out->protocol);
  r.Int("port", &out->port);
  out->extra = r.Extra();
}

Json EncodePort(const Port& port) {
  ObjectWriter w(port.extra);
  w.String("name", port.name);
  w.String("protocol", port.protocol);
  w.Int("port", port.port);
  return w.Done();
}

void DecodeInterface(const Json& json, const std::string& path, Problems& problems,
                     Interface* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.OptObject("masquerade", &out->masquerade, DecodeMarker<InterfaceMasquerade>);
  r.String("model", &out->model);
  r.List("ports", &out->ports, DecodePort);
  r.String("macAddress", &out->mac_address);
  r.OptInt("bootOrder", &out->boot_order);
  out->extra = r.Extra();
}

Json EncodeInterface(const Interface& iface) {
  ObjectWriter w(iface.extra);
  w.String("name", iface.name);
  w.OptObject("masquerade", iface.masquerade, EncodeMarker<InterfaceMasquerade>);
  w.String("model", iface.model);
  w.List("ports", iface.ports, EncodePort);
  w.String("macAddress", iface.mac_address);
  w.OptInt("bootOrder", iface.boot_order);
  return w.Done();
}

void DecodeDevices(const Json& json, const std::string& path, Problems& problems, Devices* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.List("disks", &out->disks, DecodeDisk);
  r.List("interfaces", &out->interfaces, DecodeInterface);
  r.OptBool("autoattachPodInterface", &out->autoattach_pod_interface);
  r.OptBool("autoattachSerialConsole", &out->autoattach_serial_console);
  r.OptBool("autoattachGraphicsDevice", &out->autoattach_graphics_device);
  r.OptObject("rng", &out->rng, DecodeMarker<Rng>);
  out->extra = r.Extra();
}

Json EncodeDevices(const Devices& devices) {
  ObjectWriter w(devices.extra);
  w.List("disks", devices.disks, EncodeDisk);
  w.List("interfaces", devices.interfaces, EncodeInterface);
  w.OptBool("autoattachPodInterface", devices.autoattach_pod_interface);
  w.OptBool("autoattachSerialConsole", devices.autoattach_serial_console);
  w.OptBool("autoattachGraphicsDevice", devices.autoattach_graphics_device);
  w.OptObject("rng", devices.rng, EncodeMarker<Rng>);
  return w.Done();
}

void DecodeDomain(const Json& json, const std::string& path, Problems& problems, DomainSpec* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.OptObject("cpu", &out->cpu, DecodeCpu);
  r.OptObject("memory", &out->memory, DecodeMemory);
  r.Object("resources", &out->resources, DecodeResources);
  r.OptObject("machine", &out->machine, DecodeMachine);
  r.OptObject("firmware", &out->firmware, DecodeFirmware);
  r.OptObject("clock", &out->clock, DecodeClock);
  r.OptObject("features", &out->features, DecodeFeatures);
  r.Object("devices", &out->devices, DecodeDevices);
  out->extra = r.Extra();
}

Json EncodeDomain(const DomainSpec& domain) {
  ObjectWriter w(domain.extra);
  w.OptObject("cpu", domain.cpu, EncodeCpu);
  w.OptObject("memory", domain.memory, EncodeMemory);
  w.Object("resources", domain.resources, EncodeResources);
  w.OptObject("machine", domain.machine, EncodeMachine);
  w.OptObject("firmware", domain.firmware, EncodeFirmware);
  w.OptObject("clock", domain.clock, EncodeClock);
  w.OptObject("features", domain.features, EncodeFeatures);
  // Required by KubeVirt's schema, so written even when empty.
  w.Set("devices", EncodeDevices(domain.devices));
  return w.Done();
}

// ---------------------------------------------------------------- volumes, networks

// A LocalObjectReference: {"name": ...}.
void DecodeSecretName(const Json& json, const std::string& path, Problems& problems,
                      std::string* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", out);
}

Json SecretName(const std::string& name) {
  Json ref = Json::object();
  ref["name"] = Json(name);
  return ref;
}

void DecodeNoCloud(const Json& json, const std::string& path, Problems& problems,
                   CloudInitNoCloudSource* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("userData", &out->user_data);
  r.String("userDataBase64", &out->user_data_base64);
  r.String("networkData", &out->network_data);
  r.String("networkDataBase64", &out->network_data_base64);
  r.Object("secretRef", &out->secret_ref, DecodeSecretName);
  r.Object("networkDataSecretRef", &out->network_data_secret_ref, DecodeSecretName);
  out->extra = r.Extra();
}

Json EncodeNoCloud(const CloudInitNoCloudSource& source) {
  ObjectWriter w(source.extra);
  w.String("userData", source.user_data);
  w.String("userDataBase64", source.user_data_base64);
  w.String("networkData", source.network_data);
  w.String("networkDataBase64", source.network_data_base64);
  if (!source.secret_ref.empty()) w.Set("secretRef", SecretName(source.secret_ref));
  if (!source.network_data_secret_ref.empty()) {
    w.Set("networkDataSecretRef", SecretName(source.network_data_secret_ref));
  }
  return w.Done();
}

void DecodeVolume(const Json& json, const std::string& path, Problems& problems, Volume* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.OptObject("containerDisk", &out->container_disk, DecodeFields<ContainerDiskSource>);
  r.OptObject("persistentVolumeClaim", &out->persistent_volume_claim,
              DecodeFields<PersistentVolumeClaimSource>);
  r.OptObject("cloudInitNoCloud", &out->cloud_init_no_cloud, DecodeNoCloud);
  r.OptObject("emptyDisk", &out->empty_disk, DecodeFields<EmptyDiskSource>);
  r.OptObject("dataVolume", &out->data_volume, DecodeFields<DataVolumeVolumeSource>);
  out->extra = r.Extra();
}

Json EncodeVolume(const Volume& volume) {
  ObjectWriter w(volume.extra);
  w.String("name", volume.name);
  w.OptObject("containerDisk", volume.container_disk, EncodeFields<ContainerDiskSource>);
  w.OptObject("persistentVolumeClaim", volume.persistent_volume_claim,
              EncodeFields<PersistentVolumeClaimSource>);
  w.OptObject("cloudInitNoCloud", volume.cloud_init_no_cloud, EncodeNoCloud);
  w.OptObject("emptyDisk", volume.empty_disk, EncodeFields<EmptyDiskSource>);
  w.OptObject("dataVolume", volume.data_volume, EncodeFields<DataVolumeVolumeSource>);
  return w.Done();
}

void DecodeNetwork(const Json& json, const std::string& path, Problems& problems, Network* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.OptObject("pod", &out->pod, DecodeMarker<PodNetwork>);
  out->extra = r.Extra();
}

Json EncodeNetwork(const Network& network) {
  ObjectWriter w(network.extra);
  w.String("name", network.name);
  w.OptObject("pod", network.pod, EncodeMarker<PodNetwork>);
  return w.Done();
}

}  // namespace

void DecodeVmiSpec(const Json& json, const std::string& path, Problems& problems,
                   VirtualMachineInstanceSpec* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.Object("domain", &out->domain, DecodeDomain);
  r.List("volumes", &out->volumes, DecodeVolume);
  r.List("networks", &out->networks, DecodeNetwork);
  r.StringMap("nodeSelector", &out->node_selector);
  r.Raw("affinity", JsonType::Object, &out->affinity);
  r.Raw("tolerations", JsonType::Array, &out->tolerations);
  r.OptInt("terminationGracePeriodSeconds", &out->termination_grace_period_seconds);
  r.String("evictionStrategy", &out->eviction_strategy);
  r.String("hostname", &out->hostname);
  r.String("subdomain", &out->subdomain);
  r.String("priorityClassName", &out->priority_class_name);
  out->extra = r.Extra();
}

Json EncodeVmiSpec(const VirtualMachineInstanceSpec& spec) {
  ObjectWriter w(spec.extra);
  w.Set("domain", EncodeDomain(spec.domain));  // required, like devices
  w.List("volumes", spec.volumes, EncodeVolume);
  w.List("networks", spec.networks, EncodeNetwork);
  w.StringMap("nodeSelector", spec.node_selector);
  w.Raw("affinity", spec.affinity);
  w.Raw("tolerations", spec.tolerations);
  w.OptInt("terminationGracePeriodSeconds", spec.termination_grace_period_seconds);
  w.String("evictionStrategy", spec.eviction_strategy);
  w.String("hostname", spec.hostname);
  w.String("subdomain", spec.subdomain);
  w.String("priorityClassName", spec.priority_class_name);
  return w.Done();
}

}  // namespace vireo::api::codec
