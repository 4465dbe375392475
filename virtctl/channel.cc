// The remote-command channel protocol; see channel.h.
#include "virtctl/channel.h"

#include <charconv>

#include "lib/base/json.h"

namespace vireo::virtctl {

using base::Code;
using base::Status;

const char* ProtocolName(Protocol protocol) {
  return protocol == Protocol::kV5 ? "v5.channel.k8s.io" : "v4.channel.k8s.io";
}

namespace {

bool IsDataChannel(uint8_t c) { return c <= static_cast<uint8_t>(Channel::kResize); }

Status Bad(std::string message) { return Status(Code::kBadRequest, std::move(message)); }

}  // namespace

std::string EncodeFrame(Channel channel, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(static_cast<char>(channel));
  out.append(data);
  return out;
}

std::string EncodeClose(Channel channel) {
  std::string out;
  out.push_back(static_cast<char>(Channel::kClose));
  out.push_back(static_cast<char>(channel));
  return out;
}

std::string EncodeResize(uint16_t width, uint16_t height) {
  return EncodeFrame(Channel::kResize, "{\"Width\":" + std::to_string(width) +
                                           ",\"Height\":" + std::to_string(height) + "}");
}

base::Result<Frame> DecodeFrame(std::string_view message, Protocol protocol) {
  if (message.empty()) return Bad("empty stream message (no channel byte)");
  auto id = static_cast<uint8_t>(message[0]);
  std::string_view payload = message.substr(1);
  if (id == static_cast<uint8_t>(Channel::kClose)) {
    if (protocol != Protocol::kV5) {
      return Bad("close message (channel 255) on a v4.channel.k8s.io stream");
    }
    if (payload.size() != 1 || !IsDataChannel(static_cast<uint8_t>(payload[0]))) {
      return Bad("close message must name one channel 0-4, got " + std::to_string(payload.size()) +
                 " byte(s)");
    }
    return Frame{Channel::kClose, std::string(payload)};
  }
  if (!IsDataChannel(id)) return Bad("stream message on unknown channel " + std::to_string(id));
  return Frame{static_cast<Channel>(id), std::string(payload)};
}

ExitStatus ParseExitStatus(std::string_view payload) {
  ExitStatus out;
  auto json = base::ParseJson(payload, "exec status");
  if (!json.ok() || !json->is_object()) {
    out.message = std::string(payload);
    return out;
  }
  if (base::GetString(*json, "status") == "Success") {
    out.success = true;
    return out;
  }
  out.message = base::GetString(*json, "message");
  if (const base::Json* causes = base::Find(*json, "details.causes");
      causes != nullptr && causes->is_array()) {
    for (const auto& cause : *causes) {
      if (base::GetString(cause, "reason") != "ExitCode") continue;
      std::string text = base::GetString(cause, "message");
      int code = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
      if (ec == std::errc() && end == text.data() + text.size()) out.exit_code = code;
    }
  }
  if (out.message.empty()) out.message = "the command failed";
  return out;
}

}  // namespace vireo::virtctl
