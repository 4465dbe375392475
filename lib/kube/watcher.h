// The watcher: keeps a consumer's view of one collection current by listing it
// once, then watching from the list's resourceVersion, resuming broken watches
// and relisting when the server has forgotten the version it resumes from.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "lib/kube/resource.h"
#include "lib/kube/watch.h"

namespace vireo::kube {

// Where a watcher gets its objects. The seam between the watcher's state
// machine and the apiserver: tests script it.
// Implementations must be safe to call from the watcher's thread while
// another thread cancels the stream Watch returned.
class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  // One page of the collection.
  virtual base::Result<ObjectList> List(const ListOptions& options) = 0;
  virtual base::Result<std::unique_ptr<WatchStream>> Watch(const WatchOptions& options) = 0;
};

// Which objects of a resource to follow.
struct Selection {
  std::string ns;  // "" on a namespaced resource: all namespaces
  std::string label_selector;
  std::string field_selector;
};

// A ListerWatcher over a Client. The selectors of `selection` are added to
// every list and watch. Listed items come without metadata.managedFields
// (left out while the page is parsed; a Reflector drops it from events too). Thread-safe as Client is; `client` must outlive it.
class ClientListerWatcher final : public ListerWatcher {
 public:
  ClientListerWatcher(Client* client, Resource resource, Selection selection = {});
  base::Result<ObjectList> List(const ListOptions& options) override;
  base::Result<std::unique_ptr<WatchStream>> Watch(const WatchOptions& options) override;

 private:
  Client* const client_;
  const Resource resource_;
  const Selection selection_;
};

// What a Watcher tells. Called on the thread running Watcher::Run, one call
// at a time.
class WatchConsumer {
 public:
  virtual ~WatchConsumer() = default;
  // A list, one page at a time, so that no more than a page is ever held
  // decoded. `first_page` starts a list; a list that failed part-way is
  // started again from a first page, of a newer snapshot.
  virtual void OnListPage(std::vector<base::Json> items, bool first_page) = 0;
  // The pages since the last first page were the complete collection as of
  // resource_version. Anything the consumer holds that was not in them was
  // deleted while nobody was watching.
  virtual void OnListDone(const std::string& resource_version) = 0;
  // One ADDED, MODIFIED or DELETED event that followed. Bookmarks and errors
  // are the watcher's business and are not passed on.
  virtual void OnEvent(WatchEvent event) = 0;
};

struct WatcherOptions {
  // Objects per list page; 0 lists everything in one reply.
  int64_t page_size = 500;
  // Asks the server to end each watch after this long, so that a stream that
  // silently died is noticed; the watcher then resumes where it was.
  int watch_timeout_seconds = 300;
  // Waits between failed attempts: doubling from initial to max. A stream
  // that delivered an event or stayed open for healthy_after starts the
  // sequence afresh.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds healthy_after{10'000};
  // nullptr: Clock::Real().
  const base::Clock* clock = nullptr;
  // Told of every failed list, watch or stream, with what the watcher does
  // next in the message; nullptr: a JSON log line on stderr.
  std::function<void(const base::Status&)> on_error;
  // Names the watcher in log lines, e.g. "kubevirt.io/v1 virtualmachines".
  std::string description = "watch";
};

// The list-then-watch state machine. Run blocks on the calling thread until
// Stop; Stop may be called from any thread, also before Run.
// Thread-safe: Stop and resource_version may be called concurrently with Run.
class Watcher {
 public:
  // `lister_watcher` and `consumer` must outlive the watcher.
  Watcher(ListerWatcher* lister_watcher, WatchConsumer* consumer, WatcherOptions options = {});
  // REQUIRES: Run has returned (Stop, then join the thread running it).
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Lists, then watches, until Stop. A watcher is run at most once.
  void Run();
  // Ends Run soon: cancels a live stream and any backoff wait. A list request
  // in flight is not interrupted; Run returns when it does.
  void Stop();
  bool stopped() const { return stopped_.load(); }

  // The last resourceVersion seen (list, event or bookmark).
  std::string resource_version() const;

 private:
  enum class Next { kRelist, kRewatch, kStop };

  // Lists every page; false when stopped.
  bool ListAll();
  // One watch stream, from its start to its end.
  Next WatchOnce();
  // Waits the next backoff delay; false when stopped meanwhile.
  bool Backoff();
  void ResetBackoff();
  void Report(const base::Status& status, const std::string& what_next);
  void SetResourceVersion(const std::string& rv);

  ListerWatcher* const lister_watcher_;
  WatchConsumer* const consumer_;
  const WatcherOptions options_;
  const base::Clock* const clock_;

  std::atomic<bool> stopped_{false};
  std::chrono::milliseconds next_backoff_;  // only touched by Run's thread

  mutable std::mutex mu_;
  std::condition_variable cv_;          // Stop wakes a backoff wait
  WatchStream* live_stream_ = nullptr;  // GUARDED_BY(mu_); owned by WatchOnce
  std::string resource_version_;        // GUARDED_BY(mu_)
};

}  // namespace vireo::kube
