// The informer's store, the reflector that writes it, and the thread that
// runs them.
#include "lib/kube/informer.h"

#include <stdexcept>
#include <utility>

namespace vireo::kube {

using base::Find;
using base::GetString;
using base::Json;
using base::KeyOf;
using base::NamespaceOf;
using base::ResourceVersionOf;

namespace {

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

}  // namespace

std::string LabelIndexName(std::string_view key) {
  return std::string(kLabelIndex) + ":" + std::string(key);
}

StoreIndex OwnerIndex() { return {kOwnerIndex, OwnerUids}; }
StoreIndex AllLabelsIndex() { return {kLabelIndex, LabelPairs}; }

StoreIndex LabelIndex(std::string key) {
  std::string name = LabelIndexName(key);
  return {std::move(name), [key = std::move(key)](const Json& object) {
            std::vector<std::string> values;
            const Json* labels = Find(object, "metadata.labels");
            if (labels != nullptr && labels->is_object()) {
              auto it = labels->find(key);
              if (it != labels->end() && it->is_string()) values.push_back(it->get<std::string>());
            }
            return values;
          }};
}

Store::Store() : Store({OwnerIndex(), AllLabelsIndex()}) {}

Store::Store(std::vector<StoreIndex> indexes) {
  for (StoreIndex& index : indexes) {
    indexes_.try_emplace(std::move(index.name), Index{std::move(index.values), Postings(&pool_)});
  }
}

ObjectPtr Store::UnpackLocked(const PackedJson& packed) const {
  return std::make_shared<const Json>(packer_.Unpack(packed));
}

ObjectPtr Store::Get(std::string_view key) const {
  std::shared_lock l(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : UnpackLocked(it->second);
}

std::vector<ObjectPtr> Store::List() const {
  std::shared_lock l(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, packed] : objects_) out.push_back(UnpackLocked(packed));
  return out;
}

std::vector<std::string> Store::ListKeys() const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, packed] : objects_) out.emplace_back(key);
  return out;
}

std::vector<ObjectPtr> Store::ByNamespace(std::string_view ns) const {
  std::shared_lock l(mu_);
  std::vector<ObjectPtr> out;
  if (ns.empty()) {
    // Cluster-scoped objects: keys without a namespace.
    for (const auto& [key, packed] : objects_) {
      if (key.find('/') == std::string::npos) out.push_back(UnpackLocked(packed));
    }
    return out;
  }
  // Keys sharing the prefix "ns/" are one run of the key order.
  const std::string prefix = std::string(ns) + "/";
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    out.push_back(UnpackLocked(it->second));
  }
  return out;
}

std::vector<ObjectPtr> Store::ByIndex(std::string_view index, std::string_view value) const {
  std::shared_lock l(mu_);
  return ByIndexLocked(index, value);
}

std::vector<ObjectPtr> Store::ByIndexLocked(std::string_view index, std::string_view value) const {
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) {
    throw std::logic_error("store has no index " + std::string(index));
  }
  std::vector<ObjectPtr> out;
  auto it = idx->second.postings.find(value);
  if (it == idx->second.postings.end()) return out;
  for (std::string_view key : it->second) out.push_back(UnpackLocked(objects_.find(key)->second));
  return out;
}

std::vector<ObjectPtr> Store::ByOwner(std::string_view owner_uid) const {
  return ByIndex(kOwnerIndex, owner_uid);
}

std::vector<ObjectPtr> Store::ByLabel(std::string_view key, std::string_view value) const {
  const std::string one = LabelIndexName(key);
  std::shared_lock l(mu_);
  if (indexes_.contains(one)) return ByIndexLocked(one, value);
  return ByIndexLocked(kLabelIndex, std::string(key) + "=" + std::string(value));
}

size_t Store::size() const {
  std::shared_lock l(mu_);
  return objects_.size();
}

Store::Footprint Store::footprint() const {
  std::shared_lock l(mu_);
  Footprint f;
  f.objects = objects_.size();
  for (const auto& [key, packed] : objects_) {
    f.packed_bytes += packed.packed_size();
    f.text_bytes += packed.text_size();
  }
  return f;
}

ObjectPtr Store::Upsert(ObjectPtr object) {
  const std::string key = KeyOf(*object);
  std::unique_lock l(mu_);
  PackedJson packed = packer_.Pack(*object, &pool_);
  auto [it, inserted] = objects_.try_emplace(std::pmr::string(key, &pool_));
  ObjectPtr old;
  if (!inserted) {
    old = UnpackLocked(it->second);
    IndexLocked(it->first, *old, /*add=*/false);
  }
  it->second = std::move(packed);
  IndexLocked(it->first, *object, /*add=*/true);
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  std::unique_lock l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr old = UnpackLocked(it->second);
  IndexLocked(it->first, *old, /*add=*/false);
  objects_.erase(it);
  return old;
}

// `key` is the key of objects_' entry, which outlives its postings.
void Store::IndexLocked(std::string_view key, const Json& object, bool add) {
  for (auto& [name, index] : indexes_) {
    for (const std::string& value : index.values(object)) {
      if (add) {
        index.postings.try_emplace(std::pmr::string(value, &pool_)).first->second.insert(key);
        continue;
      }
      auto posting = index.postings.find(value);
      if (posting == index.postings.end()) continue;
      posting->second.erase(key);
      if (posting->second.empty()) index.postings.erase(posting);
    }
  }
}

// managedFields is often the largest part of an object and no controller
// reads it; an update built from a cached object without it leaves the
// server's copy as it is.
void StripForCache(Json& object) {
  if (!object.is_object() || !object.contains("metadata")) return;
  Json& metadata = object.at("metadata");
  if (metadata.is_object() && metadata.contains("managedFields")) metadata.erase("managedFields");
}

void Reflector::OnListPage(std::vector<Json> items, bool first_page) {
  if (first_page) listed_.clear();
  for (Json& item : items) {
    listed_.insert(KeyOf(item));
    Apply(std::move(item));
  }
}

void Reflector::OnListDone(const std::string& /*resource_version*/) {
  // Whatever the list no longer has was deleted while the watch was down.
  for (const std::string& key : store_->ListKeys()) {
    if (listed_.count(key) == 0) Delete(key, nullptr);
  }
  std::set<std::string>().swap(listed_);
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
  auto fresh = std::make_shared<const Json>(std::move(object));
  ObjectPtr old = store_->Upsert(fresh);
  // A relist repeating what the store held: the same bytes again.
  if (old != nullptr && ResourceVersionOf(*old) == ResourceVersionOf(*fresh)) return;
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

Informer::Informer(std::unique_ptr<ListerWatcher> lister_watcher, WatcherOptions options,
                   std::optional<std::vector<StoreIndex>> indexes)
    : lister_watcher_(std::move(lister_watcher)),
      store_(indexes.has_value() ? Store(std::move(*indexes)) : Store()),
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
