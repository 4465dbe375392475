// A TLS WebSocket server on a loopback port for tests of WebSocket clients
// (lib/kube/websocket_test.cc, and the kubelet that T1's virtctl test plays):
// certificates made on the spot for the names a test wants, the upgrade
// recorded, each message answered by a function of the test's, and a switch
// that makes the server go silent (it stops reading, so pings go unanswered).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vireo::kube::testing {

// A certificate authority and certificates it signed (PEM), made in memory.
struct TestPki {
  std::string ca_pem;
  std::string server_cert_pem, server_key_pem;  // serverAuth, for `server_names`
  std::string client_cert_pem, client_key_pem;  // clientAuth, CN=vireo-test-user
};
// Names that parse as IP addresses become IP SANs, the rest DNS SANs.
TestPki MakeTestPki(const std::vector<std::string>& server_names);

struct UpgradeRequest {
  std::string target;          // path and query
  std::string sni;             // the TLS server name the client sent ("" if none)
  std::string authorization;   // the Authorization header
  std::string protocols;       // Sec-WebSocket-Protocol as offered
  std::string client_subject;  // the verified client certificate's CN ("" if none)
};

struct TestWebSocketServerOptions {
  std::string cert_pem, key_pem;
  // When set, a client certificate signed by this CA is required.
  std::string client_ca_pem;
  // Accepted subprotocols, the server's preference first.
  std::vector<std::string> subprotocols;
  // When not 0, every upgrade is refused with this HTTP status.
  int refuse_status = 0;
  // After answering the first message, close the WebSocket normally (1000).
  bool close_after_reply = false;
};

class TestWebSocketServer {
 public:
  // Each message received is answered with the messages `reply` returns
  // (binary). The default echoes it.
  using Reply = std::function<std::vector<std::string>(const std::string& message)>;
  explicit TestWebSocketServer(TestWebSocketServerOptions options, Reply reply = {});
  ~TestWebSocketServer();
  TestWebSocketServer(const TestWebSocketServer&) = delete;
  TestWebSocketServer& operator=(const TestWebSocketServer&) = delete;

  int port() const { return port_; }
  std::vector<UpgradeRequest> upgrades() const;
  // Upgrades accepted (the WebSocket open), so far.
  int accepted() const { return accepted_; }
  // While silent, connections are not read: no message is answered, and no
  // ping gets its pong. A connection already waiting for a message goes
  // silent once it has answered that one.
  void SetSilent(bool silent) { silent_ = silent; }

 private:
  void AcceptLoop();
  void Serve(int fd);

  const TestWebSocketServerOptions options_;
  Reply reply_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> silent_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<UpgradeRequest> upgrades_;  // GUARDED_BY(mu_)
  std::vector<int> open_fds_;             // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;      // GUARDED_BY(mu_)
};

}  // namespace vireo::kube::testing
