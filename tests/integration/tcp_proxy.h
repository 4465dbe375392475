// A loopback TCP forwarder that T1 tests put between a client and the real
// apiserver, so they can break every connection at a moment they choose
// (TLS passes through untouched).
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace vireo::testing {

// Thread-safe.
class TcpProxy {
 public:
  // Listens on an ephemeral port of 127.0.0.1 and forwards to 127.0.0.1:target_port.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Breaks every open connection.
  void DropConnections();
  // While paused, new connections are closed as soon as they are accepted.
  void SetPaused(bool paused) { paused_ = paused; }
  int connections_accepted() const { return accepted_; }

 private:
  void AcceptLoop();
  void Pump(int client_fd, int server_fd);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe that ends every poll at shutdown
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::set<int> open_fds_;  // GUARDED_BY(mu_)
  std::vector<std::thread> pumps_;  // GUARDED_BY(mu_)
  std::thread acceptor_;
};

}  // namespace vireo::testing
