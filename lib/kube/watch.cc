// Decoding of watch replies: newline-delimited {type, object} events that
// arrive in arbitrary pieces, with a bound on how much one event may hold.
#include "lib/kube/watch.h"

#include <algorithm>

#include "lib/kube/client.h"

namespace vireo::kube {

using base::Code;
using base::DumpJson;
using base::Find;
using base::GetInt;
using base::Json;
using base::ParseJson;
using base::Result;
using base::Status;

namespace {

// Consumed bytes are dropped from the front once they are this many and
// more than half the buffer, so compaction stays linear overall.
constexpr size_t kCompactAfter = 64 * 1024;

std::string Prefix(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string out(text.substr(0, kMax));
  if (text.size() > kMax) out += "...";
  return out;
}

bool TypeFromName(const std::string& name, WatchEvent::Type* type) {
  static const std::pair<const char*, WatchEvent::Type> kTypes[] = {
      {"ADDED", WatchEvent::Type::kAdded},     {"MODIFIED", WatchEvent::Type::kModified},
      {"DELETED", WatchEvent::Type::kDeleted}, {"BOOKMARK", WatchEvent::Type::kBookmark},
      {"ERROR", WatchEvent::Type::kError},
  };
  for (const auto& [text, value] : kTypes) {
    if (name == text) {
      *type = value;
      return true;
    }
  }
  return false;
}

}  // namespace

const char* WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

void WatchDecoder::Feed(std::string_view bytes) {
  if (skipping_) {
    size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) return;
    skipping_ = false;
    bytes.remove_prefix(newline + 1);
  }
  if (offset_ >= kCompactAfter && offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, offset_);
    tail_start_ -= offset_;
    if (dropped_at_ != kNone) dropped_at_ -= std::min(dropped_at_, offset_);
    offset_ = 0;
  }
  size_t old_size = buffer_.size();
  buffer_.append(bytes);
  // Only the new bytes are searched, so feeding byte by byte stays linear.
  size_t newline = std::string_view(buffer_).substr(old_size).rfind('\n');
  if (newline != std::string_view::npos) tail_start_ = old_size + newline + 1;
  if (buffer_.size() - tail_start_ > max_event_bytes_) {
    buffer_.resize(tail_start_);
    skipping_ = true;
    if (dropped_at_ == kNone) dropped_at_ = tail_start_;
  }
}

Result<WatchEvent> WatchDecoder::Next() {
  for (;;) {
    if (dropped_at_ != kNone && (offset_ >= dropped_at_ || offset_ == tail_start_)) {
      dropped_at_ = kNone;
      return Status(Code::kInternal, "watch stream: an event larger than " +
                                         std::to_string(max_event_bytes_) + " bytes was skipped");
    }
    if (offset_ == tail_start_) {
      if (offset_ == buffer_.size()) {  // all consumed: start afresh, cheaply
        buffer_.clear();
        offset_ = tail_start_ = 0;
      }
      return Status(Code::kUnavailable, "watch stream: waiting for more bytes");
    }
    size_t end = buffer_.find('\n', offset_);  // exists: offset_ < tail_start_
    std::string_view line(buffer_.data() + offset_, end - offset_);
    offset_ = end + 1;
    if (line.size() > max_event_bytes_) {
      return Status(Code::kInternal, "watch stream: an event of " + std::to_string(line.size()) +
                                         " bytes (more than " + std::to_string(max_event_bytes_) +
                                         ") was skipped");
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // keep-alive blank

    Result<Json> parsed = ParseJson(line, "watch event");
    if (!parsed.ok()) return parsed.status();
    const Json* type = Find(*parsed, "type");
    const Json* object = Find(*parsed, "object");
    WatchEvent event;
    if (type == nullptr || !type->is_string() || object == nullptr || !object->is_object()) {
      return Status(Code::kInternal,
                    "watch stream: a line is not a {type, object} event: " + Prefix(line));
    }
    if (!TypeFromName(type->get<std::string>(), &event.type)) {
      return Status(Code::kInternal, "watch stream: unknown event type \"" +
                                         type->get<std::string>() + "\": " + Prefix(line));
    }
    event.object = std::move(parsed.value()["object"]);
    return event;
  }
}

Status ErrorStatusOf(const WatchEvent& event) {
  if (event.type != WatchEvent::Type::kError) return Status::Ok();
  int code = static_cast<int>(GetInt(event.object, "code").value_or(0));
  Status status = StatusFromResponse(code, DumpJson(event.object));
  if (status.ok()) {
    // An ERROR event always ends the watch, whatever code it claims.
    return Status(Code::kInternal, "watch stream: ERROR event " + Prefix(DumpJson(event.object)),
                  code);
  }
  return status;
}

}  // namespace vireo::kube
