// The claim and the importer pod a DataVolume gets (datavolume.h). The pod
// is the contract of lib/api/importer_pod.h (docs/importer-pod.md).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "controllers/reconcile/datavolume.h"
#include "controllers/reconcile/disk_containers.h"
#include "controllers/reconcile/pod_json.h"
#include "lib/api/importer_pod.h"
#include "lib/api/quantity.h"

namespace vireo::controllers {
namespace {

using namespace pod_json;  // NOLINT(google-build-using-namespace): the pod's JSON vocabulary
using api::DataVolumeSourceKind;
using base::Code;
using base::Result;
using base::Status;
namespace importer = api::importer;

constexpr char kLauncherBinary[] = "vireo-launcher";
constexpr char kTargetVolume[] = "vireo-target";
constexpr char kSourceVolume[] = "vireo-source";
constexpr char kScratchVolume[] = "vireo-scratch";
constexpr char kImageVolume[] = "vireo-image";

Json OwnerReference(const api::DataVolume& dv) {
  return ControllerOwnerReferences(api::kCdiApiVersion, api::kDataVolumeKind, dv.metadata.name,
                                   dv.metadata.uid);
}

bool IsClone(const api::DataVolume& dv) {
  return dv.spec.source.kind == DataVolumeSourceKind::kPvc;
}

const char* SourceFlag(DataVolumeSourceKind kind) {
  switch (kind) {
    case DataVolumeSourceKind::kHttp:
      return importer::kSourceHttp;
    case DataVolumeSourceKind::kRegistry:
      return importer::kSourceRegistry;
    case DataVolumeSourceKind::kPvc:
      return importer::kSourcePvc;
    default:
      return importer::kSourceBlank;
  }
}

// "docker://host/image:tag" → "host/image:tag".
std::string ImageOf(const std::string& url) {
  constexpr std::string_view kScheme = "docker://";
  return url.starts_with(kScheme) ? url.substr(kScheme.size()) : url;
}

// The claim's size in bytes: its capacity once bound, else its request.
std::optional<int64_t> ClaimBytes(const Json& claim) {
  const ClaimInfo info = ClaimInfoOf(claim);
  for (const std::string& text : {info.capacity, info.request}) {
    if (text.empty()) continue;
    if (Result<int64_t> bytes = api::ParseQuantityBytes(text); bytes.ok()) return *bytes;
  }
  return std::nullopt;
}

}  // namespace

std::string ImporterPodName(const std::string& dv_name) {
  std::string name = "importer-" + dv_name;
  if (name.size() <= 63) return name;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(StableHash(dv_name)));
  return name.substr(0, 63 - 9) + "-" + std::string(hash, 8);
}

Result<Json> RenderClaim(const api::DataVolume& dv, const std::optional<Json>& source_claim) {
  Json spec = dv.spec.claim.is_object() ? dv.spec.claim : Json::object();
  std::string request = dv.spec.storage_request;
  bool inflate = dv.spec.storage_api && dv.spec.volume_mode != "Block";
  if (request.empty() && IsClone(dv) && source_claim.has_value()) {
    request = ClaimInfoOf(*source_claim).request;
    inflate = false;  // the source's claim already has the room
  }
  const std::string field = dv.spec.storage_api ? "spec.storage" : "spec.pvc";
  if (request.empty()) {
    return Status(Code::kInvalid, field + ".resources.requests.storage: the size is required");
  }
  Result<int64_t> bytes = api::ParseQuantityBytes(request);
  if (!bytes.ok()) {
    return Status(Code::kInvalid,
                  field + ".resources.requests.storage: " + bytes.status().message());
  }
  if (inflate) request = std::to_string(importer::ClaimBytesForDisk(*bytes));
  spec["resources"]["requests"]["storage"] = Str(request);
  if (dv.spec.storage_api) {
    if (!spec.contains("accessModes") || spec.at("accessModes").size() == 0) {
      spec["accessModes"] = StringArray({"ReadWriteOnce"});
    }
    if (!spec.contains("volumeMode")) spec["volumeMode"] = Str("Filesystem");
  }

  Json claim = Json::object();
  claim["apiVersion"] = Str("v1");
  claim["kind"] = Str("PersistentVolumeClaim");
  claim["metadata"]["name"] = Str(dv.metadata.name);
  claim["metadata"]["namespace"] = Str(dv.metadata.namespace_);
  claim["metadata"]["labels"][kImporterAppLabel] = Str(kImporterAppValue);
  for (const auto& [k, v] : dv.metadata.labels) claim["metadata"]["labels"][k] = Str(v);
  claim["metadata"]["ownerReferences"] = OwnerReference(dv);
  claim["spec"] = std::move(spec);
  return claim;
}

Result<Json> RenderImporterPod(const api::DataVolume& dv, const Json& claim,
                               const std::optional<Json>& source_claim,
                               const ImporterConfig& config) {
  const std::optional<int64_t> claim_bytes = ClaimBytes(claim);
  if (!claim_bytes.has_value()) {
    return Status(Code::kInvalid, "claim " + dv.metadata.name + " has no size");
  }
  const bool block = VolumeModeOf(claim) == VolumeMode::kBlock;
  Json volumes = Json::array();
  Json mounts = Json::array();
  Json devices = Json::array();
  Json init_containers = Json::array();

  Push(&volumes, ClaimVolume(kTargetVolume, dv.metadata.name, false));
  if (block) {
    Push(&devices, Device(kTargetVolume, importer::kTargetDevice));
  } else {
    Push(&mounts, Mount(kTargetVolume, importer::kTargetDir, false));
  }
  Push(&volumes, EmptyDirVolume(kScratchVolume));
  Push(&mounts, Mount(kScratchVolume, importer::kScratchDir, false));

  std::vector<std::string> command = {kLauncherBinary, "import",
                                      std::string("--source=") + SourceFlag(dv.spec.source.kind),
                                      "--claim-bytes=" + std::to_string(*claim_bytes)};
  bool source_block = false;
  switch (dv.spec.source.kind) {
    case DataVolumeSourceKind::kHttp:
      command.push_back("--url=" + dv.spec.source.url);
      break;
    case DataVolumeSourceKind::kRegistry: {
      // The containerDisk's file lands in its own emptyDir, which the
      // importer sees at kImageDir inside its scratch folder.
      Json resources = Json::object();
      resources["requests"]["cpu"] = Str("100m");
      resources["requests"]["memory"] = Str("64Mi");
      Push(&init_containers, ToolsInitContainer(config.image, config.image_pull_policy, resources));
      Push(&init_containers,
           ScriptInImageContainer(kImageCopyContainer, ImageOf(dv.spec.source.url), "IfNotPresent",
                                  CopyDiskScript("", importer::kImageDir),
                                  Mount(kImageVolume, importer::kImageDir, false), resources));
      Push(&volumes, EmptyDirVolume(kToolsVolume));
      Push(&volumes, EmptyDirVolume(kImageVolume));
      Push(&mounts, Mount(kImageVolume, importer::kImageDir, true));
      break;
    }
    case DataVolumeSourceKind::kPvc: {
      Push(&volumes, ClaimVolume(kSourceVolume, dv.spec.source.pvc_name, true));
      source_block = source_claim.has_value() && VolumeModeOf(*source_claim) == VolumeMode::kBlock;
      if (source_block) {
        Push(&devices, Device(kSourceVolume, importer::kSourceDevice));
      } else {
        Push(&mounts, Mount(kSourceVolume, importer::kSourceDir, true));
      }
      break;
    }
    default:
      break;
  }

  Json container = Json::object();
  container["name"] = Str(kImporterContainer);
  container["image"] = Str(config.image);
  container["imagePullPolicy"] = Str(config.image_pull_policy);
  Json args = Json::array();
  for (const std::string& part : command) Push(&args, Str(part));
  container["command"] = std::move(args);
  container["resources"]["requests"]["cpu"] = Str("100m");
  container["resources"]["requests"]["memory"] = Str("128Mi");
  container["resources"]["limits"]["memory"] = Str("1Gi");
  container["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
  container["securityContext"] = RestrictedContainerSecurityContext();
  container["volumeMounts"] = std::move(mounts);
  if (devices.size() > 0) container["volumeDevices"] = std::move(devices);

  Json pod_spec = Json::object();
  pod_spec["automountServiceAccountToken"] = Json(false);
  pod_spec["enableServiceLinks"] = Json(false);
  pod_spec["restartPolicy"] = Str("Never");
  pod_spec["terminationGracePeriodSeconds"] = Json(5);
  // The importer runs as KubeVirt's and CDI's unprivileged user, like the
  // launcher: fsGroup makes the claim and the scratch volume its own; a block
  // claim's device gets the pod's uid and gid from the node's runtime
  // (docs/launcher-pod.md).
  Json security = RestrictedPodSecurityContext();
  pod_spec["securityContext"] = std::move(security);
  if (init_containers.size() > 0) {
    for (size_t i = 0; i < init_containers.size(); ++i) {
      init_containers[i]["securityContext"] = container["securityContext"];
    }
    pod_spec["initContainers"] = std::move(init_containers);
  }
  pod_spec["containers"] = base::JsonArray(1);
  pod_spec["containers"][0] = std::move(container);
  pod_spec["volumes"] = std::move(volumes);

  Json pod = Json::object();
  pod["apiVersion"] = Str("v1");
  pod["kind"] = Str("Pod");
  pod["metadata"]["name"] = Str(ImporterPodName(dv.metadata.name));
  pod["metadata"]["namespace"] = Str(dv.metadata.namespace_);
  pod["metadata"]["labels"][kImporterAppLabel] = Str(kImporterAppValue);
  pod["metadata"]["labels"][kImporterForLabel] = Str(dv.metadata.uid);
  pod["metadata"]["labels"][kImporterAttemptLabel] = Str(std::to_string(dv.status.restart_count));
  pod["metadata"]["ownerReferences"] = OwnerReference(dv);
  pod["spec"] = std::move(pod_spec);
  return pod;
}

}  // namespace vireo::controllers
