// `vireo-launcher vnc` and `vireo-launcher forward`: what `virtctl vnc` and
// `virtctl port-forward` exec in the launcher pod. Each joins its stdin and
// stdout to one socket in the pod, raw bytes both ways: the guest's VNC
// display (QEMU's state/vnc.sock), or a TCP port on the pod's loopback,
// which passt forwards to the guest like any port of the pod's address.
#pragma once

#include <cstdint>
#include <string>

namespace vireo::launcher {

struct RelayResult {
  uint64_t from_socket = 0;  // bytes the socket's peer sent
  uint64_t to_socket = 0;    // bytes from stdin
  bool input_ended = false;  // stdin reached EOF (then the socket's write side was shut)
  std::string error;         // a read or write that failed, else empty
};

// Copies in_fd -> sock and sock -> out_fd until the socket's peer ends.
// When in_fd ends, the socket's write side is shut (the peer reads EOF) and
// the peer's output still flows until it closes, so a request/reply over
// piped input gets its whole reply. Ends early when out_fd cannot be written.
RelayResult Relay(int in_fd, int out_fd, int sock);

// Writes all of data[0, size) to fd (a socket without SIGPIPE, else a pipe
// or file); false when it cannot. Shared with the console viewer.
bool WriteAll(int fd, const char* data, size_t size);

// Exit codes: 0 when the display's connection ended; 1 when there is no
// display to connect to (the message says why on stderr).
int RunVncRelay(const std::string& vnc_socket);

// Exit codes: 0 when the connection ended after the guest sent something;
// 1 when nothing listens on the port (connection refused, or the guest closed
// it before sending a byte: passt accepts for the guest, then the guest
// refuses; a server that closes without a word is reported the same way),
// with the reason on stderr.
int RunPortRelay(int port);

}  // namespace vireo::launcher
