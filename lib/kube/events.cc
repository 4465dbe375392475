// The Event recorder: aggregation of repeats, the Event objects it writes,
// and the writer thread.
#include "lib/kube/events.h"

#include <cstdio>
#include <ctime>
#include <utility>

#include "lib/base/log.h"
#include "lib/base/timestamp.h"

namespace vireo::kube {

using base::Clock;
using base::FormatTime;
using base::GetString;
using base::Json;
using base::LogWarn;
using base::NameOf;
using base::NamespaceOf;
using base::ResourceVersionOf;
using base::Status;
using base::UidOf;

namespace {

// Event names must be DNS subdomains of at most 253 characters.
constexpr size_t kMaxNameLength = 253;
// Long enough for any useful message, short enough for kubectl's columns and
// for etcd when a controller reports the same large error every second.
constexpr size_t kMaxMessageBytes = 1024;

std::string AggregationKey(const EventOccurrence& o) {
  // \x1f cannot occur in names, kinds or reasons, so fields cannot run together.
  const char sep = '\x1f';
  return o.object.uid + sep + o.object.kind + sep + o.object.namespace_name + sep + o.object.name +
         sep + EventTypeName(o.type) + sep + o.reason + sep + o.message;
}

std::string TruncateUtf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back off continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

class ClientEventSink final : public EventSink {
 public:
  explicit ClientEventSink(Client* client) : client_(client) {}
  Status Create(const std::string& ns, const Json& event) override {
    return client_->Create(resources::kEvents, ns, event).status();
  }
  Status Patch(const std::string& ns, const std::string& name, const Json& merge_patch) override {
    return client_->Patch(resources::kEvents, ns, name, PatchType::kMerge, merge_patch).status();
  }

 private:
  Client* const client_;
};

}  // namespace

ObjectReference ReferenceTo(const Json& object) {
  return ObjectReference{GetString(object, "apiVersion"),
                         GetString(object, "kind"),
                         NamespaceOf(object),
                         NameOf(object),
                         UidOf(object),
                         ResourceVersionOf(object)};
}

ObjectReference ReferenceTo(const Json& object, const Resource& resource) {
  ObjectReference ref = ReferenceTo(object);
  if (ref.api_version.empty()) ref.api_version = resource.ApiVersion();
  if (ref.kind.empty()) ref.kind = resource.kind;
  return ref;
}

const char* EventTypeName(EventType type) {
  return type == EventType::kWarning ? "Warning" : "Normal";
}

EventAggregator::EventAggregator(Clock::Duration window, size_t capacity)
    : window_(window), capacity_(capacity) {}

EventWrite EventAggregator::Observe(const EventOccurrence& occurrence) {
  const std::string key = AggregationKey(occurrence);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    EventWrite& write = it->second.write;
    if (occurrence.time - write.first_timestamp < window_) {
      write.kind = EventWrite::Kind::kPatch;
      ++write.count;
      write.last_timestamp = occurrence.time;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return write;
    }
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  EventWrite write;
  write.kind = EventWrite::Kind::kCreate;
  write.event_namespace =
      occurrence.object.namespace_name.empty() ? "default" : occurrence.object.namespace_name;
  write.event_name = NewName(occurrence.object, occurrence.time);
  write.first_timestamp = write.last_timestamp = occurrence.time;
  lru_.push_front(key);
  entries_.emplace(key, Entry{write, lru_.begin()});
  while (entries_.size() > capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  return write;
}

void EventAggregator::Forget(const EventOccurrence& occurrence) {
  auto it = entries_.find(AggregationKey(occurrence));
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::string EventAggregator::NewName(const ObjectReference& object, Clock::WallTime time) {
  // The time makes names unique across restarts; the counter within one
  // process when the clock does not move between two Events.
  const uint64_t nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
  last_suffix_ = std::max(last_suffix_ + 1, nanos);
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(last_suffix_));
  std::string base = object.name.empty() ? "unnamed" : object.name;
  const size_t room = kMaxNameLength - std::string_view(suffix).size();
  if (base.size() > room) {
    base.resize(room);
    // A DNS subdomain's parts end in a letter or digit.
    while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
  }
  return base + suffix;
}

Json EventObject(const EventOccurrence& occurrence, const EventWrite& write,
                 const EventSource& source) {
  const ObjectReference& ref = occurrence.object;
  Json involved = Json::object();
  involved["apiVersion"] = Json(ref.api_version);
  involved["kind"] = Json(ref.kind);
  if (!ref.namespace_name.empty()) involved["namespace"] = Json(ref.namespace_name);
  involved["name"] = Json(ref.name);
  if (!ref.uid.empty()) involved["uid"] = Json(ref.uid);
  if (!ref.resource_version.empty()) {
    involved["resourceVersion"] = Json(ref.resource_version);
  }

  Json metadata = Json::object();
  metadata["name"] = Json(write.event_name);
  metadata["namespace"] = Json(write.event_namespace);
  Json event_source = Json::object();
  event_source["component"] = Json(source.component);
  if (!source.instance.empty()) event_source["host"] = Json(source.instance);

  Json event = Json::object();
  event["apiVersion"] = Json("v1");
  event["kind"] = Json("Event");
  event["metadata"] = metadata;
  event["involvedObject"] = involved;
  event["type"] = Json(EventTypeName(occurrence.type));
  event["reason"] = Json(occurrence.reason);
  event["message"] = Json(TruncateUtf8(occurrence.message, kMaxMessageBytes));
  event["source"] = event_source;
  event["reportingComponent"] = Json(source.component);
  if (!source.instance.empty()) event["reportingInstance"] = Json(source.instance);
  event["firstTimestamp"] = Json(FormatTime(write.first_timestamp));
  event["lastTimestamp"] = Json(FormatTime(write.last_timestamp));
  event["count"] = Json(write.count);
  return event;
}

Json EventCountPatch(const EventWrite& write) {
  Json patch = Json::object();
  patch["count"] = Json(write.count);
  patch["lastTimestamp"] = Json(FormatTime(write.last_timestamp));
  return patch;
}

std::unique_ptr<EventSink> EventSink::ForClient(Client* client) {
  return std::make_unique<ClientEventSink>(client);
}

EventRecorder::EventRecorder(std::unique_ptr<EventSink> sink, EventRecorderOptions options)
    : sink_(std::move(sink)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      aggregator_(options_.aggregation_window, options_.aggregation_capacity) {
  writer_ = std::thread([this] { Loop(); });
}

EventRecorder::~EventRecorder() { Shutdown(); }

void EventRecorder::Record(const ObjectReference& object, EventType type, std::string reason,
                           std::string message) {
  EventOccurrence occurrence{object, type, std::move(reason), std::move(message),
                             clock_->WallNow()};
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_ || queue_.size() >= options_.queue_capacity) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(occurrence));
  work_cv_.notify_one();
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [this] { return queue_.empty() && !writing_; });
}

void EventRecorder::Shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!stopping_) {
      stopping_ = true;
      give_up_at_ = clock_->Now() + options_.shutdown_grace;
    }
    work_cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
}

void EventRecorder::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    work_cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_ && !queue_.empty() && clock_->Now() >= give_up_at_) {
      dropped_ += queue_.size();
      queue_.clear();
    }
    if (queue_.empty()) {
      idle_cv_.notify_all();
      if (stopping_) return;
      continue;
    }
    EventOccurrence next = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    l.unlock();
    Write(next);
    l.lock();
    writing_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void EventRecorder::Write(const EventOccurrence& occurrence) {
  EventWrite write = aggregator_.Observe(occurrence);
  if (write.kind == EventWrite::Kind::kPatch) {
    Status patched = sink_->Patch(write.event_namespace, write.event_name, EventCountPatch(write));
    if (patched.ok()) return;
    if (!patched.IsNotFound()) {
      ++failed_;
      Report(patched.WithContext("count event " + write.event_namespace + "/" + write.event_name));
      return;
    }
    // Expired or deleted since: start a new Event.
    aggregator_.Forget(occurrence);
    write = aggregator_.Observe(occurrence);
  }
  Status created =
      sink_->Create(write.event_namespace, EventObject(occurrence, write, options_.source));
  if (!created.ok()) {
    ++failed_;
    aggregator_.Forget(occurrence);
    Report(created.WithContext("create event " + write.event_namespace + "/" + write.event_name));
  }
}

void EventRecorder::Report(const Status& status) {
  if (options_.on_error) {
    options_.on_error(status);
    return;
  }
  LogWarn(status.ToString());
}

}  // namespace vireo::kube
