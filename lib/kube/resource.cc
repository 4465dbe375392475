// REST paths of API resources, and the built-in resources Vireo talks about.
#include "lib/kube/resource.h"

#include <cctype>

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

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  static const char kHex[] = "0123456789ABCDEF";
  auto append_encoded = [](std::string* out, std::string_view text) {
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out->push_back(static_cast<char>(c));
      } else {
        out->push_back('%');
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    append_encoded(&out, name);
    out.push_back('=');
    append_encoded(&out, value);
  }
  return out;
}

namespace resources {
const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kEvents{"", "v1", "events", "Event", true};
const Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
const Resource kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                                       true};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
const Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets",
                                    "PodDisruptionBudget", true};
}  // namespace resources

}  // namespace vireo::kube
