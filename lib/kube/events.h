// Recording core/v1 Events about objects ("Started", "FailedCreate", ...) so
// users see them in `kubectl describe`, without ever making the caller wait
// on the apiserver, and counting repeats on one Event instead of flooding.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "lib/base/clock.h"
#include "lib/base/json.h"
#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "lib/kube/resource.h"

namespace vireo::kube {

// Which object an Event is about (core/v1 ObjectReference).
struct ObjectReference {
  std::string api_version;
  std::string kind;
  std::string namespace_name;  // "" for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resource_version;
};

// From the object's own apiVersion, kind and metadata.
ObjectReference ReferenceTo(const base::Json& object);
// The same, taking apiVersion and kind from `resource` when the object lacks
// them (items of a list of built-in types come without).
ObjectReference ReferenceTo(const base::Json& object, const Resource& resource);

enum class EventType { kNormal, kWarning };
const char* EventTypeName(EventType type);

// One thing that happened, as a caller reports it.
struct EventOccurrence {
  ObjectReference object;
  EventType type = EventType::kNormal;
  std::string reason;   // UpperCamelCase, e.g. "FailedCreate"
  std::string message;  // for people
  base::Clock::WallTime time;
};

// How one occurrence reaches the apiserver: a new Event, or a count on the
// Event that recorded the same occurrence recently.
struct EventWrite {
  enum class Kind { kCreate, kPatch };
  Kind kind = Kind::kCreate;
  std::string event_namespace;
  std::string event_name;  // "<object name>.<unique hex suffix>"
  int64_t count = 1;
  base::Clock::WallTime first_timestamp;
  base::Clock::WallTime last_timestamp;
};

// Decides how each occurrence is written. Occurrences with the same object
// (uid, kind, namespace, name), type, reason and message within `window` of
// the first are counted on one Event. The window stays well under the
// apiserver's Event TTL (one hour by default) so a counted Event still
// exists. Remembers at most `capacity` Events, least recently used first out.
// Not thread-safe.
class EventAggregator {
 public:
  EventAggregator(base::Clock::Duration window, size_t capacity);
  EventWrite Observe(const EventOccurrence& occurrence);
  // The last write for this occurrence failed or found its Event gone: the
  // next one creates a new Event.
  void Forget(const EventOccurrence& occurrence);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    EventWrite write;
    std::list<std::string>::iterator lru;
  };
  std::string NewName(const ObjectReference& object, base::Clock::WallTime time);

  const base::Clock::Duration window_;
  const size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  uint64_t last_suffix_ = 0;
};

// Who is reporting: source.component and reportingComponent, source.host and
// reportingInstance.
struct EventSource {
  std::string component = "vireo-controller";
  std::string instance;  // e.g. the pod name; may be empty
};

// The Event to create, and the merge patch that counts a repeat.
base::Json EventObject(const EventOccurrence& occurrence, const EventWrite& write,
                       const EventSource& source);
base::Json EventCountPatch(const EventWrite& write);

// Where Events go. Tests fake it; ForClient is the real one.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual base::Status Create(const std::string& ns, const base::Json& event) = 0;
  virtual base::Status Patch(const std::string& ns, const std::string& name,
                             const base::Json& merge_patch) = 0;
  // `client` must outlive the result.
  static std::unique_ptr<EventSink> ForClient(Client* client);
};

struct EventRecorderOptions {
  EventSource source;
  // Occurrences waiting to be written; more are dropped (and counted).
  size_t queue_capacity = 1000;
  base::Clock::Duration aggregation_window = std::chrono::minutes(10);
  size_t aggregation_capacity = 4096;
  // How long Shutdown keeps writing what is queued before dropping the rest.
  base::Clock::Duration shutdown_grace = std::chrono::seconds(5);
  const base::Clock* clock = nullptr;                 // nullptr: Clock::Real()
  std::function<void(const base::Status&)> on_error;  // nullptr: a JSON line on stderr
};

// Takes occurrences on any thread and writes them on a thread of its own.
// Events are best effort: a full queue drops, a failed write is not retried.
// Thread-safe.
class EventRecorder {
 public:
  EventRecorder(std::unique_ptr<EventSink> sink, EventRecorderOptions options = {});
  // Shutdown.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Never blocks on the apiserver.
  void Record(const ObjectReference& object, EventType type, std::string reason,
              std::string message);
  void Record(const base::Json& object, EventType type, std::string reason, std::string message) {
    Record(ReferenceTo(object), type, std::move(reason), std::move(message));
  }

  // Waits until everything recorded before the call has been written or has
  // failed.
  void Flush();
  // Writes what is queued (for at most shutdown_grace), then stops. Later
  // Records are dropped.
  void Shutdown();

  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void Loop();
  void Write(const EventOccurrence& occurrence);
  void Report(const base::Status& status);

  const std::unique_ptr<EventSink> sink_;
  const EventRecorderOptions options_;
  const base::Clock* const clock_;
  EventAggregator aggregator_;  // only touched by the writer thread

  std::mutex mu_;
  std::condition_variable work_cv_;    // something queued, or stopping
  std::condition_variable idle_cv_;    // the writer caught up
  std::deque<EventOccurrence> queue_;  // GUARDED_BY(mu_)
  bool writing_ = false;               // GUARDED_BY(mu_)
  bool stopping_ = false;              // GUARDED_BY(mu_)
  base::Clock::TimePoint give_up_at_;  // GUARDED_BY(mu_); set by Shutdown
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread writer_;
};

}  // namespace vireo::kube
