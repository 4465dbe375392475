// One Kubernetes watch stream: the events of a chunked HTTP reply, decoded as
// they arrive. Reconnecting, resuming and relisting are the Watcher's job
// (watcher.h); a stream ends for good when its connection does.
#pragma once

#include <deque>
#include <string>
#include <string_view>

#include "lib/base/json.h"
#include "lib/base/status.h"

namespace vireo::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  base::Json object;  // for kError: the metav1.Status the server sent
};

const char* WatchEventTypeName(WatchEvent::Type type);

// Turns the bytes of a watch reply into events. The apiserver writes one JSON
// object per event, each followed by a newline, but the transport may split
// or join them anywhere: Feed takes whatever arrived.
// Not thread-safe.
class WatchDecoder {
 public:
  // A single event above this size is refused (reported as kInternal and
  // skipped up to its newline), so a stream that never ends a line cannot
  // grow memory without bound.
  static constexpr size_t kMaxEventBytes = size_t{64} << 20;

  WatchDecoder() = default;
  explicit WatchDecoder(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  // Appends bytes; complete events become available through Next.
  void Feed(std::string_view bytes);
  // The next decoded event, or: kUnavailable when more bytes are needed,
  // kInternal when a line is not a watch event (it is skipped and the message
  // says what it was). An ERROR event whose Status has code 410 is returned as
  // an event; ErrorStatusOf turns it into a Status.
  base::Result<WatchEvent> Next();
  // Bytes held back waiting for the rest of an event.
  size_t pending_bytes() const { return buffer_.size() - offset_; }

 private:
  static constexpr size_t kNone = ~size_t{0};

  size_t max_event_bytes_ = kMaxEventBytes;
  std::string buffer_;
  size_t offset_ = 0;
  size_t tail_start_ = 0;      // [offset_, tail_start_) holds complete lines only
  bool skipping_ = false;      // inside an oversized event: drop up to its newline
  size_t dropped_at_ = kNone;  // where an oversized event was, until Next reports it
};

// The Status an ERROR watch event carries (410 → kGone, ...).
base::Status ErrorStatusOf(const WatchEvent& event);

// A live stream. Implemented over HTTP by Client::Watch; tests of pure logic
// may implement it over a script.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next event. Ends with: kGone (the resourceVersion is too
  // old: relist), kTimeout (the server or client closed an idle or expired
  // watch: resume), kUnavailable (the connection broke: resume after a
  // backoff), kCancelled (Cancel was called), or an error the server sent.
  virtual base::Result<WatchEvent> Next() = 0;
  // Thread-safe; a blocked Next returns kCancelled soon after.
  virtual void Cancel() = 0;
};

}  // namespace vireo::kube
