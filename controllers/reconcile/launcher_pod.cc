// Launcher pod rendering. The paths and the command line are the contract of
// lib/api/launcher_pod.h (docs/launcher-pod.md); the resource and containerDisk choices are
// explained in docs/controller.md.
#include "controllers/reconcile/launcher_pod.h"

#include <array>
#include <string>
#include <tuple>
#include <utility>

#include "controllers/reconcile/disk_containers.h"
#include "controllers/reconcile/launcher_resources.h"
#include "controllers/reconcile/pod_json.h"
#include "lib/api/codec.h"
#include "lib/api/defaults.h"

namespace vireo::controllers {
namespace {

using namespace pod_json;  // NOLINT(google-build-using-namespace): the pod's JSON vocabulary

using base::Code;
using base::Result;
using base::Status;

namespace contract = api::launcher_pod;

// "--flag" for a flag of the contract.
std::string Flag(const char* name) { return std::string("--") + name; }
// A directory of the contract joined with a volume's name.
std::string Under(const char* dir, const std::string& name) {
  return std::string(dir) + "/" + name;
}

// Pod volumes of our own; a VMI volume may not take these names.
constexpr char kReservedPrefix[] = "vireo-";
constexpr char kVmiVolume[] = "vireo-vmi";
constexpr char kStateVolume[] = "vireo-state";
constexpr char kKernelBootVolume[] = "vireo-kernel-boot";
constexpr char kKernelBootContainer[] = "vireo-kernel-boot";

// The launcher runs passt for the VMI's interface on the pod network.
bool RunsPasst(const api::VirtualMachineInstanceSpec& spec) {
  return !spec.domain.devices.interfaces.empty();
}

// The VMI as the launcher reads it: what the controller knew at pod creation,
// without the parts that change on every write or only repeat the object.
// Of the status only volumeStatus, with the claims' sizes as they are now.
std::string VmiForLauncher(const api::VirtualMachineInstance& vmi, const Claims& claims) {
  Json json = api::ToJson(vmi);
  if (json.contains("status")) json.erase("status");
  api::VirtualMachineInstanceStatus status;
  status.volume_status = ClaimVolumeStatus(vmi.spec, claims);
  if (!status.volume_status.empty()) json["status"] = api::ToJson(status);
  Json& meta = json["metadata"];
  for (const char* key : {"resourceVersion", "managedFields"}) {
    if (meta.contains(key)) meta.erase(key);
  }
  if (meta.contains("annotations")) {
    Json& annotations = meta["annotations"];
    if (annotations.contains("kubectl.kubernetes.io/last-applied-configuration")) {
      annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
    }
    if (annotations.size() == 0) meta.erase("annotations");
  }
  return base::DumpJson(json);
}

std::string DiskServerName(const std::string& volume, size_t index) {
  std::string name = "cd-" + volume;
  return name.size() <= 63 ? name : "container-disk-" + std::to_string(index);
}

Json Metadata(const api::VirtualMachineInstance& vmi, const Claims& claims) {
  Json labels = Json::object();
  for (const auto& [k, v] : vmi.metadata.labels) labels[k] = Str(v);
  labels[kAppLabel] = Str(kAppLabelLauncher);
  labels[kCreatedByLabel] = Str(vmi.metadata.uid);
  labels[kVmNameLabel] = Str(vmi.metadata.name);

  // The VMI's own annotations (from the VM's template) reach the pod, as
  // in KubeVirt; ours are set after them and win.
  Json annotations = Json::object();
  for (const auto& [k, v] : vmi.metadata.annotations) {
    if (k != "kubectl.kubernetes.io/last-applied-configuration" && k != kVmGenerationAnnotation) {
      annotations[k] = Str(v);
    }
  }
  annotations[kVmiAnnotation] = Str(VmiForLauncher(vmi, claims));
  annotations["kubevirt.io/domain"] = Str(vmi.metadata.name);
  annotations["kubectl.kubernetes.io/default-container"] = Str(kLauncherContainer);
  // Where Prometheus finds the guest's metrics (the common scrape-by-
  // annotation convention; the chart's PodMonitor uses the port's name).
  if (!contract::GuestClaimsMetricsPort(vmi.spec)) {
    annotations["prometheus.io/scrape"] = Str("true");
    annotations["prometheus.io/port"] = Str(std::to_string(contract::kMetricsPort));
    annotations["prometheus.io/path"] = Str(contract::kMetricsPath);
  }

  Json meta = Json::object();
  meta["name"] = Str(LauncherPodName(vmi));
  meta["namespace"] = Str(vmi.metadata.namespace_);
  meta["labels"] = std::move(labels);
  meta["annotations"] = std::move(annotations);
  meta["ownerReferences"] = ControllerOwnerReferences(
      vmi.api_version.empty() ? api::kApiVersion : vmi.api_version,
      api::kVirtualMachineInstanceKind, vmi.metadata.name, vmi.metadata.uid);
  return meta;
}

}  // namespace

std::string LauncherPodName(const api::VirtualMachineInstance& vmi) {
  // Kubernetes' generateName alphabet: no vowels (no words), no 0/1/3 (no
  // look-alikes).
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t hash = StableHash(vmi.metadata.uid);
  std::string suffix;
  for (int i = 0; i < 5; ++i) {
    suffix += kAlphabet[hash % kAlphabet.size()];
    hash /= kAlphabet.size();
  }
  return "virt-launcher-" + vmi.metadata.name + "-" + suffix;
}

Result<Json> RenderLauncherPod(const api::VirtualMachineInstance& vmi, const LauncherConfig& config,
                               const Claims& claims) {
  const api::VirtualMachineInstanceSpec& spec = vmi.spec;
  Result<Json> resources = LauncherResources(vmi, config);
  if (!resources.ok()) return resources.status();
  // The pod is Guaranteed only when the launcher has CPU and memory limits
  // (equal to its requests); then every other container needs limits too.
  // A KVM device alone in the launcher's limits makes no limits elsewhere:
  // a CPU limit of a few millicores would throttle a container's start
  // (the runtime's setup runs in its cgroup) to seconds.
  const Json* launcher_limits = base::Find(*resources, "limits");
  const bool with_limits = launcher_limits != nullptr && launcher_limits->contains("cpu") &&
                           launcher_limits->contains("memory");
  const int64_t grace =
      spec.termination_grace_period_seconds.value_or(api::kDefaultTerminationGracePeriodSeconds);

  Json volumes = Json::array();
  Json mounts = Json::array();
  Json devices = Json::array();
  Json init_containers = Json::array();
  // One container per containerDisk volume, serving its file in place.
  Json disk_servers = Json::array();

  // The VMI as a file: the downward API projects the pod's own annotation.
  Json vmi_volume = Json::object();
  vmi_volume["name"] = Str(kVmiVolume);
  Json item = Json::object();
  item["path"] = Str(contract::kVmiFileName);
  item["fieldRef"] = Json::object();
  item["fieldRef"]["fieldPath"] =
      Str(std::string("metadata.annotations['") + kVmiAnnotation + "']");
  vmi_volume["downwardAPI"] = Json::object();
  vmi_volume["downwardAPI"]["items"] = base::JsonArray(1);
  vmi_volume["downwardAPI"]["items"][0] = std::move(item);
  Push(&volumes, std::move(vmi_volume));
  Push(&mounts, Mount(kVmiVolume, contract::kVmiDir, true));
  Push(&volumes, EmptyDirVolume(kStateVolume));
  Push(&mounts, Mount(kStateVolume, contract::kStateDir, false));

  bool has_container_disk = false;
  for (size_t i = 0; i < spec.volumes.size(); ++i) {
    const api::Volume& v = spec.volumes[i];
    if (v.name.starts_with(kReservedPrefix)) {
      const std::string field = "spec.volumes[" + std::to_string(i) + "].name";
      return Status(Code::kInvalid,
                    field + ": volume names starting with \"vireo-\" are reserved for the pod", 0,
                    {{"FieldValueInvalid", "reserved prefix vireo-", field}});
    }
    if (v.persistent_volume_claim.has_value() || v.data_volume.has_value()) {
      // A DataVolume's claim has the DataVolume's name.
      const std::string claim_name = v.persistent_volume_claim.has_value()
                                         ? v.persistent_volume_claim->claim_name
                                         : v.data_volume->name;
      const bool read_only = v.persistent_volume_claim.has_value() &&
                             v.persistent_volume_claim->read_only.value_or(false);
      Push(&volumes, ClaimVolume(v.name, claim_name, read_only));
      auto mode = claims.find(claim_name);
      if (mode != claims.end() && mode->second.mode == VolumeMode::kBlock) {
        Push(&devices, Device(v.name, Under(contract::kBlockDir, v.name)));
      } else {
        Push(&mounts, Mount(v.name, Under(contract::kVolumesDir, v.name), read_only));
      }
    } else if (v.container_disk.has_value()) {
      has_container_disk = true;
      const api::ContainerDiskSource& cd = *v.container_disk;
      const std::string dir = Under(contract::kContainerDisksDir, v.name);
      Push(&volumes, EmptyDirVolume(v.name));
      // Writable: the launcher leaves kContainerDiskStopFile there as it ends.
      Push(&mounts, Mount(v.name, dir, false));
      Push(&disk_servers,
           ScriptInImageContainer(DiskServerName(v.name, i), cd.image, cd.image_pull_policy,
                                  ServeDiskScript(cd.path, dir), Mount(v.name, dir, false),
                                  DiskServerResources(with_limits)));
    }
    if (v.cloud_init_no_cloud.has_value()) {
      // The seed is built by the launcher in its state dir, from Secrets
      // mounted here when the volume names them. Pod volume names are DNS
      // labels: numbered by the VMI volume's index, not named after it.
      const api::CloudInitNoCloudSource& ci = *v.cloud_init_no_cloud;
      for (const auto& [secret, kind, suffix] :
           {std::tuple{ci.secret_ref, contract::kCloudInitUserDataDir, "u"},
            std::tuple{ci.network_data_secret_ref, contract::kCloudInitNetworkDataDir, "n"}}) {
        if (secret.empty()) continue;
        const std::string name = std::string("vireo-cis-") + std::to_string(i) + "-" + suffix;
        Json volume = Json::object();
        volume["name"] = Str(name);
        volume["secret"]["secretName"] = Str(secret);
        Push(&volumes, std::move(volume));
        Push(&mounts,
             Mount(name, Under(contract::kCloudInitSecretsDir, v.name) + "/" + kind, true));
      }
    }
    // emptyDisk: built by the launcher in its state dir.
  }
  // firmware.kernelBoot: the kernel and initrd copied out of their image,
  // as a containerDisk's file is, with the same busybox.
  if (const api::KernelBootContainer* kernel = api::FindKernelBootContainer(vmi.spec)) {
    has_container_disk = true;
    Push(&volumes, EmptyDirVolume(kKernelBootVolume));
    Push(&mounts, Mount(kKernelBootVolume, contract::kKernelBootDir, true));
    Push(&init_containers,
         ScriptInImageContainer(kKernelBootContainer, kernel->image, kernel->image_pull_policy,
                                CopyKernelScript(*kernel, contract::kKernelBootDir),
                                Mount(kKernelBootVolume, contract::kKernelBootDir, false),
                                InitContainerResources(with_limits)));
  }
  const bool accel_probe = config.emulation == EmulationMode::kAuto && config.kvm_resource_offered;
  if (has_container_disk) {
    // Bring the copy tool from the launcher image first: the accel-probe
    // init container does it when there is one (each init container costs
    // about a second of the kubelet's, docs/controller.md), else one of
    // its own.
    if (!accel_probe) {
      Json all = Json::array();
      Push(&all, ToolsInitContainer(config.image, config.image_pull_policy,
                                    InitContainerResources(with_limits)));
      for (const Json& c : init_containers) Push(&all, c);
      init_containers = std::move(all);
    }
    Push(&volumes, EmptyDirVolume(kToolsVolume));
  }
  if (accel_probe) {
    // First of all: KVM or TCG, decided once with the device the pod got,
    // told to the launcher (the state dir) and to us (termination message).
    Json probe = Json::object();
    probe["name"] = Str(kAccelProbeContainer);
    probe["image"] = Str(config.image);
    probe["imagePullPolicy"] = Str(config.image_pull_policy);
    probe["command"] = StringArray({contract::kBinary, contract::kAccelProbe,
                                    Flag(contract::kFlagStateDir), contract::kStateDir});
    probe["resources"] = AccelProbeResources(with_limits, config);
    probe["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
    probe["securityContext"] = RestrictedContainerSecurityContext(/*seccomp=*/true);
    probe["volumeMounts"] = base::JsonArray(1);
    probe["volumeMounts"][0] = Mount(kStateVolume, contract::kStateDir, false);
    if (has_container_disk) {
      Push(&probe["command"], Str(Flag(contract::kFlagCopyToolsTo)));
      Push(&probe["command"], Str(contract::kToolsDir));
      Push(&probe["volumeMounts"], Mount(kToolsVolume, contract::kToolsDir, false));
    }
    Json all = Json::array();
    Push(&all, std::move(probe));
    for (const Json& c : init_containers) Push(&all, c);
    init_containers = std::move(all);
  }

  Json probe = Json::object();
  probe["exec"] = Json::object();
  probe["exec"]["command"] = StringArray(
      {contract::kBinary, contract::kProbe, Flag(contract::kFlagStateDir), contract::kStateDir});
  probe["periodSeconds"] = Json(2);
  probe["timeoutSeconds"] = Json(5);
  probe["failureThreshold"] = Json(2);

  Json launcher = Json::object();
  launcher["name"] = Str(kLauncherContainer);
  launcher["image"] = Str(config.image);
  launcher["imagePullPolicy"] = Str(config.image_pull_policy);
  launcher["command"] = StringArray(
      {contract::kBinary, contract::kRun, Flag(contract::kFlagVmi), contract::kVmiFile,
       Flag(contract::kFlagStateDir), contract::kStateDir,
       Flag(contract::kFlagEmulation) + "=" + contract::EmulationModeName(config.emulation),
       // The kubelet ends the wait: the pod's deletion grace
       // period follows the VMI's, even when changed after the
       // pod was made (virtctl stop --grace-period).
       Flag(contract::kFlagGracePeriodSeconds), grace == 0 ? "0" : contract::kGraceUnbounded,
       Flag(contract::kFlagPostStartHook)});
  launcher["resources"] = std::move(*resources);
  launcher["readinessProbe"] = std::move(probe);
  // The kubelet shows the container running, and runs the readiness probe at
  // once, only when this hook returns: as the domain starts, not up to the
  // probe's period later (docs/controller.md, "Where a VM start's time goes").
  // It returns 0 whatever happens, and returns when the launcher exits.
  launcher["lifecycle"]["postStart"]["exec"]["command"] =
      StringArray({contract::kBinary, contract::kWaitRunning, Flag(contract::kFlagStateDir),
                   contract::kStateDir, Flag(contract::kFlagWaitSeconds),
                   std::to_string(contract::kWaitRunningSeconds)});
  launcher["terminationMessagePolicy"] = Str(kTerminationMessagePolicy);
  // passt (the pod network, launcher/passt.h) sandboxes itself in a new user
  // namespace and will not run without one; RuntimeDefault refuses an
  // unprivileged unshare(CLONE_NEWUSER), mount, umount2 and pivot_root. So
  // the launcher container of a VMI with an interface runs under the
  // Localhost profile the cluster installed for it (RuntimeDefault plus
  // those four calls, manifests/seccomp/), which "restricted" admits, or,
  // where none is configured, under no profile of its own (the runtime's
  // default for pods that ask for none: unconfined): that pod meets
  // "baseline" and every rule of "restricted" but seccomp
  // (docs/launcher-pod.md).
  Json launcher_security = RestrictedContainerSecurityContext(!RunsPasst(spec));
  if (RunsPasst(spec) && !config.passt_seccomp_profile.empty()) {
    launcher_security["seccompProfile"] = SeccompProfile(config.passt_seccomp_profile);
  }
  launcher["securityContext"] = std::move(launcher_security);
  launcher["volumeMounts"] = std::move(mounts);
  if (devices.size() > 0) launcher["volumeDevices"] = std::move(devices);
  Json ports = Json::array();
  for (const api::Interface& iface : spec.domain.devices.interfaces) {
    for (const api::Port& port : iface.ports) {
      Json p = Json::object();
      if (!port.name.empty()) p["name"] = Str(port.name);
      p["containerPort"] = Json(port.port);
      p["protocol"] = Str(port.protocol.empty() ? "TCP" : port.protocol);
      Push(&ports, std::move(p));
    }
  }
  // The guest's metrics, which the launcher serves itself (launcher/metrics.h),
  // unless the guest's interface claims the port.
  if (!contract::GuestClaimsMetricsPort(spec)) {
    Json p = Json::object();
    p["name"] = Str(contract::kMetricsPortName);
    p["containerPort"] = Json(contract::kMetricsPort);
    p["protocol"] = Str("TCP");
    Push(&ports, std::move(p));
  }
  launcher["ports"] = std::move(ports);
  // The node's name, for the metrics' node label.
  Json node_env = Json::object();
  node_env["name"] = Str(contract::kNodeNameEnv);
  node_env["valueFrom"]["fieldRef"]["fieldPath"] = Str("spec.nodeName");
  Json env = Json::array();
  Push(&env, std::move(node_env));
  launcher["env"] = std::move(env);

  Json pod_spec = Json::object();
  pod_spec["automountServiceAccountToken"] = Json(false);
  pod_spec["enableServiceLinks"] = Json(false);
  pod_spec["restartPolicy"] = Str("Never");
  pod_spec["terminationGracePeriodSeconds"] = Json(grace + config.termination_grace_margin_seconds);
  // PodSecurity "restricted": libvirt and QEMU run as uid 107, the volumes
  // are the pod's group's (docs/launcher-pod.md).
  pod_spec["securityContext"] = RestrictedPodSecurityContext(/*seccomp=*/false);
  if (RunsPasst(spec)) {
    // passt binds every forwarded port in the pod, 80 and 443 too, as uid
    // 107 without capabilities: the pod's network namespace lets anyone bind
    // any port (a sysctl Kubernetes counts safe; baseline and restricted
    // allow it).
    Json sysctl = Json::object();
    sysctl["name"] = Str("net.ipv4.ip_unprivileged_port_start");
    sysctl["value"] = Str("0");
    pod_spec["securityContext"]["sysctls"] = base::JsonArray(1);
    pod_spec["securityContext"]["sysctls"][0] = std::move(sysctl);
  }
  if (init_containers.size() > 0) pod_spec["initContainers"] = std::move(init_containers);
  // The disk servers first: the kubelet starts a pod's containers in order,
  // and the launcher's postStart hook holds the next start until the domain
  // runs, which needs their disks.
  pod_spec["containers"] = std::move(disk_servers);
  Push(&pod_spec["containers"], std::move(launcher));
  // The launcher reads a containerDisk through its container's
  // /proc/<pid>/root.
  if (pod_spec["containers"].size() > 1) pod_spec["shareProcessNamespace"] = Json(true);
  pod_spec["volumes"] = std::move(volumes);
  if (!spec.node_selector.empty()) {
    Json selector = Json::object();
    for (const auto& [k, v] : spec.node_selector) selector[k] = Str(v);
    pod_spec["nodeSelector"] = std::move(selector);
  }
  if (!spec.affinity.is_null()) pod_spec["affinity"] = spec.affinity;
  if (!spec.tolerations.is_null()) pod_spec["tolerations"] = spec.tolerations;
  if (!spec.hostname.empty()) pod_spec["hostname"] = Str(spec.hostname);
  if (!spec.subdomain.empty()) pod_spec["subdomain"] = Str(spec.subdomain);
  if (!spec.priority_class_name.empty()) {
    pod_spec["priorityClassName"] = Str(spec.priority_class_name);
  }

  Json pod = Json::object();
  pod["apiVersion"] = Str("v1");
  pod["kind"] = Str("Pod");
  pod["metadata"] = Metadata(vmi, claims);
  pod["spec"] = std::move(pod_spec);
  return pod;
}

}  // namespace vireo::controllers
