// T0: the store's indexes, the reflector's diffing, and an informer run over
// a fake ListerWatcher.
// gtest goes first: cpprest (through json.h) defines a macro U that breaks it.
#include <gtest/gtest.h>
// (a line here keeps clang-format from sorting the includes below above gtest)
#include <atomic>
#include <deque>
#include <map>
#include <thread>

#include "lib/kube/informer.h"

namespace vireo::kube {

using base::Code;
using base::Find;
using base::GetInt;
using base::GetString;
using base::Json;
using base::KeyOf;
using base::ParseJson;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

namespace {

Json Obj(const std::string& ns, const std::string& name, const std::string& rv,
         const std::map<std::string, std::string>& labels = {},
         const std::vector<std::string>& owner_uids = {}) {
  Json metadata = Json::object();
  metadata["name"] = Json(name);
  if (!ns.empty()) metadata["namespace"] = Json(ns);
  metadata["resourceVersion"] = Json(rv);
  Json label_object = Json::object();
  for (const auto& [k, v] : labels) label_object[k] = Json(v);
  metadata["labels"] = label_object;
  std::vector<Json> refs;
  for (const std::string& uid : owner_uids) {
    Json ref = Json::object();
    ref["uid"] = Json(uid);
    ref["kind"] = Json("VirtualMachine");
    refs.push_back(ref);
  }
  metadata["ownerReferences"] = Json(refs);
  Json o = Json::object();
  o["metadata"] = metadata;
  return o;
}

ObjectPtr Ptr(Json o) { return std::make_shared<const Json>(std::move(o)); }

std::vector<std::string> Keys(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> keys;
  for (const ObjectPtr& o : objects) keys.push_back(KeyOf(*o));
  return keys;
}

using Strings = std::vector<std::string>;

TEST(StoreTest, IndexesFollowUpdatesAndRemovals) {
  Store store;
  EXPECT_EQ(store.Upsert(Ptr(Obj("ns1", "a", "1", {{"app", "x"}}, {"owner-1"}))), nullptr);
  store.Upsert(Ptr(Obj("ns1", "b", "1", {{"app", "y"}}, {"owner-1", "owner-2"})));
  store.Upsert(Ptr(Obj("ns2", "a", "1", {{"app", "x"}})));
  store.Upsert(Ptr(Obj("", "cluster-wide", "1")));

  EXPECT_EQ(store.size(), 4u);
  EXPECT_EQ(store.ListKeys(), (Strings{"cluster-wide", "ns1/a", "ns1/b", "ns2/a"}));
  ASSERT_NE(store.Get("ns1/b"), nullptr);
  EXPECT_EQ(store.Get("ns1/zz"), nullptr);
  EXPECT_EQ(Keys(store.ByNamespace("ns1")), (Strings{"ns1/a", "ns1/b"}));
  EXPECT_EQ(Keys(store.ByNamespace("")), (Strings{"cluster-wide"}));
  EXPECT_EQ(Keys(store.ByOwner("owner-1")), (Strings{"ns1/a", "ns1/b"}));
  EXPECT_EQ(Keys(store.ByOwner("owner-2")), (Strings{"ns1/b"}));
  EXPECT_EQ(Keys(store.ByLabel("app", "x")), (Strings{"ns1/a", "ns2/a"}));

  // An update moves the object between index entries.
  ObjectPtr old = store.Upsert(Ptr(Obj("ns1", "a", "2", {{"app", "y"}}, {"owner-2"})));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(ResourceVersionOf(*old), "1");
  EXPECT_EQ(Keys(store.ByLabel("app", "x")), (Strings{"ns2/a"}));
  EXPECT_EQ(Keys(store.ByLabel("app", "y")), (Strings{"ns1/a", "ns1/b"}));
  EXPECT_EQ(Keys(store.ByOwner("owner-1")), (Strings{"ns1/b"}));

  ASSERT_NE(store.Remove("ns1/b"), nullptr);
  EXPECT_EQ(store.Remove("ns1/b"), nullptr);
  EXPECT_EQ(Keys(store.ByOwner("owner-2")), (Strings{"ns1/a"}));
  EXPECT_EQ(Keys(store.ByNamespace("ns1")), (Strings{"ns1/a"}));
  EXPECT_TRUE(store.ByOwner("owner-1").empty());
}

TEST(StoreTest, KeepsOnlyTheIndexesItWasGiven) {
  Store store({LabelIndex("app")});
  store.Upsert(Ptr(Obj("ns1", "a", "1", {{"app", "x"}, {"tier", "web"}}, {"owner-1"})));
  store.Upsert(Ptr(Obj("ns1", "b", "1", {{"tier", "web"}})));
  EXPECT_EQ(Keys(store.ByLabel("app", "x")), (Strings{"ns1/a"}));
  EXPECT_TRUE(store.ByLabel("app", "y").empty());
  // Asking an index the store was not built with is a programmer error, not
  // an empty answer.
  EXPECT_THROW(store.ByLabel("tier", "web"), std::logic_error);
  EXPECT_THROW(store.ByOwner("owner-1"), std::logic_error);
  EXPECT_THROW(store.ByIndex("claims", "x"), std::logic_error);

  Store custom({{"node", [](const Json& o) {
                   std::string node = GetString(o, "spec.nodeName");
                   return node.empty() ? Strings{} : Strings{node};
                 }}});
  Json on_n1 = Obj("ns", "p", "1");
  on_n1["spec"] = ParseJson(R"({"nodeName": "n1"})").value();
  custom.Upsert(Ptr(on_n1));
  custom.Upsert(Ptr(Obj("ns", "q", "1")));
  EXPECT_EQ(Keys(custom.ByIndex("node", "n1")), (Strings{"ns/p"}));
  on_n1["spec"]["nodeName"] = Json("n2");
  custom.Upsert(Ptr(on_n1));
  EXPECT_TRUE(custom.ByIndex("node", "n1").empty());
  EXPECT_EQ(Keys(custom.ByIndex("node", "n2")), (Strings{"ns/p"}));
}

TEST(StoreTest, ANamespaceIsExactlyItsKeys) {
  Store store;
  for (const char* ns : {"n", "ns", "ns-2", "ns.x", "nsa", "ns0"}) {
    store.Upsert(Ptr(Obj(ns, "a", "1")));
  }
  store.Upsert(Ptr(Obj("ns", "b", "1")));
  store.Upsert(Ptr(Obj("", "ns", "1")));
  EXPECT_EQ(Keys(store.ByNamespace("ns")), (Strings{"ns/a", "ns/b"}));
  EXPECT_EQ(Keys(store.ByNamespace("n")), (Strings{"n/a"}));
  EXPECT_EQ(Keys(store.ByNamespace("ns-2")), (Strings{"ns-2/a"}));
  EXPECT_TRUE(store.ByNamespace("absent").empty());
  EXPECT_EQ(Keys(store.ByNamespace("")), (Strings{"ns"}));
}

TEST(StoreTest, HoldsObjectsPackedAndGivesThemBackWhole) {
  Store store;
  Json first = Obj("ns", "vm-0", "1", {{"app", "x"}});
  first["spec"] = ParseJson(R"({"template": {"spec": {"domain": {"memory": {"guest": "1Gi"},
      "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}},
      "volumes": [{"name": "root", "containerDisk": {"image": "registry.example/os:1"}}]}}})")
                      .value();
  store.Upsert(Ptr(first));
  for (int i = 1; i < 50; ++i) {
    Json sibling = first;
    sibling["metadata"]["name"] = Json("vm-" + std::to_string(i));
    store.Upsert(Ptr(sibling));
  }
  Json other = Obj("ns", "unlike", "7");
  other["data"] = Json("caf\u00e9 \u2603 \"quoted\" 1e400 is text");
  other["n"] = Json(0.1);
  store.Upsert(Ptr(other));

  EXPECT_EQ(*store.Get("ns/vm-0"), first);
  EXPECT_EQ(*store.Get("ns/unlike"), other);
  Json expected = first;
  expected["metadata"]["name"] = Json("vm-42");
  EXPECT_EQ(*store.Get("ns/vm-42"), expected);

  Store::Footprint f = store.footprint();
  EXPECT_EQ(f.objects, 51u);
  // Siblings of the first object pack against it: together they take far
  // less than a tenth of their text.
  EXPECT_GT(f.text_bytes, 50 * first.dump().size());
  EXPECT_LT(f.packed_bytes * 10, f.text_bytes);
}

TEST(StoreTest, ReadersNeverSeeAnIndexDisagreeWithItsObjects) {
  Store store;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) {
      std::string color = i % 2 == 0 ? "red" : "blue";
      store.Upsert(Ptr(Obj("ns", "o" + std::to_string(i % 7), std::to_string(i), {{"c", color}})));
    }
    done = true;
  });
  std::atomic<int> mismatches{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      // At least one pass after the writer finished.
      bool last = false;
      while (!last) {
        last = done.load();
        for (const ObjectPtr& o : store.ByLabel("c", "red")) {
          if (GetString(*o, "metadata.labels.c") != "red") ++mismatches;
        }
        for (const std::string& key : store.ListKeys()) {
          if (store.Get(key) == nullptr) ++mismatches;  // nothing is ever removed
        }
        ++reads;
        // glibc's shared_mutex favours readers: spinning ones starve the writer.
        std::this_thread::yield();
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store.size(), 7u);
}

// Handlers that write what they hear as short lines.
struct Recorder {
  InformerHandlers Handlers() {
    InformerHandlers h;
    h.on_add = [this](const ObjectPtr& o) { Log("add " + Id(*o)); };
    h.on_update = [this](const ObjectPtr& old_object, const ObjectPtr& new_object) {
      Log("update " + Id(*old_object) + "->" + ResourceVersionOf(*new_object));
    };
    h.on_delete = [this](const ObjectPtr& o) { Log("delete " + Id(*o)); };
    return h;
  }
  static std::string Id(const Json& o) { return KeyOf(o) + "@" + ResourceVersionOf(o); }
  void Log(const std::string& line) {
    std::lock_guard<std::mutex> l(mu);
    lines.push_back(line);
    cv.notify_all();
  }
  bool WaitForLines(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(30), [&] { return lines.size() >= n; });
  }
  Strings Take() {
    std::lock_guard<std::mutex> l(mu);
    return std::exchange(lines, {});
  }
  std::mutex mu;
  std::condition_variable cv;
  Strings lines;
};

class ReflectorTest : public ::testing::Test {
 protected:
  ReflectorTest() : reflector_(&store_) { reflector_.AddHandlers(recorder_.Handlers()); }
  void Event(WatchEvent::Type type, Json o) { reflector_.OnEvent(WatchEvent{type, std::move(o)}); }

  Store store_;
  Recorder recorder_;
  Reflector reflector_;
};

TEST_F(ReflectorTest, EventsBecomeAddsUpdatesAndDeletes) {
  reflector_.OnReplace({}, "1");
  Event(WatchEvent::Type::kAdded, Obj("ns", "a", "2"));
  Event(WatchEvent::Type::kModified, Obj("ns", "a", "3"));
  Event(WatchEvent::Type::kModified, Obj("ns", "a", "3"));  // resync noise
  Event(WatchEvent::Type::kModified, Obj("ns", "b", "4"));  // never seen: an add
  Event(WatchEvent::Type::kDeleted, Obj("ns", "a", "5"));
  Event(WatchEvent::Type::kDeleted, Obj("ns", "zz", "6"));  // never seen: nothing to tell
  EXPECT_EQ(recorder_.Take(),
            (Strings{"add ns/a@2", "update ns/a@2->3", "add ns/b@4", "delete ns/a@5"}));
  EXPECT_EQ(store_.ListKeys(), (Strings{"ns/b"}));
}

TEST_F(ReflectorTest, RelistTellsWhatChangedAndWhatIsGone) {
  EXPECT_FALSE(reflector_.synced());
  reflector_.OnReplace({Obj("ns", "a", "1"), Obj("ns", "b", "1")}, "1");
  EXPECT_TRUE(reflector_.synced());
  EXPECT_EQ(recorder_.Take(), (Strings{"add ns/a@1", "add ns/b@1"}));

  reflector_.OnReplace({Obj("ns", "a", "1"), Obj("ns", "b", "2"), Obj("ns", "c", "2")}, "2");
  EXPECT_EQ(recorder_.Take(), (Strings{"update ns/b@1->2", "add ns/c@2"}));

  // Deleted while the watch was away: told with the last state we had.
  reflector_.OnReplace({Obj("ns", "c", "2")}, "3");
  EXPECT_EQ(recorder_.Take(), (Strings{"delete ns/a@1", "delete ns/b@2"}));
  EXPECT_EQ(store_.ListKeys(), (Strings{"ns/c"}));
}

TEST_F(ReflectorTest, ListPagesApplyAsTheyComeAndARestartedListDecidesWhatIsGone) {
  reflector_.OnReplace({Obj("ns", "a", "1"), Obj("ns", "b", "1"), Obj("ns", "c", "1")}, "1");
  recorder_.Take();

  // A relist whose second page never came: its first page is applied at
  // once, and nothing is deleted yet.
  reflector_.OnListPage({Obj("ns", "a", "2")}, /*first_page=*/true);
  EXPECT_EQ(recorder_.Take(), (Strings{"update ns/a@1->2"}));
  EXPECT_EQ(store_.size(), 3u);
  // The list again, from a newer snapshot, in two pages: only what neither
  // page of this list had is gone, though the failed list had `a`.
  reflector_.OnListPage({Obj("ns", "b", "3")}, /*first_page=*/true);
  reflector_.OnListPage({Obj("ns", "d", "3")}, /*first_page=*/false);
  reflector_.OnListDone("3");
  EXPECT_EQ(recorder_.Take(),
            (Strings{"update ns/b@1->3", "add ns/d@3", "delete ns/a@2", "delete ns/c@1"}));
  EXPECT_EQ(store_.ListKeys(), (Strings{"ns/b", "ns/d"}));
}

// Serves one list, then a stream the test feeds.
class FedListerWatcher : public ListerWatcher, public WatchStream {
 public:
  Result<ObjectList> List(const ListOptions&) override {
    return ObjectList{{Obj("ns", "a", "1"), Obj("ns", "b", "1")}, "1", ""};
  }
  Result<std::unique_ptr<WatchStream>> Watch(const WatchOptions&) override {
    // The same stream object each time, behind a non-owning wrapper.
    struct Borrowed : WatchStream {
      explicit Borrowed(WatchStream* s) : s(s) {}
      Result<WatchEvent> Next() override { return s->Next(); }
      void Cancel() override { s->Cancel(); }
      WatchStream* s;
    };
    return std::unique_ptr<WatchStream>(std::make_unique<Borrowed>(this));
  }
  Result<WatchEvent> Next() override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return cancelled_ || !events_.empty(); });
    if (cancelled_) return Status(Code::kCancelled, "cancelled");
    WatchEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  void Cancel() override {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void Feed(WatchEvent event) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> events_;
  bool cancelled_ = false;
};

TEST(InformerTest, SyncsThenFollowsEventsUntilStopped) {
  auto owned = std::make_unique<FedListerWatcher>();
  FedListerWatcher* lw = owned.get();
  Recorder recorder;
  Informer informer(std::move(owned));
  informer.AddHandlers(recorder.Handlers());
  EXPECT_FALSE(informer.HasSynced());
  informer.Run();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(informer.store().size(), 2u);

  lw->Feed(WatchEvent{WatchEvent::Type::kDeleted, Obj("ns", "a", "2")});
  ASSERT_TRUE(recorder.WaitForLines(3));
  informer.Stop();
  EXPECT_EQ(recorder.Take(), (Strings{"add ns/a@1", "add ns/b@1", "delete ns/a@2"}));
  EXPECT_EQ(informer.store().ListKeys(), (Strings{"ns/b"}));
  EXPECT_EQ(informer.resource_version(), "2");
}

TEST(StripForCacheTest, DropsManagedFieldsOnly) {
  auto parsed = ParseJson(R"({"metadata": {"name": "a", "managedFields": [{"manager": "x"}],
                               "annotations": {"k": "v"}}, "spec": {"n": 1}})");
  ASSERT_TRUE(parsed.ok());
  Json object = *parsed;
  StripForCache(object);
  EXPECT_EQ(Find(object, "metadata.managedFields"), nullptr);
  EXPECT_EQ(GetString(object, "metadata.annotations.k"), "v");
  EXPECT_EQ(GetInt(object, "spec.n"), std::optional<int64_t>(1));
  Json not_an_object = Json("x");
  StripForCache(not_an_object);  // tolerated
  EXPECT_TRUE(not_an_object.is_string());
}

TEST(InformerHandlersTest, OnEveryChangeAndOnAddOrDeleteHandTheNewestState) {
  std::vector<std::string> seen;
  auto record = [&seen](const ObjectPtr& o) { seen.push_back(GetString(*o, "v")); };
  auto older = std::make_shared<const Json>(Json{{"v", "old"}});
  auto newer = std::make_shared<const Json>(Json{{"v", "new"}});

  InformerHandlers every = OnEveryChange(record);
  every.on_add(older);
  every.on_update(older, newer);
  every.on_delete(newer);
  EXPECT_EQ(seen, (std::vector<std::string>{"old", "new", "new"}));

  InformerHandlers add_delete = OnAddOrDelete(record);
  EXPECT_FALSE(add_delete.on_update);
  ASSERT_TRUE(add_delete.on_add && add_delete.on_delete);
  seen.clear();
  add_delete.on_add(newer);
  add_delete.on_delete(older);
  EXPECT_EQ(seen, (std::vector<std::string>{"new", "old"}));
}

}  // namespace
}  // namespace vireo::kube
