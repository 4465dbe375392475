// virtctl create vm|instancetype|preference: the manifests KubeVirt v1.8.4's
// `virtctl create` prints (YAML for `kubectl apply -f -`), limited to the
// fields Vireo's apiserver accepts; a KubeVirt flag beyond them is refused by
// name. No cluster is contacted, so it runs without a kubeconfig. What is
// supported and what differs from KubeVirt: docs/virtctl.md, "create".
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "lib/base/json.h"
#include "lib/base/status.h"
#include "virtctl/options.h"

namespace vireo::virtctl {

// The kinds `create` makes, as bits of CreateFlag::kinds.
inline constexpr unsigned kCreateVm = 1, kCreateInstancetype = 2, kCreatePreference = 4;

// One flag of KubeVirt's create vm, instancetype or preference. The parser
// (options.cc) takes them all, so that one Vireo lacks is refused with its
// reason rather than as an unknown flag.
struct CreateFlag {
  std::string_view name;
  bool boolean;
  unsigned kinds;        // the kinds KubeVirt takes it for
  std::string_view why;  // why Vireo refuses it; empty when Vireo supports it
};

inline constexpr std::string_view kNoInference =
    "Vireo infers no instance type or preference from a volume; name them with --instancetype "
    "and --preference";

inline constexpr CreateFlag kCreateFlags[] = {
    {"name", false, kCreateVm | kCreateInstancetype | kCreatePreference, ""},
    {"namespaced", true, kCreateInstancetype | kCreatePreference, ""},
    {"cpu", false, kCreateInstancetype, ""},
    {"memory", false, kCreateVm | kCreateInstancetype, ""},
    {"gpu", false, kCreateInstancetype, "Vireo passes no GPUs to guests"},
    {"hostdevice", false, kCreateInstancetype, "Vireo passes no host devices to guests"},
    {"iothreadspolicy", false, kCreateInstancetype, "Vireo has no I/O thread policies"},
    {"cpu-topology", false, kCreatePreference, ""},
    {"machine-type", false, kCreatePreference, ""},
    {"volume-storage-class", false, kCreatePreference,
     "Vireo's preferences have no volume settings; set storageClassName in the VM's "
     "dataVolumeTemplates"},
    {"run-strategy", false, kCreateVm, ""},
    {"termination-grace-period", false, kCreateVm, ""},
    {"instancetype", false, kCreateVm, ""},
    {"infer-instancetype", true, kCreateVm, kNoInference},
    {"infer-instancetype-from", false, kCreateVm, kNoInference},
    {"preference", false, kCreateVm, ""},
    {"infer-preference", true, kCreateVm, kNoInference},
    {"infer-preference-from", false, kCreateVm, kNoInference},
    {"volume-containerdisk", false, kCreateVm, ""},
    {"volume-pvc", false, kCreateVm, ""},
    {"volume-import", false, kCreateVm, ""},
    {"volume-sysprep", false, kCreateVm, "Vireo has no sysprep volumes"},
    {"user", false, kCreateVm, ""},
    {"password-file", false, kCreateVm, ""},
    {"ssh-key", false, kCreateVm, ""},
    {"ga-manage-ssh", true, kCreateVm,
     "it lets the guest agent manage SSH keys for accessCredentials, which Vireo refuses"},
    {"access-cred", false, kCreateVm,
     "Vireo refuses accessCredentials; put keys into cloud-init with --user and --ssh-key"},
    {"cloud-init", false, kCreateVm, ""},
    {"cloud-init-user-data", false, kCreateVm, ""},
    {"cloud-init-network-data", false, kCreateVm, ""},
    {"volume-datasource", false, kCreateVm, "Vireo's DataVolumes take no DataSource (sourceRef)"},
    {"volume-clone-pvc", false, kCreateVm, ""},  // KubeVirt's older --volume-import type:pvc
    {"volume-blank", false, kCreateVm, ""},      // and type:blank
};

// What the manifest needs from outside: random name suffixes, the password
// file, and a place for warnings. main.cc passes the system's (a
// random_device-seeded generator, the file system, stderr); tests their own.
struct CreateEnv {
  // Five characters as Kubernetes' rand.String(5) draws them, for the names
  // KubeVirt generates (vm-XXXXX, imported-volume-XXXXX, ...).
  std::function<std::string()> random_suffix;
  std::function<base::Result<std::string>(const std::string& path)> read_file;
  std::function<void(const std::string& message)> warn;
};

// The manifest of options.create_kind from options.create_flags, which
// ParseArgs has checked against kCreateFlags, and -n, which (as in KubeVirt)
// sets metadata.namespace and makes an instance type or preference
// namespaced. kBadRequest names the flag at fault; other codes are failures
// (a password file that cannot be read).
base::Result<std::string> CreateManifest(const Options& options, const CreateEnv& env);

// `doc` as block YAML, the way Kubernetes tools print objects: keys in
// order (base::Json keeps them sorted, as sigs.k8s.io/yaml does), strings
// quoted where YAML would read them as something else ("true", "123").
std::string ToYaml(const base::Json& doc);

}  // namespace vireo::virtctl
