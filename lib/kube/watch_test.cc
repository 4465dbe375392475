// WatchDecoder: events split anywhere, joined, garbled or oversized; and the
// Status an ERROR event carries.
// gtest before cpprestsdk, whose U() macro breaks gtest's templates.
#include <gtest/gtest.h>
// Then the usual order.
#include <string>
#include <vector>

#include "lib/kube/watch.h"

namespace vireo::kube {

using base::Code;
using base::NameOf;
using base::NamespaceOf;
using base::ParseJson;
using base::ResourceVersionOf;
using base::Result;
using base::Status;

namespace {

using Type = WatchEvent::Type;

std::string Event(const std::string& type, const std::string& name, const std::string& rv) {
  return R"({"type":")" + type +
         R"(","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":")" + name +
         R"(","namespace":"ns","resourceVersion":")" + rv + R"("}}})" + "\n";
}

// A stream with every kind of event, unicode in raw UTF-8 and as escapes,
// and the keep-alive blank lines a proxy may add.
std::string Script() {
  return Event("ADDED", "café-日本", "10") + "\n" + Event("MODIFIED", "a", "11") +
         R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12"}}})"
         "\r\n" +
         R"({"type":"DELETED","object":{"metadata":{"name":"\u00e9\ud83d\ude80","resourceVersion":"13"}}})"
         "\n" +
         R"x({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 5 (13)","reason":"Expired","code":410}})x"
         "\n";
}

struct Seen {
  Type type;
  std::string name;
  std::string rv;
};

const std::vector<Seen>& Expected() {
  static const std::vector<Seen> kExpected = {
      {Type::kAdded, "café-日本", "10"},
      {Type::kModified, "a", "11"},
      {Type::kBookmark, "", "12"},
      {Type::kDeleted, "\xc3\xa9\xf0\x9f\x9a\x80", "13"},
      {Type::kError, "", ""},
  };
  return kExpected;
}

// Feeds `text` in pieces of `chunk` bytes, draining events after each piece.
std::vector<Seen> DecodeInChunks(const std::string& text, size_t chunk) {
  WatchDecoder decoder;
  std::vector<Seen> seen;
  for (size_t i = 0; i < text.size(); i += chunk) {
    decoder.Feed(std::string_view(text).substr(i, chunk));
    for (;;) {
      Result<WatchEvent> event = decoder.Next();
      if (!event.ok()) {
        EXPECT_EQ(event.status().code(), Code::kUnavailable) << event.status().ToString();
        break;
      }
      seen.push_back({event->type, NameOf(event->object), ResourceVersionOf(event->object)});
    }
  }
  EXPECT_EQ(decoder.pending_bytes(), 0u);
  return seen;
}

class ChunkSizeTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ChunkSizeTest, SameEventsWhateverTheSplit) {
  std::vector<Seen> seen = DecodeInChunks(Script(), GetParam());
  ASSERT_EQ(seen.size(), Expected().size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].type, Expected()[i].type) << "event " << i;
    EXPECT_EQ(seen[i].name, Expected()[i].name) << "event " << i;
    EXPECT_EQ(seen[i].rv, Expected()[i].rv) << "event " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, ChunkSizeTest, ::testing::Values(1, 2, 3, 7, 13, 4096));

TEST(WatchDecoderTest, HoldsAPartialEventUntilItsNewline) {
  WatchDecoder decoder;
  std::string event = Event("ADDED", "p", "1");
  decoder.Feed(std::string_view(event).substr(0, event.size() - 1));
  Result<WatchEvent> none = decoder.Next();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kUnavailable);
  EXPECT_EQ(decoder.pending_bytes(), event.size() - 1);
  decoder.Feed("\n");
  Result<WatchEvent> added = decoder.Next();
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->type, Type::kAdded);
  EXPECT_EQ(NameOf(added->object), "p");
  EXPECT_EQ(NamespaceOf(added->object), "ns");
  EXPECT_EQ(decoder.pending_bytes(), 0u);
}

TEST(WatchDecoderTest, SeveralEventsInOneFeed) {
  WatchDecoder decoder;
  decoder.Feed(Event("ADDED", "a", "1") + Event("ADDED", "b", "2") + Event("DELETED", "a", "3") +
               R"({"type":"MODIFIED")");
  std::vector<std::string> names;
  Result<WatchEvent> event = decoder.Next();
  for (; event.ok(); event = decoder.Next()) names.push_back(NameOf(event->object));
  EXPECT_EQ(event.status().code(), Code::kUnavailable);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(decoder.pending_bytes(), std::string(R"({"type":"MODIFIED")").size());
}

TEST(WatchDecoderTest, GarbageLinesAreReportedAndSkipped) {
  WatchDecoder decoder;
  decoder.Feed("this is not json\n");
  decoder.Feed(R"({"type":"ADDED"})"
               "\n");  // no object
  decoder.Feed(R"([1,2,3])"
               "\n");  // not an object
  decoder.Feed(R"({"type":"RENAMED","object":{}})"
               "\n");  // unknown type
  decoder.Feed(R"({"type":7,"object":{}})"
               "\n");  // type not a string
  decoder.Feed(Event("ADDED", "survivor", "9"));
  std::vector<std::string> errors;
  for (int i = 0; i < 5; ++i) {
    Result<WatchEvent> bad = decoder.Next();
    ASSERT_FALSE(bad.ok()) << "line " << i;
    EXPECT_EQ(bad.status().code(), Code::kInternal) << bad.status().ToString();
    errors.push_back(bad.status().message());
  }
  EXPECT_NE(errors[0].find("this is not json"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("not a {type, object} event"), std::string::npos) << errors[1];
  EXPECT_NE(errors[3].find("unknown event type \"RENAMED\""), std::string::npos) << errors[3];
  Result<WatchEvent> good = decoder.Next();
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(NameOf(good->object), "survivor");
}

TEST(WatchDecoderTest, OversizedEventWithoutNewlineIsDroppedAsItArrives) {
  WatchDecoder decoder(200);  // an Event() line is about 110 bytes
  const std::string before = Event("ADDED", "before", "1");
  decoder.Feed(before);
  decoder.Feed(std::string(150, 'x'));
  decoder.Feed(std::string(150, 'y'));  // 300 bytes of one unfinished event: over the bound
  EXPECT_EQ(decoder.pending_bytes(), before.size()) << "only the complete event is kept";
  decoder.Feed(std::string(1000, 'z'));  // still the same event: dropped on arrival
  EXPECT_EQ(decoder.pending_bytes(), before.size());
  decoder.Feed("end of the big one\n" + Event("ADDED", "after", "2"));

  // In stream order: the event before, the report, the event after.
  Result<WatchEvent> first = decoder.Next();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(NameOf(first->object), "before");
  Result<WatchEvent> report = decoder.Next();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kInternal);
  EXPECT_NE(report.status().message().find("larger than 200 bytes"), std::string::npos)
      << report.status().message();
  Result<WatchEvent> after = decoder.Next();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(NameOf(after->object), "after");
  EXPECT_EQ(decoder.Next().status().code(), Code::kUnavailable);
}

TEST(WatchDecoderTest, OversizedCompleteLineIsRefused) {
  WatchDecoder decoder(200);
  decoder.Feed("{\"type\":\"ADDED\",\"object\":{\"pad\":\"" + std::string(300, 'p') + "\"}}\n" +
               Event("ADDED", "next", "2"));
  Result<WatchEvent> big = decoder.Next();
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kInternal);
  Result<WatchEvent> next = decoder.Next();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(NameOf(next->object), "next");
}

TEST(WatchDecoderTest, DefaultBoundHoldsMemoryOnAStreamWithoutNewlines) {
  EXPECT_EQ(WatchDecoder::kMaxEventBytes, size_t{64} << 20);
  WatchDecoder decoder;
  const std::string mib(1 << 20, 'g');
  size_t most = 0;
  for (int i = 0; i < 70; ++i) {
    decoder.Feed(mib);
    most = std::max(most, decoder.pending_bytes());
  }
  EXPECT_LE(most, WatchDecoder::kMaxEventBytes);
  Result<WatchEvent> refused = decoder.Next();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInternal);
}

TEST(WatchDecoderTest, ALargeEventFedByteByByteIsLinear) {
  // 2 MB one byte at a time: a decoder that rescans its buffer on each byte
  // would take minutes here.
  std::string big = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"big\"},\"pad\":\"" +
                    std::string(2 << 20, 'q') + "\"}}\n";
  WatchDecoder decoder;
  for (char c : big) decoder.Feed(std::string_view(&c, 1));
  Result<WatchEvent> event = decoder.Next();
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(NameOf(event->object), "big");
}

TEST(ErrorStatusOfTest, ExpiredIsGone) {
  WatchDecoder decoder;
  decoder.Feed(Script());
  Result<WatchEvent> event = decoder.Next();
  while (event.ok() && event->type != Type::kError) event = decoder.Next();
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  Status status = ErrorStatusOf(*event);
  EXPECT_EQ(status.code(), Code::kGone);
  EXPECT_TRUE(status.IsGone());
  EXPECT_EQ(status.http_status(), 410);
  EXPECT_NE(status.message().find("too old resource version"), std::string::npos);
}

TEST(ErrorStatusOfTest, OtherCodesMapLikeHttpReplies) {
  auto status_of = [](const std::string& object) {
    WatchEvent event;
    event.type = Type::kError;
    event.object = ParseJson(object).value();
    return ErrorStatusOf(event);
  };
  EXPECT_EQ(
      status_of(R"({"kind":"Status","code":500,"reason":"InternalError","message":"etcd"})").code(),
      Code::kUnavailable);
  EXPECT_EQ(status_of(R"({"kind":"Status","code":403,"message":"no"})").code(), Code::kForbidden);
  // Without a code, the reason decides.
  EXPECT_EQ(status_of(R"({"kind":"Status","reason":"Expired","message":"old"})").code(),
            Code::kGone);
  // An ERROR event always ends a watch, even one claiming success.
  EXPECT_FALSE(status_of(R"({"kind":"Status","code":200})").ok());

  WatchEvent added;
  added.type = Type::kAdded;
  EXPECT_TRUE(ErrorStatusOf(added).ok());
}

TEST(WatchEventTypeNameTest, Names) {
  EXPECT_STREQ(WatchEventTypeName(Type::kAdded), "ADDED");
  EXPECT_STREQ(WatchEventTypeName(Type::kBookmark), "BOOKMARK");
  EXPECT_STREQ(WatchEventTypeName(Type::kError), "ERROR");
}

}  // namespace
}  // namespace vireo::kube
