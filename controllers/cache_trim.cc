// Trimming informer objects before they are cached; see cache_trim.h.
#include "controllers/cache_trim.h"

#include "controllers/reconcile/common.h"

namespace vireo::controllers {
namespace {

using base::Json;

// A watch stream whose ADDED, MODIFIED and DELETED objects are trimmed.
class TrimmingStream final : public kube::WatchStream {
 public:
  TrimmingStream(std::unique_ptr<kube::WatchStream> inner, const TrimFunction* trim)
      : inner_(std::move(inner)), trim_(trim) {}
  base::Result<kube::WatchEvent> Next() override {
    auto event = inner_->Next();
    if (event.ok() && (event->type == kube::WatchEvent::Type::kAdded ||
                       event->type == kube::WatchEvent::Type::kModified ||
                       event->type == kube::WatchEvent::Type::kDeleted)) {
      (*trim_)(event->object);
    }
    return event;
  }
  void Cancel() override { inner_->Cancel(); }

 private:
  const std::unique_ptr<kube::WatchStream> inner_;
  const TrimFunction* const trim_;  // owned by the TrimmingListerWatcher
};

// Copies from[key] into to[key] when present.
void Keep(const Json& from, Json& to, const char* key) {
  if (from.is_object() && from.contains(key)) to[key] = from.at(key);
}

// Erasing a key from a value that is not an object throws.
void Erase(Json& object, const char* key) {
  if (object.is_object() && object.contains(key)) object.erase(key);
}

}  // namespace

TrimmingListerWatcher::TrimmingListerWatcher(std::unique_ptr<kube::ListerWatcher> inner,
                                             TrimFunction trim)
    : inner_(std::move(inner)), trim_(std::move(trim)) {}

base::Result<kube::ObjectList> TrimmingListerWatcher::List(const kube::ListOptions& options) {
  auto list = inner_->List(options);
  if (list.ok()) {
    for (Json& item : list->items) trim_(item);
  }
  return list;
}

base::Result<std::unique_ptr<kube::WatchStream>> TrimmingListerWatcher::Watch(
    const kube::WatchOptions& options) {
  auto stream = inner_->Watch(options);
  if (!stream.ok()) return stream.status();
  return std::unique_ptr<kube::WatchStream>(
      std::make_unique<TrimmingStream>(std::move(stream).value(), &trim_));
}

void TrimKubectlCopy(Json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  Json& metadata = object.at("metadata");
  if (!metadata.is_object()) return;
  Erase(metadata, "managedFields");
  if (metadata.contains("annotations") && metadata.at("annotations").is_object()) {
    Json& annotations = metadata.at("annotations");
    Erase(annotations, "kubectl.kubernetes.io/last-applied-configuration");
    if (annotations.size() == 0) metadata.erase("annotations");
  }
}

void TrimLauncherPod(Json& pod) {
  if (!pod.is_object()) return;
  if (pod.contains("metadata")) {
    Json& metadata = pod.at("metadata");
    Erase(metadata, "managedFields");
    if (metadata.is_object() && metadata.contains("annotations")) {
      Erase(metadata.at("annotations"), kVmiAnnotation);
    }
  }
  if (pod.contains("spec")) {
    const Json& spec = pod.at("spec");
    Json trimmed = Json::object();
    Keep(spec, trimmed, "nodeName");
    // Init containers too: the accel-probe one says how the pod was made.
    for (const char* list : {"initContainers", "containers"}) {
      if (!spec.is_object() || !spec.contains(list) || !spec.at(list).is_array()) continue;
      Json containers = Json::array();
      size_t i = 0;
      for (const Json& c : spec.at(list)) {
        Json kept = Json::object();
        Keep(c, kept, "name");
        Keep(c, kept, "image");
        containers[i++] = std::move(kept);
      }
      trimmed[list] = std::move(containers);
    }
    pod["spec"] = std::move(trimmed);
  }
}

void TrimNode(Json& node) {
  if (!node.is_object()) return;
  Json trimmed = Json::object();
  Keep(node, trimmed, "apiVersion");
  Keep(node, trimmed, "kind");
  if (node.contains("metadata")) {
    Json kept = Json::object();
    for (const char* key : {"name", "uid", "resourceVersion"}) Keep(node.at("metadata"), kept, key);
    trimmed["metadata"] = std::move(kept);
  }
  if (const Json* taints = base::Find(node, "spec.taints")) trimmed["spec"]["taints"] = *taints;
  if (const Json* conditions = base::Find(node, "status.conditions");
      conditions != nullptr && conditions->is_array()) {
    Json kept = Json::array();
    size_t i = 0;
    for (const Json& c : *conditions) {
      if (base::GetString(c, "type") == "Ready") kept[i++] = c;
    }
    trimmed["status"]["conditions"] = std::move(kept);
  }
  node = std::move(trimmed);
}

void TrimPersistentVolumeClaim(Json& pvc) {
  if (!pvc.is_object()) return;
  Json trimmed = Json::object();
  Keep(pvc, trimmed, "apiVersion");
  Keep(pvc, trimmed, "kind");
  if (pvc.contains("metadata")) {
    const Json& metadata = pvc.at("metadata");
    Json kept = Json::object();
    for (const char* key :
         {"name", "namespace", "uid", "resourceVersion", "deletionTimestamp", "ownerReferences"}) {
      Keep(metadata, kept, key);
    }
    trimmed["metadata"] = std::move(kept);
  }
  if (pvc.contains("spec")) {
    Json spec = Json::object();
    for (const char* key : {"volumeMode", "accessModes", "storageClassName"}) {
      Keep(pvc.at("spec"), spec, key);
    }
    if (const Json* storage = base::Find(pvc.at("spec"), "resources.requests.storage")) {
      spec["resources"]["requests"]["storage"] = *storage;
    }
    trimmed["spec"] = std::move(spec);
  }
  if (pvc.contains("status")) {
    Json status = Json::object();
    Keep(pvc.at("status"), status, "phase");
    if (const Json* storage = base::Find(pvc.at("status"), "capacity.storage")) {
      status["capacity"]["storage"] = *storage;
    }
    trimmed["status"] = std::move(status);
  }
  pvc = std::move(trimmed);
}

}  // namespace vireo::controllers
