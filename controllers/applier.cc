// The writes every reconciler makes (applier.h), with one policy for what a
// failed write means.
#include "controllers/applier.h"

#include "lib/base/log.h"

namespace vireo::controllers {

using base::Json;
namespace res = kube::resources;

Json FinalizersJson(const std::vector<std::string>& finalizers) {
  Json out = Json::array();
  for (size_t i = 0; i < finalizers.size(); ++i) out[i] = Json(finalizers[i]);
  return out;
}

Applier::Applier(kube::Client* client, kube::EventRecorder* recorder,
                 base::Clock::Duration expectation_ttl)
    : client_(client),
      recorder_(recorder),
      expectation_ttl_(expectation_ttl),
      expectations_(expectation_ttl),
      written_(expectation_ttl) {}

kube::ObjectPtr Applier::CachedForReconcile(const kube::Informer& informer, kube::WorkQueue& queue,
                                            const std::string& kind, const std::string& key) {
  const ObjectRef ref{kind, key};
  kube::ObjectPtr cached = informer.store().Get(key);
  if (cached == nullptr) {
    expectations_.Forget(ref);
    written_.Forget(ref);
    return nullptr;
  }
  if (written_.IsStale(ref, base::ResourceVersionOf(*cached))) return nullptr;
  if (!expectations_.Satisfied(ref)) {
    queue.AddAfter(key, expectation_ttl_);
    return nullptr;
  }
  return cached;
}

void Applier::RecordEvents(const Json& object, const std::vector<Event>& events) {
  for (const Event& e : events) recorder_->Record(object, e.type, e.reason, e.message);
}

void Applier::RecordInvalid(const Json& object, const std::string& reason,
                            const base::Status& status) {
  recorder_->Record(object, kube::EventType::kWarning, reason, status.message());
}

base::Status Applier::WriteFailed(const Json& object, const std::string& what,
                                  const base::Status& status) {
  std::string key = base::KeyOf(object);
  const bool own_object = what.rfind("update", 0) == 0;
  // Our object is gone (a finalizer we removed let its deletion finish):
  // nothing is left to do for it.
  if (own_object && status.IsNotFound()) return base::Status::Ok();
  // A conflict is the normal way of learning the cache was behind: the next
  // reconcile starts from the newer version.
  if (status.IsConflict() || status.IsNotFound()) {
    base::Log(base::LogLevel::kDebug, "reconcile will retry: " + what,
              {{"object", key}, {"error", status.ToString()}});
    return status;
  }
  base::LogWarn("reconcile failed: " + what, {{"object", key}, {"error", status.ToString()}});
  std::string reason = own_object                     ? "FailedUpdate"
                       : what.rfind("create", 0) == 0 ? "FailedCreate"
                                                      : "FailedDelete";
  recorder_->Record(object, kube::EventType::kWarning, reason, what + ": " + status.message());
  return status.WithContext(what);
}

base::Status Applier::PatchObject(const kube::Resource& resource, const std::string& kind,
                                  const std::string& key, Json patch, const std::string& what,
                                  Json* latest) {
  patch["metadata"]["resourceVersion"] = Json(base::ResourceVersionOf(*latest));
  auto patched = client_->Patch(resource, base::NamespaceOf(*latest), base::NameOf(*latest),
                                kube::PatchType::kMerge, patch);
  if (!patched.ok()) return WriteFailed(*latest, what, patched.status());
  written_.Wrote({kind, key}, base::ResourceVersionOf(*latest));
  *latest = std::move(patched).value();
  return base::Status::Ok();
}

base::Status Applier::ApplyPodChanges(const Json& owner, const ObjectRef& owner_ref,
                                      const std::vector<Deletion>& delete_pods,
                                      const std::optional<Json>& create_pod,
                                      base::Status* refused, base::Json* created_pod) {
  const std::string ns = base::NamespaceOf(owner);
  for (const Deletion& pod : delete_pods) {
    kube::DeleteOptions options;
    options.precondition_uid = pod.uid;
    options.grace_period_seconds = pod.grace_period_seconds;
    base::Status deleted = client_->Delete(res::kPods, ns, pod.name, options);
    if (!deleted.ok() && !deleted.IsNotFound() && !deleted.IsConflict()) {
      return WriteFailed(owner, "delete pod " + pod.name, deleted);
    }
    base::Log(base::LogLevel::kDebug, "deleted pod",
              {{"object", owner_ref.key}, {"pod", pod.name}});
  }
  if (create_pod.has_value()) {
    const std::string pod_name = base::NameOf(*create_pod);
    const ObjectRef pod_ref{res::kPods.kind, ns + "/" + pod_name};
    expectations_.ExpectCreate(owner_ref, pod_ref);
    auto created = client_->Create(res::kPods, ns, *create_pod);
    if (!created.ok() && !created.status().IsAlreadyExists()) {
      expectations_.CreateFailed(owner_ref, pod_ref);
      if (refused != nullptr && IsPermanentRefusal(created.status())) {
        base::LogWarn(
            "pod refused for good",
            {{"object", owner_ref.key}, {"pod", pod_name}, {"error", created.status().ToString()}});
        *refused = created.status();
        return base::Status::Ok();
      }
      return WriteFailed(owner, "create pod " + pod_name, created.status());
    }
    base::Log(base::LogLevel::kDebug, "created pod",
              {{"object", owner_ref.key}, {"pod", pod_name}});
    if (created_pod != nullptr && created.ok()) *created_pod = std::move(created).value();
  }
  return base::Status::Ok();
}

base::Status Applier::WriteStatus(const kube::Resource& resource, const std::string& key,
                                  Json status, Json* latest) {
  Json object = *latest;
  object["status"] = std::move(status);
  auto updated = client_->UpdateStatus(resource, object);
  if (!updated.ok()) return WriteFailed(*latest, "update status", updated.status());
  written_.Wrote({resource.kind, key}, base::ResourceVersionOf(*latest));
  *latest = std::move(updated).value();
  return base::Status::Ok();
}

}  // namespace vireo::controllers
