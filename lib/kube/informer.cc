// The informer's store, the reflector that writes it, and the thread that
// runs them.
#include "lib/kube/informer.h"

#include <utility>

namespace vireo::kube {

using base::Find;
using base::GetString;
using base::Json;
using base::KeyOf;
using base::NamespaceOf;
using base::ResourceVersionOf;

namespace {

// Values under which an object is indexed, per index.
std::vector<std::string> OwnerUids(const Json& object) {
  std::vector<std::string> uids;
  const Json* refs = Find(object, "metadata.ownerReferences");
  if (refs == nullptr || !refs->is_array()) return uids;
  for (const Json& ref : *refs) {
    std::string uid = GetString(ref, "uid");
    if (!uid.empty()) uids.push_back(std::move(uid));
  }
  return uids;
}

std::vector<std::string> LabelPairs(const Json& object) {
  std::vector<std::string> pairs;
  const Json* labels = Find(object, "metadata.labels");
  if (labels == nullptr || !labels->is_object()) return pairs;
  for (const auto& [key, value] : labels->items()) {
    if (value.is_string()) pairs.push_back(key + "=" + value.get<std::string>());
  }
  return pairs;
}

void IndexOne(std::map<std::string, std::set<std::string>, std::less<>>& index,
              const std::string& value, const std::string& key, bool add) {
  if (add) {
    index[value].insert(key);
    return;
  }
  auto it = index.find(value);
  if (it == index.end()) return;
  it->second.erase(key);
  if (it->second.empty()) index.erase(it);
}

}  // namespace

ObjectPtr Store::Get(std::string_view key) const {
  std::shared_lock l(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::List() const {
  std::shared_lock l(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(object);
  return out;
}

std::vector<std::string> Store::ListKeys() const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> Store::ByNamespace(std::string_view ns) const {
  std::shared_lock l(mu_);
  return LookupLocked(by_namespace_, ns);
}

std::vector<ObjectPtr> Store::ByOwner(std::string_view owner_uid) const {
  std::shared_lock l(mu_);
  return LookupLocked(by_owner_, owner_uid);
}

std::vector<ObjectPtr> Store::ByLabel(std::string_view key, std::string_view value) const {
  std::shared_lock l(mu_);
  return LookupLocked(by_label_, std::string(key) + "=" + std::string(value));
}

size_t Store::size() const {
  std::shared_lock l(mu_);
  return objects_.size();
}

std::vector<ObjectPtr> Store::LookupLocked(const Index& index, std::string_view value) const {
  std::vector<ObjectPtr> out;
  auto it = index.find(value);
  if (it == index.end()) return out;
  for (const std::string& key : it->second) out.push_back(objects_.find(key)->second);
  return out;
}

ObjectPtr Store::Upsert(ObjectPtr object) {
  std::string key = KeyOf(*object);
  std::unique_lock l(mu_);
  ObjectPtr& slot = objects_[key];
  ObjectPtr old = std::move(slot);
  if (old != nullptr) IndexLocked(key, *old, /*add=*/false);
  slot = std::move(object);
  IndexLocked(key, *slot, /*add=*/true);
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  std::unique_lock l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr old = std::move(it->second);
  objects_.erase(it);
  IndexLocked(key, *old, /*add=*/false);
  return old;
}

void Store::IndexLocked(const std::string& key, const Json& object, bool add) {
  IndexOne(by_namespace_, NamespaceOf(object), key, add);
  for (const std::string& uid : OwnerUids(object)) IndexOne(by_owner_, uid, key, add);
  for (const std::string& pair : LabelPairs(object)) IndexOne(by_label_, pair, key, add);
}

// managedFields is often the largest part of an object and no controller
// reads it; an update built from a cached object without it leaves the
// server's copy as it is.
void StripForCache(Json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  Json& metadata = object.at("metadata");
  if (metadata.is_object() && metadata.contains("managedFields")) metadata.erase("managedFields");
}

void Reflector::OnReplace(std::vector<Json> items, const std::string& /*resource_version*/) {
  std::set<std::string> listed;
  for (Json& item : items) {
    listed.insert(KeyOf(item));
    Apply(std::move(item));
  }
  // Whatever the list no longer has was deleted while the watch was down.
  for (const std::string& key : store_->ListKeys()) {
    if (listed.count(key) == 0) Delete(key, nullptr);
  }
  if (!synced_.load()) {
    std::lock_guard<std::mutex> l(sync_mu_);
    synced_ = true;
    sync_cv_.notify_all();
  }
}

void Reflector::OnEvent(WatchEvent event) {
  switch (event.type) {
    case WatchEvent::Type::kAdded:
    case WatchEvent::Type::kModified:
      Apply(std::move(event.object));
      break;
    case WatchEvent::Type::kDeleted: {
      std::string key = KeyOf(event.object);
      StripForCache(event.object);
      Delete(key, std::make_shared<const Json>(std::move(event.object)));
      break;
    }
    default:
      break;
  }
}

void Reflector::Apply(Json object) {
  StripForCache(object);
  ObjectPtr cached = store_->Get(KeyOf(object));
  if (cached != nullptr && ResourceVersionOf(*cached) == ResourceVersionOf(object)) return;
  auto fresh = std::make_shared<const Json>(std::move(object));
  ObjectPtr old = store_->Upsert(fresh);
  for (const InformerHandlers& h : handlers_) {
    if (old == nullptr) {
      if (h.on_add) h.on_add(fresh);
    } else if (h.on_update) {
      h.on_update(old, fresh);
    }
  }
}

void Reflector::Delete(const std::string& key, const ObjectPtr& last_known) {
  ObjectPtr old = store_->Remove(key);
  // A delete of something never seen has nothing to tell.
  if (old == nullptr) return;
  const ObjectPtr& told = last_known != nullptr ? last_known : old;
  for (const InformerHandlers& h : handlers_) {
    if (h.on_delete) h.on_delete(told);
  }
}

bool Reflector::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(sync_mu_);
  return sync_cv_.wait_for(l, timeout, [this] { return synced_.load(); });
}

Informer::Informer(std::unique_ptr<ListerWatcher> lister_watcher, WatcherOptions options)
    : lister_watcher_(std::move(lister_watcher)),
      reflector_(&store_),
      watcher_(lister_watcher_.get(), &reflector_, std::move(options)) {}

Informer::~Informer() { Stop(); }

void Informer::Run() {
  thread_ = std::thread([this] { watcher_.Run(); });
}

void Informer::Stop() {
  watcher_.Stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vireo::kube
