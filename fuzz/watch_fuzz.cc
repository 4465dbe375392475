// Fuzz target: the watch-stream decoder (lib/kube/watch.h), bytes straight
// off the apiserver's chunked reply. The first two bytes pick the event size
// limit and the size of the pieces the transport delivers; the events decoded
// must not depend on how the bytes were cut.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "lib/kube/watch.h"

namespace {

using namespace vireo::kube;
using namespace vireo::base;

// The events one decoder yields, as text, after every Feed of `pieces`.
std::vector<std::string> Decode(std::string_view stream, size_t piece, size_t limit) {
  WatchDecoder decoder(limit);
  std::vector<std::string> events;
  auto drain = [&] {
    for (;;) {
      Result<WatchEvent> event = decoder.Next();
      if (!event.ok()) {
        if (event.status().code() == Code::kUnavailable) return;
        VIREO_FUZZ_CHECK(event.status().code() == Code::kInternal);
        continue;
      }
      const Status error = ErrorStatusOf(*event);
      VIREO_FUZZ_CHECK(error.ok() == (event->type != WatchEvent::Type::kError));
      events.push_back(std::string(WatchEventTypeName(event->type)) + " " +
                       DumpJson(event->object));
    }
  };
  for (size_t at = 0; at < stream.size(); at += piece) {
    decoder.Feed(stream.substr(at, piece));
    drain();
    // What is held back is at most one unfinished event within the limit.
    VIREO_FUZZ_CHECK(decoder.pending_bytes() <= limit);
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t limit = 1 + size_t{data[0]} * 8;
  const size_t piece = 1 + size_t{data[1]};
  const std::string_view stream = vireo::fuzz::AsText(data + 2, size - 2);
  const std::vector<std::string> whole = Decode(stream, std::max<size_t>(stream.size(), 1), limit);
  const std::vector<std::string> pieces = Decode(stream, piece, limit);
  VIREO_FUZZ_CHECK(whole == pieces);
  return 0;
}
