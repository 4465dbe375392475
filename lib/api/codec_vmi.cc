// JSON codec of VirtualMachineInstance and its status.
#include "lib/api/codec.h"
#include "lib/api/codec_internal.h"

namespace vireo::api {
namespace codec {
namespace {

constexpr char kPhases[] = "Pending, Scheduling, Scheduled, Running, Succeeded, Failed, Unknown";

void ReadPhase(ObjectReader& r, std::string_view key, VmiPhase* out) {
  std::string text;
  r.String(key, &text);
  if (text.empty()) return;
  if (std::optional<VmiPhase> phase = ParseVmiPhase(text)) {
    *out = *phase;
  } else {
    r.problems().Add(r.PathOf(key), kReasonNotSupported,
                     "unsupported value \"" + text + "\": expected one of " + kPhases);
  }
}

void DecodeInterfaceStatus(const Json& json, const std::string& path, Problems& problems,
                           VmiNetworkInterfaceStatus* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.String("ipAddress", &out->ip_address);
  r.StringList("ipAddresses", &out->ip_addresses);
  r.String("mac", &out->mac);
  out->extra = r.Extra();
}

Json EncodeInterfaceStatus(const VmiNetworkInterfaceStatus& status) {
  ObjectWriter w(status.extra);
  w.String("name", status.name);
  w.String("ipAddress", status.ip_address);
  w.StringList("ipAddresses", status.ip_addresses);
  w.String("mac", status.mac);
  return w.Done();
}

void DecodePhaseTransition(const Json& json, const std::string& path, Problems& problems,
                           PhaseTransitionTimestamp* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  ReadPhase(r, "phase", &out->phase);
  r.String("phaseTransitionTimestamp", &out->phase_transition_timestamp);
  out->extra = r.Extra();
}

Json EncodePhaseTransition(const PhaseTransitionTimestamp& transition) {
  ObjectWriter w(transition.extra);
  w.String("phase", VmiPhaseName(transition.phase));
  w.String("phaseTransitionTimestamp", transition.phase_transition_timestamp);
  return w.Done();
}

void DecodeClaimInfo(const Json& json, const std::string& path, Problems& problems,
                     PersistentVolumeClaimInfo* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("claimName", &out->claim_name);
  r.StringList("accessModes", &out->access_modes);
  r.String("volumeMode", &out->volume_mode);
  r.QuantityMap("capacity", &out->capacity);
  r.QuantityMap("requests", &out->requests);
  r.String("filesystemOverhead", &out->filesystem_overhead);
  out->extra = r.Extra();
}

Json EncodeQuantityMap(const std::map<std::string, Quantity>& quantities) {
  Json map = Json::object();
  for (const auto& [key, value] : quantities) map[key] = Json(value);
  return map;
}

Json EncodeClaimInfo(const PersistentVolumeClaimInfo& info) {
  ObjectWriter w(info.extra);
  w.String("claimName", info.claim_name);
  w.StringList("accessModes", info.access_modes);
  w.String("volumeMode", info.volume_mode);
  if (!info.capacity.empty()) w.Set("capacity", EncodeQuantityMap(info.capacity));
  if (!info.requests.empty()) w.Set("requests", EncodeQuantityMap(info.requests));
  w.String("filesystemOverhead", info.filesystem_overhead);
  return w.Done();
}

void DecodeVolumeStatus(const Json& json, const std::string& path, Problems& problems,
                        VolumeStatus* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("name", &out->name);
  r.String("target", &out->target);
  r.OptObject("persistentVolumeClaimInfo", &out->persistent_volume_claim_info, DecodeClaimInfo);
  out->extra = r.Extra();
}

Json EncodeVolumeStatus(const VolumeStatus& status) {
  ObjectWriter w(status.extra);
  w.String("name", status.name);
  w.String("target", status.target);
  w.OptObject("persistentVolumeClaimInfo", status.persistent_volume_claim_info, EncodeClaimInfo);
  return w.Done();
}

void DecodeVmiStatus(const Json& json, const std::string& path, Problems& problems,
                     VirtualMachineInstanceStatus* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  ReadPhase(r, "phase", &out->phase);
  r.List("conditions", &out->conditions, DecodeCondition);
  r.String("nodeName", &out->node_name);
  r.String("reason", &out->reason);
  r.List("interfaces", &out->interfaces, DecodeInterfaceStatus);
  r.List("phaseTransitionTimestamps", &out->phase_transition_timestamps, DecodePhaseTransition);
  r.String("launcherContainerImageVersion", &out->launcher_container_image_version);
  r.List("volumeStatus", &out->volume_status, DecodeVolumeStatus);
  out->extra = r.Extra();
}

Json EncodeVmiStatus(const VirtualMachineInstanceStatus& status) {
  ObjectWriter w(status.extra);
  w.String("phase", VmiPhaseName(status.phase));
  w.List("conditions", status.conditions, EncodeCondition);
  w.String("nodeName", status.node_name);
  w.String("reason", status.reason);
  w.List("interfaces", status.interfaces, EncodeInterfaceStatus);
  w.List("phaseTransitionTimestamps", status.phase_transition_timestamps, EncodePhaseTransition);
  w.String("launcherContainerImageVersion", status.launcher_container_image_version);
  w.List("volumeStatus", status.volume_status, EncodeVolumeStatus);
  return w.Done();
}

void DecodeVmi(const Json& json, const std::string& path, Problems& problems,
               VirtualMachineInstance* out) {
  ObjectReader r(json, path, problems);
  if (!r.is_object()) return;
  r.String("apiVersion", &out->api_version);
  r.String("kind", &out->kind);
  CheckTypeMeta(r, out->api_version, out->kind, kVirtualMachineInstanceKind);
  r.Object("metadata", &out->metadata, DecodeObjectMeta);
  r.Object("spec", &out->spec, DecodeVmiSpec);
  r.Object("status", &out->status, DecodeVmiStatus);
  out->extra = r.Extra();
}

}  // namespace
}  // namespace codec

template <>
Result<VirtualMachineInstance> FromJson<VirtualMachineInstance>(const Json& json) {
  return codec::DecodeTopLevel<VirtualMachineInstance>(json, kVirtualMachineInstanceKind,
                                                       codec::DecodeVmi);
}

Json ToJson(const VirtualMachineInstanceStatus& status) { return codec::EncodeVmiStatus(status); }

Json ToJson(const VirtualMachineInstance& vmi) {
  codec::ObjectWriter w(vmi.extra);
  w.String("apiVersion", vmi.api_version);
  w.String("kind", vmi.kind);
  w.Object("metadata", vmi.metadata, codec::EncodeObjectMeta);
  w.Set("spec", codec::EncodeVmiSpec(vmi.spec));
  w.Object("status", vmi.status, codec::EncodeVmiStatus);
  return w.Done();
}

}  // namespace vireo::api
