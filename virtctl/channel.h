// The Kubernetes remote-command stream protocol over WebSocket, as pods/exec
// speaks it: every binary message starts with one byte naming a channel.
//   0 stdin   1 stdout   2 stderr   3 error (a metav1.Status JSON when the
//   command ends)   4 resize (terminal size JSON)
// v5.channel.k8s.io adds channel 255, "close": its one payload byte names a
// channel whose writer is done (virtctl closes stdin with it). v4 has no way
// to close one direction; the whole connection is closed instead.
// Pure encoding and decoding, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::virtctl {

enum class Protocol { kV4, kV5 };
const char* ProtocolName(Protocol protocol);  // "v4.channel.k8s.io", ...

enum class Channel : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kError = 3,
  kResize = 4,
  kClose = 255,  // v5 only
};

struct Frame {
  Channel channel = Channel::kStdout;
  std::string payload;
};

// One message carrying `data` on `channel`.
std::string EncodeFrame(Channel channel, std::string_view data);
// The v5 message saying the writer of `channel` is done.
std::string EncodeClose(Channel channel);
// {"Width":w,"Height":h} on the resize channel.
std::string EncodeResize(uint16_t width, uint16_t height);

// Fails (kBadRequest, saying why) on an empty message, an unknown channel, a
// close message under v4 or one whose payload is not exactly one known
// channel byte. An empty payload on a known channel is valid (servers send
// one per channel when the stream opens).
base::Result<Frame> DecodeFrame(std::string_view message, Protocol protocol);

// How the command ended, from the error channel's payload.
struct ExitStatus {
  bool success = false;
  std::optional<int> exit_code;  // for a command that ran and exited non-zero
  std::string message;           // the server's words on failure
};
// Reads a metav1.Status ({"status":"Success"} or "Failure" with
// details.causes [{reason: ExitCode, message: "N"}]). A payload that is not
// such JSON (older servers wrote plain text) becomes a failure with that text.
ExitStatus ParseExitStatus(std::string_view payload);

}  // namespace vireo::virtctl
