// Client::Watch: a WatchStream over a chunked HTTP reply, read piece by piece
// as the apiserver writes it, and cancellable from any thread.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "lib/kube/client.h"
#include "lib/kube/transport.h"
#include "lib/kube/watch.h"

namespace vireo::kube {

using base::Code;
using base::Result;
using base::Status;

namespace {

using internal::Transport;

constexpr size_t kReadChunk = 64 * 1024;
// Slack over the server's own watch timeout before the client gives up on a
// silent connection. Without timeoutSeconds the apiserver ends a watch within
// an hour (its --min-request-timeout, 30 min, times up to two).
constexpr auto kIdleSlack = std::chrono::seconds(60);
constexpr auto kServerDefaultWatchEnd = std::chrono::seconds(3600);

// What a pending body read shares with the stream. The read's continuation
// may run after the stream is gone, so it owns nothing of the stream's.
struct ReadState {
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false;    // GUARDED_BY(mu)
  bool done = true;          // GUARDED_BY(mu): no read's continuation is pending
  size_t got = 0;            // GUARDED_BY(mu)
  std::exception_ptr error;  // GUARDED_BY(mu)
  std::vector<char> buffer = std::vector<char>(kReadChunk);
};

class HttpWatchStream : public WatchStream {
 public:
  HttpWatchStream(Transport::Stream stream, pplx::cancellation_token_source cancel, std::string url)
      : stream_(std::move(stream)), cancel_(std::move(cancel)), url_(std::move(url)) {}
  // Cancelling closes the connection, which ends a read in flight at once;
  // its continuation is waited for (briefly), so that no work of this
  // stream outlives it, not even at the process's exit.
  ~HttpWatchStream() override {
    Cancel();
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait_for(lock, std::chrono::seconds(2), [&] { return state_->done; });
  }

  Result<WatchEvent> Next() override {
    for (;;) {
      if (ended_) return *ended_;
      Result<WatchEvent> event = decoder_.Next();
      if (event.ok()) {
        if (event->type != WatchEvent::Type::kError) return event;
        return End(ErrorStatusOf(*event));
      }
      // A line that is no event is reported; the stream goes on after it.
      if (event.status().code() != Code::kUnavailable) return event.status();
      Status read = ReadMore();
      if (!read.ok()) return End(read);
    }
  }

  void Cancel() override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->cancelled = true;
    }
    state_->cv.notify_all();
    // Closes the connection, which also ends a body read in flight.
    cancel_.cancel();
  }

 private:
  Status End(Status status) {
    ended_ = std::move(status);
    return *ended_;
  }

  // Waits for the next piece of the body and feeds it to the decoder.
  Status ReadMore() {
    std::shared_ptr<ReadState> state = state_;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->cancelled) return Cancelled();
      state->done = false;
    }
    concurrency::streams::streambuf<uint8_t> body = stream_.response.body().streambuf();
    auto* first = reinterpret_cast<uint8_t*>(state->buffer.data());
    // getn(n) waits for all n bytes, and cpprestsdk never flushes a partial
    // chunk, so wait for one byte, then take whatever else has arrived.
    body.getn(first, 1).then([state, body, first](pplx::task<size_t> task) mutable {
      size_t got = 0;
      std::exception_ptr error;
      try {
        got = task.get();
        if (got == 1) {
          size_t more = std::min(static_cast<size_t>(body.in_avail()), kReadChunk - 1);
          // At most what is already buffered: this completes without waiting.
          if (more > 0) got += body.getn(first + 1, more).get();
        }
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(state->mu);
      state->got = got;
      state->error = error;
      state->done = true;
      state->cv.notify_all();
    });
    size_t got;
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(state->mu);
      state->cv.wait(lock, [&] { return state->done || state->cancelled; });
      if (state->cancelled) return Cancelled();
      got = state->got;
      error = state->error;
    }
    if (error) return Broken(error);
    if (got == 0) return EndOfBody();
    // The read is done: nothing else touches the buffer until the next one.
    decoder_.Feed(std::string_view(state->buffer.data(), got));
    return Status::Ok();
  }

  // The body ended: cleanly (the server's watch timeout) or not.
  Status EndOfBody() {
    try {
      stream_.response.content_ready().get();
    } catch (...) {
      return Broken(std::current_exception());
    }
    if (decoder_.pending_bytes() > 0) {
      return Status(Code::kUnavailable,
                    "watch " + url_ +
                        ": the connection ended inside an event; resume after a "
                        "backoff");
    }
    return Status(Code::kTimeout, "watch " + url_ + ": watch closed by server: resume");
  }

  // The body read failed: Cancel, the idle timeout, or a broken connection.
  Status Broken(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->cancelled) return Cancelled();
    }
    Status status = Transport::TransportError("GET", url_, error);
    if (status.code() == Code::kCancelled) return Cancelled();
    if (status.code() == Code::kTimeout) {
      return Status(Code::kTimeout, "watch " + url_ +
                                        ": no data from the apiserver for too long; "
                                        "resume");
    }
    std::string what;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown error";
    }
    return Status(Code::kUnavailable, "watch " + url_ + ": the connection broke (" + what +
                                          "); resume after a backoff");
  }

  Status Cancelled() const { return Status(Code::kCancelled, "watch " + url_ + ": cancelled"); }

  Transport::Stream stream_;
  pplx::cancellation_token_source cancel_;
  const std::string url_;
  std::shared_ptr<ReadState> state_ = std::make_shared<ReadState>();
  WatchDecoder decoder_;         // used by Next's thread only
  std::optional<Status> ended_;  // used by Next's thread only
};

}  // namespace

Result<std::unique_ptr<WatchStream>> Client::Watch(const Resource& resource, std::string_view ns,
                                                   const WatchOptions& options) {
  if (!transport_) return Status(Code::kInternal, "this Client was not made by Client::Create");
  std::vector<std::pair<std::string, std::string>> params = {{"watch", "1"}};
  if (!options.resource_version.empty()) {
    params.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) params.emplace_back("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    params.emplace_back("timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  if (!options.label_selector.empty()) params.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty()) params.emplace_back("fieldSelector", options.field_selector);
  std::string path = resource.Path(ns) + "?" + EncodeQuery(params);
  std::chrono::seconds idle = options.timeout_seconds > 0
                                  ? std::chrono::seconds(options.timeout_seconds) + kIdleSlack
                                  : kServerDefaultWatchEnd + kIdleSlack;

  pplx::cancellation_token_source cancel;
  Result<Transport::Stream> stream = transport_->Open(path, cancel.get_token(), idle);
  if (!stream.ok()) {
    cancel.cancel();
    return stream.status();
  }
  int http_status = stream->response.status_code();
  if (http_status != 200) {
    // An error before the stream starts (410 for a compacted version, 403, ...).
    std::string body;
    try {
      body = stream->response.extract_utf8string(true).get();
    } catch (...) {
      // The status code alone still says what went wrong.
    }
    cancel.cancel();
    Status status = StatusFromResponse(http_status, body);
    if (status.ok())
      status = Status(Code::kInternal, "watch: unexpected HTTP " + std::to_string(http_status),
                      http_status);
    return status;
  }
  return std::unique_ptr<WatchStream>(std::make_unique<HttpWatchStream>(
      std::move(stream).value(), std::move(cancel), transport_->Url(path)));
}

}  // namespace vireo::kube
