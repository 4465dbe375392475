// Fuzz target: the remote-command channel frames (virtctl/channel.h) that a
// pods/exec WebSocket delivers, and the exit status on the error channel.
#include "fuzz/fuzz_target.h"
#include "virtctl/channel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vireo;
  using virtctl::Channel;
  const std::string_view message = fuzz::AsText(data, size);
  for (virtctl::Protocol protocol : {virtctl::Protocol::kV4, virtctl::Protocol::kV5}) {
    base::Result<virtctl::Frame> frame = virtctl::DecodeFrame(message, protocol);
    if (!frame.ok()) {
      VIREO_FUZZ_CHECK(frame.status().code() == base::Code::kBadRequest);
      continue;
    }
    // A frame we accept is one we could have sent: encoding it gives the
    // message back.
    if (frame->channel == Channel::kClose) {
      VIREO_FUZZ_CHECK(protocol == virtctl::Protocol::kV5);
      VIREO_FUZZ_CHECK(frame->payload.size() == 1);
      VIREO_FUZZ_CHECK(virtctl::EncodeClose(static_cast<Channel>(frame->payload[0])) == message);
    } else {
      VIREO_FUZZ_CHECK(virtctl::EncodeFrame(frame->channel, frame->payload) == message);
    }
    if (frame->channel == Channel::kError) {
      virtctl::ExitStatus status = virtctl::ParseExitStatus(frame->payload);
      VIREO_FUZZ_CHECK(status.success || !status.message.empty() || frame->payload.empty());
    }
  }
  return 0;
}
