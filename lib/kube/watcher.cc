// The list-then-watch state machine and its Client adapter.
#include "lib/kube/watcher.h"

#include <algorithm>
#include <utility>

#include "lib/base/log.h"

namespace vireo::kube {

using base::Clock;
using base::Code;
using base::Json;
using base::LogWarn;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

ClientListerWatcher::ClientListerWatcher(Client* client, Resource resource, Selection selection)
    : client_(client), resource_(std::move(resource)), selection_(std::move(selection)) {}

Result<ObjectList> ClientListerWatcher::List(const ListOptions& options) {
  ListOptions with_selectors = options;
  with_selectors.label_selector = selection_.label_selector;
  with_selectors.field_selector = selection_.field_selector;
  with_selectors.without_managed_fields = true;
  return client_->List(resource_, selection_.ns, with_selectors);
}

Result<std::unique_ptr<WatchStream>> ClientListerWatcher::Watch(const WatchOptions& options) {
  WatchOptions with_selectors = options;
  with_selectors.label_selector = selection_.label_selector;
  with_selectors.field_selector = selection_.field_selector;
  return client_->Watch(resource_, selection_.ns, with_selectors);
}

Watcher::Watcher(ListerWatcher* lister_watcher, WatchConsumer* consumer, WatcherOptions options)
    : lister_watcher_(lister_watcher),
      consumer_(consumer),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      next_backoff_(options_.initial_backoff) {}

Watcher::~Watcher() { Stop(); }

void Watcher::Run() {
  Next next = Next::kRelist;
  while (!stopped_) {
    if (next == Next::kRelist && !ListAll()) return;
    next = WatchOnce();
    if (next == Next::kStop) return;
  }
}

void Watcher::Stop() {
  std::lock_guard<std::mutex> l(mu_);
  stopped_ = true;
  if (live_stream_ != nullptr) live_stream_->Cancel();
  cv_.notify_all();
}

std::string Watcher::resource_version() const {
  std::lock_guard<std::mutex> l(mu_);
  return resource_version_;
}

void Watcher::SetResourceVersion(const std::string& rv) {
  if (rv.empty()) return;
  std::lock_guard<std::mutex> l(mu_);
  resource_version_ = rv;
}

bool Watcher::ListAll() {
  bool paginate = options_.page_size > 0;
  while (!stopped_) {
    ListOptions page_options;
    page_options.limit = paginate ? options_.page_size : 0;
    std::string list_rv;
    Status failure;
    for (bool first = true;; first = false) {
      Result<ObjectList> page = lister_watcher_->List(page_options);
      if (!page.ok()) {
        failure = page.status();
        break;
      }
      // Later pages are served from the first page's snapshot; its version
      // is where the watch must start.
      if (list_rv.empty()) list_rv = page->resource_version;
      consumer_->OnListPage(std::move(page->items), first);
      if (page->continue_token.empty()) break;
      if (stopped_) return false;
      page_options.continue_token = page->continue_token;
    }
    if (failure.ok()) {
      SetResourceVersion(list_rv);
      consumer_->OnListDone(list_rv);
      return true;
    }
    if (stopped_) return false;
    if (failure.IsGone() && !page_options.continue_token.empty()) {
      // The snapshot behind the continue token was compacted away while we
      // paged: one unpaginated list cannot run into that again.
      Report(failure, "listing again in one request");
      paginate = false;
      continue;
    }
    Report(failure, "listing again after a backoff");
    if (!Backoff()) return false;
  }
  return false;
}

Watcher::Next Watcher::WatchOnce() {
  WatchOptions watch_options;
  watch_options.resource_version = resource_version();
  watch_options.allow_bookmarks = true;
  watch_options.timeout_seconds = options_.watch_timeout_seconds;
  Result<std::unique_ptr<WatchStream>> opened = lister_watcher_->Watch(watch_options);
  if (stopped_) return Next::kStop;
  if (!opened.ok()) {
    const Status& failure = opened.status();
    if (failure.IsGone()) {
      Report(failure, "relisting");
      return Backoff() ? Next::kRelist : Next::kStop;
    }
    Report(failure, "watching again after a backoff");
    return Backoff() ? Next::kRewatch : Next::kStop;
  }
  std::unique_ptr<WatchStream> stream = std::move(opened).value();
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return Next::kStop;
    live_stream_ = stream.get();
  }

  const Clock::TimePoint started = clock_->Now();
  bool delivered = false;
  Status end;
  while (end.ok()) {
    Result<WatchEvent> event = stream->Next();
    if (!event.ok()) {
      end = event.status();
      break;
    }
    switch (event->type) {
      case WatchEvent::Type::kError:
        end = ErrorStatusOf(*event);
        if (end.ok()) end = Status(Code::kInternal, "watch ERROR event without a failure code");
        break;
      case WatchEvent::Type::kBookmark:
        delivered = true;
        SetResourceVersion(ResourceVersionOf(event->object));
        break;
      default:
        delivered = true;
        SetResourceVersion(ResourceVersionOf(event->object));
        consumer_->OnEvent(std::move(event).value());
        break;
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    live_stream_ = nullptr;
  }
  if (stopped_) return Next::kStop;

  const bool healthy = delivered || clock_->Now() - started >= options_.healthy_after;
  if (healthy) ResetBackoff();
  if (end.IsGone()) {
    // The server no longer has our version: only a fresh list tells what
    // changed (and what was deleted) meanwhile.
    Report(end, "relisting");
    if (healthy) return Next::kRelist;
    return Backoff() ? Next::kRelist : Next::kStop;
  }
  // A healthy stream ending in a timeout is the server's routine expiry.
  if (healthy && end.code() == Code::kTimeout) return Next::kRewatch;
  Report(end, "watching again after a backoff");
  return Backoff() ? Next::kRewatch : Next::kStop;
}

bool Watcher::Backoff() {
  const auto delay = next_backoff_;
  next_backoff_ = std::min(next_backoff_ * 2, options_.max_backoff);
  const Clock::TimePoint deadline = clock_->Now() + delay;
  std::unique_lock<std::mutex> l(mu_);
  while (!stopped_ && clock_->Now() < deadline) clock_->WaitUntil(cv_, l, deadline);
  return !stopped_;
}

void Watcher::ResetBackoff() { next_backoff_ = options_.initial_backoff; }

void Watcher::Report(const Status& status, const std::string& what_next) {
  Status with_plan = status.WithContext(options_.description + " (" + what_next + ")");
  if (options_.on_error) {
    options_.on_error(with_plan);
    return;
  }
  LogWarn(with_plan.ToString());
}

}  // namespace vireo::kube
