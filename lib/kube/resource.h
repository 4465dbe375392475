// Where objects of one API resource live in the Kubernetes REST API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vireo::kube {

struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string plural;   // "pods"
  std::string kind;     // "Pod"
  bool namespaced = true;

  // "v1" or "group/version", as in an object's apiVersion.
  std::string ApiVersion() const;

  // The REST path of the collection (name empty) or of one object, optionally
  // of its subresource. An empty namespace on a namespaced resource means all
  // namespaces (collections only). Names are not escaped: Kubernetes names
  // contain no characters that need it.
  std::string Path(std::string_view ns, std::string_view name = {},
                   std::string_view subresource = {}) const;
};

// The query string of a REST path, "a=1&b=x%3Dy": every byte but RFC 3986's
// unreserved ones is escaped, so selectors ("a=b,c!=d"), continue tokens and
// pods/exec commands reach the server intact.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params);

// The core resources (and other built-in groups') the client and its users
// talk about; kubevirt.io's and CDI's are lib/api's (lib/api/resources.h).
namespace resources {
extern const Resource kPods;
extern const Resource kEvents;      // core/v1 Events
extern const Resource kNamespaces;
extern const Resource kServiceAccounts;
extern const Resource kPersistentVolumeClaims;
extern const Resource kLeases;      // coordination.k8s.io/v1
extern const Resource kStorageClasses;  // storage.k8s.io/v1
extern const Resource kPodDisruptionBudgets;  // policy/v1
}  // namespace resources

}  // namespace vireo::kube
