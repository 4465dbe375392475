// The informer: a local, indexed copy of one collection, kept current by a
// Watcher on its own thread, telling handlers what changed. Controllers read
// the copy instead of the apiserver and enqueue keys from the handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/base/json.h"
#include "lib/kube/packed_json.h"
#include "lib/kube/watcher.h"

namespace vireo::kube {

// Cached objects are shared, never copied, and must not be modified: a
// reconciler that wants to change one copies it first.
using ObjectPtr = std::shared_ptr<const base::Json>;

// What a store indexes an object under: the values of one named index.
using IndexFunc = std::function<std::vector<std::string>(const base::Json& object)>;
struct StoreIndex {
  std::string name;
  IndexFunc values;
};
// The owner index: metadata.ownerReferences[].uid.
inline constexpr char kOwnerIndex[] = "owner";
// Every label, as "key=value".
inline constexpr char kLabelIndex[] = "label";
// The name of LabelIndex(key).
std::string LabelIndexName(std::string_view key);
StoreIndex OwnerIndex();
StoreIndex AllLabelsIndex();
// One label's values: cheaper than AllLabelsIndex when one key is looked up.
StoreIndex LabelIndex(std::string key);

// Objects keyed "namespace/name" (KeyOf), with the indexes it was built with
// (by default: owners and every label). Objects are held packed
// (packed_json.h), a few hundred bytes each, and parsed again on every read:
// a reader keeps the ObjectPtr it got rather than asking twice.
// Thread-safe: one writer, any number of concurrent readers. Reads return
// snapshots; results are in key order.
class Store {
 public:
  Store();
  explicit Store(std::vector<StoreIndex> indexes);

  ObjectPtr Get(std::string_view key) const;  // nullptr when absent
  std::vector<ObjectPtr> List() const;
  std::vector<std::string> ListKeys() const;
  // A range of the key order: no index needed.
  std::vector<ObjectPtr> ByNamespace(std::string_view ns) const;
  // REQUIRES: the store has the index; asking one it lacks throws
  // std::logic_error.
  std::vector<ObjectPtr> ByIndex(std::string_view index, std::string_view value) const;
  std::vector<ObjectPtr> ByOwner(std::string_view owner_uid) const;
  // Through LabelIndex(key) if the store has it, else AllLabelsIndex.
  std::vector<ObjectPtr> ByLabel(std::string_view key, std::string_view value) const;
  size_t size() const;

  // What the store holds, for benchmarks and metrics.
  struct Footprint {
    size_t objects = 0;
    size_t packed_bytes = 0;  // the objects' packed bytes
    size_t text_bytes = 0;    // their JSON text
  };
  Footprint footprint() const;

  // The writer's side. Each returns the object the store held before, or
  // nullptr.
  ObjectPtr Upsert(ObjectPtr object);
  ObjectPtr Remove(const std::string& key);

 private:
  // Orders any strings by their characters, so that pmr and plain strings
  // and views look each other up.
  struct ViewLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::string_view(a) < std::string_view(b);
    }
  };
  // Index value -> keys; the views point into objects_' keys.
  using Postings = std::pmr::map<std::pmr::string, std::pmr::set<std::string_view>, ViewLess>;
  struct Index {
    IndexFunc values;
    Postings postings;
  };
  using Objects = std::pmr::map<std::pmr::string, PackedJson, ViewLess>;

  void IndexLocked(std::string_view key, const base::Json& object, bool add);
  ObjectPtr UnpackLocked(const PackedJson& packed) const;
  std::vector<ObjectPtr> ByIndexLocked(std::string_view index, std::string_view value) const;

  JsonPacker packer_;
  mutable std::shared_mutex mu_;
  // What the store keeps lives in a pool of its own, away from the heap
  // where list pages and events are parsed and freed: among them, each small
  // entry would pin a page of freed memory. Its chunks stop growing at 512
  // blocks: libstdc++ doubles them up to 16,384 by default, and a fleet's
  // last chunk stood half empty. GUARDED_BY(mu_): unsynchronized.
  std::pmr::unsynchronized_pool_resource pool_{
      std::pmr::pool_options{.max_blocks_per_chunk = 512, .largest_required_pool_block = 0}};
  Objects objects_{&pool_};                            // GUARDED_BY(mu_)
  std::map<std::string, Index, std::less<>> indexes_;  // GUARDED_BY(mu_)
};

// What an informer's user hears. Each is optional. Called on the informer's
// thread after the store has changed, one call at a time: keep them short
// (enqueue a key) and never block on the informer.
struct InformerHandlers {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // The last state known: the DELETED event's object, or the cached object
  // when a relist found it gone.
  std::function<void(const ObjectPtr& object)> on_delete;
};

// Handlers that hand the object's newest state to `changed` on every update
// and delete and to `added` on an add: what a reconciler that only enqueues
// a key wants (one callback for all, or adds apart for a queue that starts
// new objects first, WorkQueue::AddNew).
inline InformerHandlers OnEveryChange(std::function<void(const ObjectPtr&)> added,
                                      std::function<void(const ObjectPtr&)> changed) {
  return {.on_add = std::move(added),
          .on_update = [changed](const ObjectPtr&, const ObjectPtr& object) { changed(object); },
          .on_delete = changed};
}
inline InformerHandlers OnEveryChange(std::function<void(const ObjectPtr&)> changed) {
  return OnEveryChange(changed, changed);
}

// The same for adds and deletes only, for an object whose updates never
// matter to the caller.
inline InformerHandlers OnAddOrDelete(std::function<void(const ObjectPtr&)> changed) {
  return {.on_add = changed, .on_update = nullptr, .on_delete = changed};
}

// Drops what no controller reads from an object before it is cached
// (metadata.managedFields).
void StripForCache(base::Json& object);

// Applies a watcher's output to a Store and tells handlers about each change.
// An update whose resourceVersion equals the cached one (a relist repeating
// what we have) changes nothing and is not told.
// Thread-safe as far as the WatchConsumer contract needs: the watcher's thread
// writes; synced and WaitForSync may be called from any thread. Handlers are
// added before the watcher runs.
class Reflector final : public WatchConsumer {
 public:
  explicit Reflector(Store* store) : store_(store) {}
  void AddHandlers(InformerHandlers handlers) { handlers_.push_back(std::move(handlers)); }

  void OnListPage(std::vector<base::Json> items, bool first_page) override;
  void OnListDone(const std::string& resource_version) override;
  // A whole list at once: one first page, then done.
  void OnReplace(std::vector<base::Json> items, const std::string& resource_version) {
    OnListPage(std::move(items), /*first_page=*/true);
    OnListDone(resource_version);
  }
  void OnEvent(WatchEvent event) override;

  // True once the first full list has been applied.
  bool synced() const { return synced_.load(); }
  bool WaitForSync(std::chrono::milliseconds timeout) const;

 private:
  void Apply(base::Json object);
  void Delete(const std::string& key, const ObjectPtr& last_known);

  Store* const store_;
  std::vector<InformerHandlers> handlers_;
  std::set<std::string> listed_;  // keys of the list in progress
  std::atomic<bool> synced_{false};
  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
};

// Watcher + Store + handlers on a thread of their own.
// Thread-safe: store(), HasSynced and WaitForSync from any thread; AddHandlers
// before Run; Run and Stop from the thread that owns the informer.
class Informer {
 public:
  // `indexes`: the store's (Store()'s when absent).
  explicit Informer(std::unique_ptr<ListerWatcher> lister_watcher, WatcherOptions options = {},
                    std::optional<std::vector<StoreIndex>> indexes = std::nullopt);
  // Stops and joins.
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // REQUIRES: Run not called yet.
  void AddHandlers(InformerHandlers handlers) { reflector_.AddHandlers(std::move(handlers)); }
  // Starts the thread; an informer runs at most once.
  void Run();
  // Stops the watcher and joins the thread: no handler runs after it returns.
  void Stop();

  bool HasSynced() const { return reflector_.synced(); }
  // Waits until HasSynced, at most `timeout`; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout) const {
    return reflector_.WaitForSync(timeout);
  }
  const Store& store() const { return store_; }
  // The last resourceVersion the watcher saw.
  std::string resource_version() const { return watcher_.resource_version(); }

 private:
  std::unique_ptr<ListerWatcher> lister_watcher_;
  Store store_;
  Reflector reflector_;
  Watcher watcher_;
  std::thread thread_;
};

}  // namespace vireo::kube
