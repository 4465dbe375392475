// Smaller informer caches: a ListerWatcher wrapper that passes each listed
// or watched object through a trim function before it is cached, and the
// trims: launcher pods and PVCs, which the controller only reads, lose all
// a decision does not read; VMs and VMIs only lose kubectl's copy of the
// whole object. A status PUT built from a trimmed VM or VMI is still exact:
// the apiserver takes only `status` from it and the rest from what it
// stores.
#pragma once

#include <functional>
#include <memory>

#include "lib/kube/watcher.h"

namespace vireo::controllers {

using TrimFunction = std::function<void(base::Json& object)>;

// Thread-safe as the wrapped ListerWatcher is.
class TrimmingListerWatcher final : public kube::ListerWatcher {
 public:
  TrimmingListerWatcher(std::unique_ptr<kube::ListerWatcher> inner, TrimFunction trim);
  base::Result<kube::ObjectList> List(const kube::ListOptions& options) override;
  base::Result<std::unique_ptr<kube::WatchStream>> Watch(
      const kube::WatchOptions& options) override;

 private:
  const std::unique_ptr<kube::ListerWatcher> inner_;
  const TrimFunction trim_;
};

// Keeps what internal::SummarizePod and the pod handlers read: metadata
// without the VMI annotation (a copy of the whole VMI, the largest part of a
// launcher pod), spec.nodeName, each container's and init container's name
// and image, and status.
void TrimLauncherPod(base::Json& pod);

// Drops metadata.managedFields and the annotation
// kubectl.kubernetes.io/last-applied-configuration (a copy of the object as
// `kubectl apply` last sent it), which no decision reads.
void TrimKubectlCopy(base::Json& object);

// Keeps metadata (name, namespace, uid, resourceVersion) and spec.volumeMode.
void TrimPersistentVolumeClaim(base::Json& pvc);

// Keeps metadata (name, uid, resourceVersion), spec.taints and the Ready
// condition: a Node's status (images, addresses, capacity) is large and the
// VMI decision only reads NodeStateOf.
void TrimNode(base::Json& node);

}  // namespace vireo::controllers
