// T0: the watcher's state machine against a scripted ListerWatcher.
// gtest goes first: cpprest (through json.h) defines a macro U that breaks it.
#include <gtest/gtest.h>
// (a line here keeps clang-format from sorting the includes below above gtest)
#include <deque>
#include <future>
#include <thread>
#include <utility>

#include "lib/kube/watcher.h"

namespace vireo::kube {

using base::Clock;
using base::Code;
using base::FakeClock;
using base::Json;
using base::NameOf;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

namespace {

using std::chrono::milliseconds;
using Type = WatchEvent::Type;

Json Obj(const std::string& name, const std::string& rv) {
  Json metadata = Json::object();
  metadata["name"] = Json(name);
  metadata["namespace"] = Json("ns");
  metadata["resourceVersion"] = Json(rv);
  Json o = Json::object();
  o["metadata"] = metadata;
  return o;
}

Result<WatchEvent> Event(Type type, const std::string& name, const std::string& rv) {
  return WatchEvent{type, Obj(name, rv)};
}

Result<WatchEvent> ExpiredErrorEvent() {
  Json status = Json::object();
  status["kind"] = Json("Status");
  status["status"] = Json("Failure");
  status["reason"] = Json("Expired");
  status["message"] = Json("too old resource version");
  status["code"] = Json(410);
  return WatchEvent{Type::kError, status};
}

ObjectList Page(std::vector<Json> items, const std::string& rv, const std::string& next = "") {
  return ObjectList{std::move(items), rv, next};
}

// Plays back a script of events. Then the final stream of a test blocks
// until cancelled; any other one ends with an error the test would notice.
class ScriptedStream : public WatchStream {
 public:
  ScriptedStream(std::vector<Result<WatchEvent>> script, bool final, std::promise<void>* blocked)
      : script_(script.begin(), script.end()), final_(final), blocked_(blocked) {}
  Result<WatchEvent> Next() override {
    std::unique_lock<std::mutex> l(mu_);
    if (!script_.empty()) {
      Result<WatchEvent> next = std::move(script_.front());
      script_.pop_front();
      return next;
    }
    if (!final_) return Status(Code::kInternal, "stream script ran out");
    if (blocked_ != nullptr) std::exchange(blocked_, nullptr)->set_value();
    cv_.wait(l, [&] { return cancelled_; });
    return Status(Code::kCancelled, "cancelled");
  }
  void Cancel() override {
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result<WatchEvent>> script_;
  const bool final_;
  std::promise<void>* blocked_;
  bool cancelled_ = false;
};

using StreamScript = std::vector<Result<WatchEvent>>;

// Answers lists and watches from scripts and records what it was asked. When
// the watch script runs out it calls on_exhausted (tests stop the watcher
// there, so Run returns on the test's own thread).
class FakeListerWatcher : public ListerWatcher {
 public:
  Result<ObjectList> List(const ListOptions& options) override {
    list_calls.push_back(options);
    if (lists.empty()) return Status(Code::kInternal, "list script exhausted");
    Result<ObjectList> next = std::move(lists.front());
    lists.pop_front();
    return next;
  }
  Result<std::unique_ptr<WatchStream>> Watch(const WatchOptions& options) override {
    watch_calls.push_back(options);
    if (watches.empty()) {
      if (on_exhausted) on_exhausted();
      auto stream = std::make_unique<ScriptedStream>(StreamScript{}, true, blocked);
      final_stream = stream.get();
      return std::unique_ptr<WatchStream>(std::move(stream));
    }
    Result<StreamScript> next = std::move(watches.front());
    watches.pop_front();
    if (!next.ok()) return next.status();
    return std::unique_ptr<WatchStream>(
        std::make_unique<ScriptedStream>(std::move(next).value(), false, nullptr));
  }
  std::vector<std::string> WatchVersions() const {
    std::vector<std::string> out;
    for (const WatchOptions& o : watch_calls) out.push_back(o.resource_version);
    return out;
  }

  std::deque<Result<ObjectList>> lists;
  std::deque<Result<StreamScript>> watches;
  std::vector<ListOptions> list_calls;
  std::vector<WatchOptions> watch_calls;
  std::function<void()> on_exhausted;
  std::promise<void>* blocked = nullptr;  // set when the final stream blocks
  ScriptedStream* final_stream = nullptr;
};

// Writes what it is told as short lines.
class RecordingConsumer : public WatchConsumer {
 public:
  void OnListPage(std::vector<Json> items, bool first_page) override {
    if (first_page) listed.clear();
    std::string page = first_page ? "first:" : "next:";
    for (const Json& item : items) {
      listed += " " + NameOf(item);
      page += " " + NameOf(item);
    }
    pages.push_back(page);
  }
  void OnListDone(const std::string& rv) override { lines.push_back("replace@" + rv + ":" + listed); }
  void OnEvent(WatchEvent event) override {
    const char* kind = event.type == Type::kAdded      ? "added"
                       : event.type == Type::kModified ? "modified"
                       : event.type == Type::kDeleted  ? "deleted"
                                                       : "other";
    lines.push_back(std::string(kind) + " " + NameOf(event.object) + "@" +
                    ResourceVersionOf(event.object));
  }
  std::vector<std::string> lines;
  std::vector<std::string> pages;  // each list page as it came

 private:
  std::string listed;  // the names of the list so far
};

class WatcherTest : public ::testing::Test {
 protected:
  WatcherTest() : clock_(/*auto_advance=*/true) {}

  // Runs the watcher on this thread until the watch script is used up.
  void RunToEnd(WatcherOptions options = {}) {
    options.clock = &clock_;
    options.on_error = [this](const Status& s) { errors_.push_back(s); };
    Watcher watcher(&lw_, &consumer_, options);
    lw_.on_exhausted = [&] { watcher.Stop(); };
    watcher.Run();
    final_rv_ = watcher.resource_version();
  }
  std::vector<Clock::Duration> Waits(std::initializer_list<int> ms) {
    std::vector<Clock::Duration> out;
    for (int m : ms) out.push_back(milliseconds(m));
    return out;
  }

  FakeClock clock_;
  FakeListerWatcher lw_;
  RecordingConsumer consumer_;
  std::vector<Status> errors_;
  std::string final_rv_;
};

TEST_F(WatcherTest, ListsEveryPageThenWatchesFromTheListVersion) {
  lw_.lists.push_back(Page({Obj("a", "3"), Obj("b", "5")}, "10", "token-1"));
  lw_.lists.push_back(Page({Obj("c", "7")}, "10"));
  lw_.watches.push_back(
      StreamScript{Event(Type::kAdded, "d", "11"), Status(Code::kTimeout, "watch expired")});
  RunToEnd();

  ASSERT_EQ(lw_.list_calls.size(), 2u);
  EXPECT_EQ(lw_.list_calls[0].limit, 500);
  EXPECT_EQ(lw_.list_calls[0].continue_token, "");
  EXPECT_EQ(lw_.list_calls[1].continue_token, "token-1");
  EXPECT_EQ(consumer_.lines, (std::vector<std::string>{"replace@10: a b c", "added d@11"}));
  // Each page handed on as it came, not gathered first.
  EXPECT_EQ(consumer_.pages, (std::vector<std::string>{"first: a b", "next: c"}));
  ASSERT_GE(lw_.watch_calls.size(), 1u);
  EXPECT_EQ(lw_.watch_calls[0].resource_version, "10");
  EXPECT_TRUE(lw_.watch_calls[0].allow_bookmarks);
  EXPECT_EQ(lw_.watch_calls[0].timeout_seconds, 300);
}

TEST_F(WatcherTest, ResumesFromTheLastVersionSeenIncludingBookmarks) {
  lw_.lists.push_back(Page({Obj("a", "3")}, "10"));
  lw_.watches.push_back(StreamScript{Event(Type::kModified, "a", "11"),
                                     Result<WatchEvent>(WatchEvent{Type::kBookmark, Obj("", "15")}),
                                     Status(Code::kTimeout, "watch expired")});
  lw_.watches.push_back(StreamScript{Event(Type::kDeleted, "a", "16"),
                                     Status(Code::kUnavailable, "connection reset")});
  RunToEnd();

  EXPECT_EQ(lw_.WatchVersions(), (std::vector<std::string>{"10", "15", "16"}));
  EXPECT_EQ(lw_.list_calls.size(), 1u) << "a resumable watch must not relist";
  EXPECT_EQ(consumer_.lines,
            (std::vector<std::string>{"replace@10: a", "modified a@11", "deleted a@16"}));
  // The routine expiry resumes at once; the broken connection waits the
  // first backoff step.
  EXPECT_EQ(clock_.waits(), Waits({200}));
  EXPECT_EQ(final_rv_, "16");
}

TEST_F(WatcherTest, BackoffDoublesUpToTheCapAndRestartsAfterAHealthyStream) {
  lw_.lists.push_back(Page({}, "10"));
  for (int i = 0; i < 4; ++i) lw_.watches.push_back(Status(Code::kUnavailable, "refused"));
  // Ends at once without an event: not healthy, so the backoff keeps growing.
  lw_.watches.push_back(StreamScript{Status(Code::kTimeout, "timed out")});
  lw_.watches.push_back(
      StreamScript{Event(Type::kAdded, "a", "11"), Status(Code::kUnavailable, "connection reset")});
  lw_.watches.push_back(Status(Code::kUnavailable, "refused"));
  WatcherOptions options;
  options.initial_backoff = milliseconds(100);
  options.max_backoff = milliseconds(400);
  RunToEnd(options);

  EXPECT_EQ(clock_.waits(), Waits({100, 200, 400, 400, 400, 100, 200}));
  EXPECT_EQ(errors_.size(), 7u);
  EXPECT_EQ(lw_.WatchVersions().back(), "11");
}

TEST_F(WatcherTest, GoneAtWatchStartRelistsAndReplacesEverything) {
  lw_.lists.push_back(Page({Obj("a", "3"), Obj("b", "4")}, "10"));
  lw_.watches.push_back(Status(Code::kGone, "too old resource version", 410));
  lw_.lists.push_back(Page({Obj("b", "4")}, "20"));
  RunToEnd();

  EXPECT_EQ(consumer_.lines, (std::vector<std::string>{"replace@10: a b", "replace@20: b"}));
  EXPECT_EQ(lw_.WatchVersions(), (std::vector<std::string>{"10", "20"}));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), Code::kGone);
}

TEST_F(WatcherTest, GoneErrorEventRelistsWithoutWaitingAfterAHealthyStream) {
  lw_.lists.push_back(Page({Obj("a", "3")}, "10"));
  lw_.watches.push_back(StreamScript{Event(Type::kAdded, "b", "11"), ExpiredErrorEvent()});
  lw_.lists.push_back(Page({Obj("b", "11")}, "30"));
  RunToEnd();

  EXPECT_EQ(consumer_.lines,
            (std::vector<std::string>{"replace@10: a", "added b@11", "replace@30: b"}));
  EXPECT_EQ(lw_.list_calls.size(), 2u);
  EXPECT_EQ(lw_.WatchVersions(), (std::vector<std::string>{"10", "30"}));
  EXPECT_TRUE(clock_.waits().empty());
}

TEST_F(WatcherTest, FailedListIsRetriedAfterABackoff) {
  lw_.lists.push_back(Status(Code::kForbidden, "no RBAC yet", 403));
  lw_.lists.push_back(Status(Code::kUnavailable, "refused"));
  lw_.lists.push_back(Page({Obj("a", "3")}, "10"));
  RunToEnd();

  EXPECT_EQ(clock_.waits(), Waits({200, 400}));
  EXPECT_EQ(consumer_.lines, (std::vector<std::string>{"replace@10: a"}));
  EXPECT_EQ(lw_.WatchVersions(), (std::vector<std::string>{"10"}));
}

TEST_F(WatcherTest, ExpiredContinueTokenFallsBackToOneFullList) {
  lw_.lists.push_back(Page({Obj("a", "3")}, "10", "token-1"));
  lw_.lists.push_back(Status(Code::kGone, "continue token expired", 410));
  lw_.lists.push_back(Page({Obj("a", "3"), Obj("b", "12")}, "12"));
  RunToEnd();

  ASSERT_EQ(lw_.list_calls.size(), 3u);
  EXPECT_EQ(lw_.list_calls[2].limit, 0);
  EXPECT_EQ(lw_.list_calls[2].continue_token, "");
  EXPECT_EQ(consumer_.lines, (std::vector<std::string>{"replace@12: a b"}));
  // The failed list's page came first; the new list starts afresh.
  EXPECT_EQ(consumer_.pages, (std::vector<std::string>{"first: a", "first: a b"}));
}

TEST(WatcherStopTest, StopCancelsALiveStream) {
  FakeListerWatcher lw;
  RecordingConsumer consumer;
  lw.lists.push_back(Page({}, "10"));
  std::promise<void> blocked;
  lw.blocked = &blocked;
  WatcherOptions options;
  options.on_error = [](const Status&) {};
  Watcher watcher(&lw, &consumer, options);
  auto running = std::async(std::launch::async, [&] { watcher.Run(); });
  blocked.get_future().wait();
  watcher.Stop();
  if (running.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "Run still blocked 30 s after Stop: the live stream was not cancelled";
    lw.final_stream->Cancel();  // lets the test end
  }
  EXPECT_EQ(lw.watch_calls.size(), 1u);
}

TEST(WatcherStopTest, StopEndsABackoffWait) {
  FakeListerWatcher lw;
  RecordingConsumer consumer;
  lw.lists.push_back(Status(Code::kUnavailable, "refused"));
  FakeClock clock;  // time never advances: the backoff would wait forever
  std::promise<void> failed;
  WatcherOptions options;
  options.clock = &clock;
  options.on_error = [&](const Status&) { failed.set_value(); };
  Watcher watcher(&lw, &consumer, options);
  auto running = std::async(std::launch::async, [&] { watcher.Run(); });
  failed.get_future().wait();
  watcher.Stop();
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(lw.list_calls.size(), 1u);
  EXPECT_TRUE(consumer.lines.empty());
}

}  // namespace
}  // namespace vireo::kube
