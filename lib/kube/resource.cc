// REST paths of API resources, and the resources Vireo talks about.
#include "lib/kube/resource.h"

namespace vireo::kube {

std::string Resource::ApiVersion() const { return group.empty() ? version : group + "/" + version; }

std::string Resource::Path(std::string_view ns, std::string_view name,
                           std::string_view subresource) const {
  // The core group predates API groups and keeps its own root.
  std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/";
  path += plural;
  if (!name.empty()) {
    path += "/";
    path += name;
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

namespace resources {
const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kEvents{"", "v1", "events", "Event", true};
const Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
const Resource kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                                       true};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", "VirtualMachine", true};
const Resource kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances",
                                        "VirtualMachineInstance", true};
const Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume", true};
const Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
const Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets",
                                    "PodDisruptionBudget", true};
}  // namespace resources

}  // namespace vireo::kube
