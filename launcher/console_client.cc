// The console viewer; see console_client.h.
#include "launcher/console_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "launcher/stream_relay.h"

namespace vireo::launcher {
namespace {

constexpr char kEscape = 0x1d;  // Ctrl-]

int Connect(const std::string& path, int64_t wait_seconds) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "vireo-launcher console: socket path too long: %s\n", path.c_str());
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    int err = errno;
    close(fd);
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr,
                   "vireo-launcher console: cannot attach to %s: %s (is the launcher running?)\n",
                   path.c_str(), std::strerror(err));
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "vireo-launcher console: socket: %s\n", std::strerror(errno));
  return -1;
}

// Puts a terminal on stdin in raw mode for the session, so every key
// (Ctrl-C included) reaches the guest; restored on the way out.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) == 0 || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace

int RunConsole(const std::string& console_socket, int64_t wait_seconds) {
  int sock = Connect(console_socket, wait_seconds);
  if (sock < 0) return 1;
  RawTerminal terminal;
  if (terminal.active()) {
    std::fprintf(stderr, "Attached to the serial console; Ctrl-] leaves.\r\n");
  }
  char buffer[16 * 1024];
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {sock, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(sock, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the launcher ended or another viewer took over
      if (!WriteAll(STDOUT_FILENO, buffer, static_cast<size_t>(n))) break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stdin ended
      size_t size = static_cast<size_t>(n);
      bool leave = false;
      if (terminal.active()) {
        if (const void* esc = std::memchr(buffer, kEscape, size); esc != nullptr) {
          size = static_cast<size_t>(static_cast<const char*>(esc) - buffer);
          leave = true;
        }
      }
      if (!WriteAll(sock, buffer, size) || leave) break;
    }
  }
  close(sock);
  if (terminal.active()) std::fprintf(stderr, "\r\n");
  return 0;
}

}  // namespace vireo::launcher
