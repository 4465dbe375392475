// The console relay thread; see console_relay.h.
#include "launcher/console_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

// Output for a viewer that reads slower than the guest writes is dropped past
// this (the log file has it); input for a guest that reads slower than the
// viewer types is held back instead, so keystrokes are never lost.
constexpr size_t kBufferLimit = 256 * 1024;
constexpr char kTakenOver[] = "\r\n[vireo: another console session took over]\r\n";
constexpr char kGuestGone[] = "\r\n[vireo: the guest's serial port closed]\r\n";

Status Errno(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status(Code::kInvalid, "socket path too long for a unix socket (" +
                                      std::to_string(path.size()) + " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Writes what it can without blocking; false when the peer is gone.
bool Flush(int fd, std::string& buffer) {
  while (!buffer.empty()) {
    ssize_t n = send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      buffer.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

void SayAndClose(int& fd, std::string_view text) {
  if (fd < 0) return;
  [[maybe_unused]] ssize_t ignored =
      send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  CloseFd(fd);
}

}  // namespace

ConsoleRelay::ConsoleRelay(std::string path, int listen_fd, int wake_fd)
    : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

Result<std::unique_ptr<ConsoleRelay>> ConsoleRelay::Listen(const std::string& console_socket) {
  auto addr = UnixAddress(console_socket);
  if (!addr.ok()) return addr.status();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("create the console socket");
  unlink(console_socket.c_str());
  // Only the pod's own user may attach: the console is a root shell in many
  // guests.
  mode_t old_mask = umask(077);
  int rc = bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  umask(old_mask);
  if (rc != 0 || listen(fd, 4) != 0) {
    Status s = Errno("listen on " + console_socket);
    close(fd);
    return s;
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    Status s = Errno("eventfd");
    close(fd);
    return s;
  }
  return std::unique_ptr<ConsoleRelay>(new ConsoleRelay(console_socket, fd, wake));
}

ConsoleRelay::~ConsoleRelay() { Stop(); }

Status ConsoleRelay::Start(const std::string& serial_socket) {
  auto addr = UnixAddress(serial_socket);
  if (!addr.ok()) return addr.status();
  // libvirt hands QEMU a listening socket it made itself, so it normally
  // exists by now; the retries cover a QEMU that is still coming up.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Errno("create a socket");
    if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      serial_fd_ = fd;
      break;
    }
    Status s = Errno("connect to QEMU's serial port at " + serial_socket);
    close(fd);
    if (std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ConsoleRelay::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  CloseFd(serial_fd_);
  if (listen_fd_ >= 0) {
    CloseFd(listen_fd_);
    unlink(path_.c_str());
  }
  CloseFd(wake_fd_);
}

void ConsoleRelay::Loop() {
  int viewer = -1;
  std::string to_viewer;
  std::string to_guest;
  char chunk[16 * 1024];
  for (;;) {
    pollfd fds[4] = {
        {wake_fd_, POLLIN, 0},
        {listen_fd_, POLLIN, 0},
        {serial_fd_, static_cast<short>(POLLIN | (to_guest.empty() ? 0 : POLLOUT)), 0},
        {viewer, 0, 0},
    };
    if (viewer >= 0) {
      // Input waits while the guest has not taken the last batch.
      fds[3].events = static_cast<short>((to_guest.size() < kBufferLimit ? POLLIN : 0) |
                                         (to_viewer.empty() ? 0 : POLLOUT));
    }
    if (poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      base::LogError("console relay poll failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (fds[0].revents != 0) break;  // Stop()

    if (fds[1].revents & POLLIN) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        if (serial_fd_ < 0) {
          SayAndClose(fd, kGuestGone);
        } else {
          if (viewer >= 0) {
            SayAndClose(viewer, kTakenOver);
            base::LogInfo("console viewer taken over by a new one");
          } else {
            base::LogInfo("console viewer attached");
          }
          viewer = fd;
          to_viewer.clear();
          viewers_accepted_.fetch_add(1);
        }
      }
    }

    if (serial_fd_ >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(serial_fd_, chunk, sizeof(chunk));
      if (n > 0) {
        if (viewer >= 0 && to_viewer.size() < kBufferLimit) {
          to_viewer.append(chunk, static_cast<size_t>(n));
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        // QEMU is gone: the viewer sees the last output, then EOF.
        base::LogInfo("the guest's serial port closed");
        CloseFd(serial_fd_);
        to_guest.clear();
        if (viewer >= 0) {
          Flush(viewer, to_viewer);
          SayAndClose(viewer, kGuestGone);
        }
        continue;
      }
    }
    if (serial_fd_ >= 0 && !to_guest.empty()) Flush(serial_fd_, to_guest);

    if (viewer >= 0 && (fds[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(viewer, chunk, sizeof(chunk));
      if (n > 0) {
        to_guest.append(chunk, static_cast<size_t>(n));
        if (serial_fd_ >= 0) Flush(serial_fd_, to_guest);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        base::LogInfo("console viewer detached");
        CloseFd(viewer);
        to_viewer.clear();
      }
    }
    if (viewer >= 0 && !to_viewer.empty() && !Flush(viewer, to_viewer)) {
      base::LogInfo("console viewer detached");
      CloseFd(viewer);
      to_viewer.clear();
    }
  }
  if (viewer >= 0) SayAndClose(viewer, "");
}

}  // namespace vireo::launcher
