// A client WebSocket to the apiserver (pods/exec), on Boost.Beast, trusted
// and authenticated exactly as the REST client's requests are: the cluster's
// CA, the certificate name checked against tls-server-name when the
// kubeconfig sets one (else the server URL's host) and sent as SNI, the
// client certificate, the bearer token or token file. cpprestsdk's own
// WebSocket client cannot check a name other than the URL host.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/kube/client.h"

namespace vireo::kube {

struct WebSocketOptions {
  // Offered together in one Sec-WebSocket-Protocol header, most wanted
  // first; the server picks one (WebSocket::subprotocol()).
  std::vector<std::string> subprotocols;
  std::string user_agent = "vireo";
  // Bounds the connect, the TLS handshake and the upgrade together.
  std::chrono::milliseconds connect_timeout{30000};
  // A ping every interval, whatever else is sent. When nothing (no pong, no
  // message) has come back one interval after a ping, the link is declared
  // dead and on_closed says so. 0: no pings.
  std::chrono::milliseconds keepalive{0};
};

// Thread-safe: Send and Close may be called from any thread; the handlers run
// on the connection's own thread, one at a time.
class WebSocket {
 public:
  struct Handlers {
    // Each data message (binary or text), in order.
    std::function<void(std::string message)> on_message;
    // Once, when the connection ends other than by Close(): an ok Status for
    // a normal close by the server (1000 or 1001), else why it ended.
    std::function<void(const base::Status& why)> on_closed;
  };

  // Connects to config().server + path_and_query over TLS (an http:// server
  // is refused, kInvalid) and upgrades. Errors: kUnavailable (unreachable, TLS refused, with what
  // the certificate check said and which name it checked), kTimeout, and for an upgrade the server
  // refused: kUnauthorized, kForbidden, kNotFound, kBadRequest or kUnavailable with the server's
  // status and message.
  static base::Result<std::unique_ptr<WebSocket>> Connect(Client& client,
                                                          const std::string& path_and_query,
                                                          const WebSocketOptions& options,
                                                          Handlers handlers);
  ~WebSocket();  // Close()
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // The subprotocol the server chose ("" when none was offered).
  const std::string& subprotocol() const { return subprotocol_; }

  // Sends one binary message; returns once it is written (or failed).
  base::Status Send(std::string_view bytes);
  // Sends a close frame, waits a moment for the server's, and ends the
  // connection (idempotent). on_closed is not called after Close().
  void Close();

  class Impl;

 private:
  WebSocket(std::unique_ptr<Impl> impl, std::string subprotocol);
  std::unique_ptr<Impl> impl_;
  std::string subprotocol_;
};

}  // namespace vireo::kube
