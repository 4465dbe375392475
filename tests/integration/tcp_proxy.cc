// TcpProxy: one thread accepting, one thread per connection copying bytes
// (or dropping them) and watching the connection's silence.
#include "tests/integration/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace vireo::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

[[noreturn]] void Die(const char* what) {
  std::cerr << "TcpProxy: " << what << ": " << std::strerror(errno) << std::endl;
  std::abort();
}

}  // namespace

TcpProxy::TcpProxy(int target_port, const char* listen_address) : target_port_(target_port) {
  if (pipe(wake_) != 0) Die("pipe");
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Die("socket");
  sockaddr_in addr = Loopback(0);
  if (inet_pton(AF_INET, listen_address, &addr.sin_addr) != 1) Die("inet_pton");
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("bind");
  if (listen(listen_fd_, 64) != 0) Die("listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  if (write(wake_[1], "x", 1) < 0) { /* the pipe is ours; nothing to do */
  }
  acceptor_.join();
  DropConnections();
  std::vector<std::thread> pumps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pumps.swap(pumps_);
  }
  for (auto& t : pumps) t.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void TcpProxy::DropConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  // shutdown (not close) so the pump threads see EOF and close the fds themselves.
  for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
}

void TcpProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (fds[1].revents != 0) return;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    if (paused_) {
      close(client);
      continue;
    }
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (server >= 0) close(server);
      close(client);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.insert(client);
    open_fds_.insert(server);
    pumps_.emplace_back([this, client, server] { Pump(client, server); });
  }
}

void TcpProxy::Pump(int client_fd, int server_fd) {
  char buf[16384];
  pollfd fds[3] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
  bool open = true;
  auto last_traffic = std::chrono::steady_clock::now();
  while (open && !stopping_) {
    // Wake up now and then to measure the silence when there is a limit.
    int64_t limit_ms = idle_limit_ms_;
    int rc = poll(fds, 3, limit_ms > 0 ? 20 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;
    if (rc == 0) {
      if (limit_ms > 0 && !blackhole_ &&
          std::chrono::steady_clock::now() - last_traffic >= std::chrono::milliseconds(limit_ms)) {
        ++cut_idle_;
        break;
      }
      continue;
    }
    for (int i = 0; i < 2 && open; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        open = false;
        break;
      }
      if (blackhole_) continue;  // read, so the sender never blocks; never delivered
      last_traffic = std::chrono::steady_clock::now();
      int to = fds[1 - i].fd;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) {
          open = false;
          break;
        }
        off += w;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(client_fd);
  open_fds_.erase(server_fd);
  close(client_fd);
  close(server_fd);
}

}  // namespace vireo::testing
