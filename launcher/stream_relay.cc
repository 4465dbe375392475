// The byte relays of `vireo-launcher vnc` and `forward`; see stream_relay.h.
#include "launcher/stream_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vireo::launcher {
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

RelayResult Relay(int in_fd, int out_fd, int sock) {
  RelayResult result;
  char buffer[64 * 1024];
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {result.input_ended ? -1 : in_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      result.error = std::string("poll: ") + std::strerror(errno);
      return result;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(sock, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        // A reset before any byte is how a refused guest port shows (the
        // caller judges it by from_socket); after data it cut the stream.
        if (errno != ECONNRESET) {
          result.error = std::string("read: ") + std::strerror(errno);
        } else if (result.from_socket > 0) {
          result.error = "the guest reset the connection";
        }
        return result;
      }
      if (n == 0) return result;
      result.from_socket += static_cast<uint64_t>(n);
      if (!WriteAll(out_fd, buffer, static_cast<size_t>(n))) {
        result.error = std::string("write to the client: ") + std::strerror(errno);
        return result;
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(in_fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        result.input_ended = true;
        shutdown(sock, SHUT_WR);
        continue;
      }
      result.to_socket += static_cast<uint64_t>(n);
      if (!WriteAll(sock, buffer, static_cast<size_t>(n))) {
        result.error = std::string("write to the socket: ") + std::strerror(errno);
        return result;
      }
    }
  }
}

int RunVncRelay(const std::string& vnc_socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (vnc_socket.size() >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "vireo-launcher vnc: socket path too long: %s\n", vnc_socket.c_str());
    return 1;
  }
  std::memcpy(addr.sun_path, vnc_socket.c_str(), vnc_socket.size() + 1);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::fprintf(stderr,
                 "vireo-launcher vnc: the guest has no VNC display at %s: %s (is the guest "
                 "running, and its autoattachGraphicsDevice not false?)\n",
                 vnc_socket.c_str(), std::strerror(err));
    if (sock >= 0) close(sock);
    return 1;
  }
  RelayResult result = Relay(STDIN_FILENO, STDOUT_FILENO, sock);
  close(sock);
  if (!result.error.empty()) {
    std::fprintf(stderr, "vireo-launcher vnc: %s\n", result.error.c_str());
    return 1;
  }
  return 0;
}

int RunPortRelay(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    std::fprintf(stderr,
                 "vireo-launcher forward: cannot connect to port %d: %s (the guest's port is "
                 "reached only when its interface forwards it: none listed, or listed in "
                 "ports)\n",
                 port, std::strerror(err));
    if (sock >= 0) close(sock);
    return 1;
  }
  RelayResult result = Relay(STDIN_FILENO, STDOUT_FILENO, sock);
  close(sock);
  if (!result.error.empty()) {
    std::fprintf(stderr, "vireo-launcher forward: port %d: %s\n", port, result.error.c_str());
    return 1;
  }
  if (result.from_socket == 0) {
    std::fprintf(stderr,
                 "vireo-launcher forward: port %d: the guest closed the connection without "
                 "sending a byte (does anything listen on port %d in the guest?)\n",
                 port, port);
    return 1;
  }
  return 0;
}

}  // namespace vireo::launcher
