// A loopback TCP forwarder that T1 tests put between a client and the real
// apiserver, so they can break every connection at a moment they choose, cut
// connections that stay silent (as load balancers and NAT gateways do), or
// swallow every byte (a link that died without a reset). TLS passes through
// untouched.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace vireo::testing {

// Thread-safe.
class TcpProxy {
 public:
  // Listens on an ephemeral port of listen_address (any loopback address:
  // 127.0.0.2 is one no certificate of the harness names) and forwards to
  // 127.0.0.1:target_port.
  explicit TcpProxy(int target_port, const char* listen_address = "127.0.0.1");
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Breaks every open connection.
  void DropConnections();
  // While paused, new connections are closed as soon as they are accepted.
  void SetPaused(bool paused) { paused_ = paused; }
  int connections_accepted() const { return accepted_; }
  // Closes a connection once no byte has passed in either direction for this
  // long (0, the default: never). Set it before the connections it is for
  // are made.
  void SetIdleLimit(std::chrono::milliseconds limit) { idle_limit_ms_ = limit.count(); }
  int connections_cut_idle() const { return cut_idle_; }
  // While set, bytes in both directions are read and dropped: connections
  // stay open, nothing gets through, and none counts as idle.
  void SetBlackhole(bool blackhole) { blackhole_ = blackhole; }

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
  std::atomic<int64_t> idle_limit_ms_{0};
  std::atomic<int> cut_idle_{0};
  std::atomic<bool> blackhole_{false};
  std::mutex mu_;
  std::set<int> open_fds_;          // GUARDED_BY(mu_)
  std::vector<std::thread> pumps_;  // GUARDED_BY(mu_)
  std::thread acceptor_;
};

}  // namespace vireo::testing
