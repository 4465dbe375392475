// Client::Watch against a scripted local HTTP server: the query it sends,
// events delivered as soon as they arrive, and each way a stream ends
// (Cancel, server close, broken connection, HTTP error, ERROR event).
// gtest before cpprestsdk, whose U() macro breaks gtest's templates.
#include <gtest/gtest.h>
// Then the usual order.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "lib/kube/client.h"
#include "lib/kube/test_http_server.h"

namespace vireo::kube {

using base::Code;
using base::NameOf;
using base::Result;

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::HttpConnection;
using testing::HttpRequest;
using testing::TestHttpServer;

std::string Event(const std::string& type, const std::string& name) {
  return R"({"type":")" + type + R"(","object":{"kind":"Pod","metadata":{"name":")" + name +
         R"(","namespace":"ns","resourceVersion":"1"}}})" + "\n";
}

// A server whose single handler runs `script` on a chunked watch reply, then
// holds the connection open until the test ends.
class WatchStreamTest : public ::testing::Test {
 protected:
  void Serve(std::function<void(HttpConnection&)> script) {
    server_ =
        std::make_unique<TestHttpServer>([this, script](const HttpRequest&, HttpConnection& c) {
          script(c);
          if (!c.broken()) server_->Hold();
        });
    ClusterConfig config;
    config.server = server_->url();
    auto client = Client::Create(config);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }
  std::unique_ptr<WatchStream> Watch(const WatchOptions& options = {}) {
    auto stream = client_->Watch(resources::kPods, "ns", options);
    EXPECT_TRUE(stream.ok()) << stream.status().ToString();
    return stream.ok() ? std::move(stream).value() : nullptr;
  }

  std::unique_ptr<TestHttpServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(WatchStreamTest, SendsTheWatchQuery) {
  Serve([](HttpConnection& c) { c.StartChunked(); });
  WatchOptions options;
  options.resource_version = "5";
  options.timeout_seconds = 30;
  options.label_selector = "app=vm,tier!=db";
  options.field_selector = "metadata.name=x";
  auto stream = Watch(options);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(server_->last_request().target,
            "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=5&allowWatchBookmarks=true"
            "&timeoutSeconds=30&labelSelector=app%3Dvm%2Ctier%21%3Ddb"
            "&fieldSelector=metadata.name%3Dx");
}

TEST_F(WatchStreamTest, EventsSplitAcrossChunksArriveInOrder) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    std::string all = Event("ADDED", "a") + Event("MODIFIED", "a") + Event("DELETED", "a");
    for (size_t i = 0; i < all.size(); i += 37) {
      c.Chunk(all.substr(i, 37));
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  for (WatchEvent::Type want :
       {WatchEvent::Type::kAdded, WatchEvent::Type::kModified, WatchEvent::Type::kDeleted}) {
    Result<WatchEvent> event = stream->Next();
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    EXPECT_EQ(event->type, want);
    EXPECT_EQ(NameOf(event->object), "a");
  }
}

TEST_F(WatchStreamTest, ASmallEventIsDeliveredWithoutWaitingForMore) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(Event("ADDED", "lonely"));
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  auto next = std::async(std::launch::async, [&] { return stream->Next(); });
  ASSERT_EQ(next.wait_for(seconds(5)), std::future_status::ready)
      << "an event that has arrived must not wait for more bytes";
  Result<WatchEvent> event = next.get();
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(NameOf(event->object), "lonely");
  stream->Cancel();
}

TEST_F(WatchStreamTest, CancelUnblocksAWaitingNext) {
  Serve([](HttpConnection& c) { c.StartChunked(); });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  auto next = std::async(std::launch::async, [&] { return stream->Next(); });
  EXPECT_EQ(next.wait_for(milliseconds(300)), std::future_status::timeout);
  auto start = std::chrono::steady_clock::now();
  stream->Cancel();
  ASSERT_EQ(next.wait_for(seconds(5)), std::future_status::ready) << "Next still blocked";
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(1));
  EXPECT_EQ(next.get().status().code(), Code::kCancelled);
  // And it stays ended.
  EXPECT_EQ(stream->Next().status().code(), Code::kCancelled);
}

TEST_F(WatchStreamTest, CancelClosesTheConnection) {
  // Shared: the handler thread outlives this test body.
  auto client_gone = std::make_shared<std::atomic<bool>>(false);
  Serve([client_gone](HttpConnection& c) {
    c.StartChunked();
    // Keep-alive blank lines (which the client skips) until it hangs up.
    for (int i = 0; i < 400 && !*client_gone; ++i) {
      if (!c.Write("1\r\n\n\r\n")) *client_gone = true;
      std::this_thread::sleep_for(milliseconds(25));
    }
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  auto next = std::async(std::launch::async, [&] { return stream->Next(); });
  std::this_thread::sleep_for(milliseconds(200));
  stream->Cancel();
  EXPECT_EQ(next.get().status().code(), Code::kCancelled);
  for (int i = 0; i < 100 && !*client_gone; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_TRUE(*client_gone) << "the connection stayed open after Cancel";
}

TEST_F(WatchStreamTest, CancelBeforeNext) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(Event("ADDED", "a"));
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  stream->Cancel();
  Result<WatchEvent> event = stream->Next();
  EXPECT_FALSE(event.ok());
}

TEST_F(WatchStreamTest, ServerClosingTheWatchMeansResume) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(Event("ADDED", "a"));
    c.End();
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Next().ok());
  Result<WatchEvent> end = stream->Next();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), Code::kTimeout) << end.status().ToString();
  EXPECT_NE(end.status().message().find("watch closed by server: resume"), std::string::npos);
}

TEST_F(WatchStreamTest, EndInsideAnEventIsUnavailable) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(R"({"type":"ADDED","obj)");
    c.End();
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->Next().status().code(), Code::kUnavailable);
}

TEST_F(WatchStreamTest, BrokenConnectionIsUnavailable) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(Event("ADDED", "a"));
    std::this_thread::sleep_for(milliseconds(100));
    c.Break();
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Next().ok());
  Result<WatchEvent> end = stream->Next();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), Code::kUnavailable) << end.status().ToString();
}

TEST_F(WatchStreamTest, HttpErrorBeforeTheStreamIsItsStatus) {
  Serve([](HttpConnection& c) {
    c.Reply(410, R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})");
  });
  auto stream = client_->Watch(resources::kPods, "ns", {});
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), Code::kGone);
  EXPECT_EQ(stream.status().message(), "too old");
}

TEST_F(WatchStreamTest, RetriesWhileTheServerAsksForIt) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  Serve([calls](HttpConnection& c) {
    if (++*calls == 1) {
      c.Write("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}");
      return;
    }
    c.StartChunked();
    c.Chunk(Event("ADDED", "after-retry"));
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  Result<WatchEvent> event = stream->Next();
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(NameOf(event->object), "after-retry");
  EXPECT_EQ(calls->load(), 2);
}

TEST_F(WatchStreamTest, ErrorEventEndsTheStream) {
  Serve([](HttpConnection& c) {
    c.StartChunked();
    c.Chunk(Event("ADDED", "a") + "not json at all\n" + Event("BOOKMARK", "") +
            R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired",)"
            R"("message":"too old resource version"}})"
            "\n" +
            Event("ADDED", "never"));
  });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->Next().ok());
  // A garbled line is reported; the stream goes on.
  EXPECT_EQ(stream->Next().status().code(), Code::kInternal);
  Result<WatchEvent> bookmark = stream->Next();
  ASSERT_TRUE(bookmark.ok()) << bookmark.status().ToString();
  EXPECT_EQ(bookmark->type, WatchEvent::Type::kBookmark);
  Result<WatchEvent> gone = stream->Next();
  EXPECT_EQ(gone.status().code(), Code::kGone) << gone.status().ToString();
  EXPECT_EQ(stream->Next().status().code(), Code::kGone);
}

TEST_F(WatchStreamTest, DestroyingABlockedStreamIsSafe) {
  Serve([](HttpConnection& c) { c.StartChunked(); });
  auto stream = Watch();
  ASSERT_NE(stream, nullptr);
  std::thread reader([&] { EXPECT_EQ(stream->Next().status().code(), Code::kCancelled); });
  std::this_thread::sleep_for(milliseconds(100));
  stream->Cancel();
  reader.join();
  stream.reset();
  // The client still works after its stream is gone.
  EXPECT_NE(Watch(), nullptr);
}

}  // namespace
}  // namespace vireo::kube
