// A pods/exec session over WebSocket (lib/kube/websocket.h, which checks the
// certificate as the REST client does, tls-server-name included): the
// remote-command channel protocol of channel.h, v5.channel.k8s.io or
// v4.channel.k8s.io as the server picks. Incoming messages become events on
// a queue with a file descriptor to poll, so one thread can wait for the
// keyboard and the pod together. A WebSocket ping every keepalive interval
// keeps idle links open through proxies and load balancers, and a ping left
// unanswered ends the session with an event that says so.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "lib/kube/websocket.h"
#include "virtctl/channel.h"

namespace vireo::virtctl {

struct ExecRequest {
  std::string namespace_name;
  std::string pod;
  std::string container;
  std::vector<std::string> command;
  bool tty = false;
};

// "/api/v1/namespaces/NS/pods/POD/exec?container=C&command=a&command=b&stdin=true&..."
std::string ExecPath(const ExecRequest& request);

struct ExecEvent {
  enum Kind { kStdout, kStderr, kExit, kClosed } kind = kStdout;
  std::string data;   // output bytes; kClosed: why, when not a clean close
  ExitStatus exit;    // kExit
  bool clean = true;  // kClosed: a normal close by the server
};

struct ExecOptions {
  // A ping every interval; one unanswered for an interval ends the session
  // (kClosed, not clean, "keepalive failed: ..."). 0: no pings.
  std::chrono::milliseconds keepalive{30000};
  std::string user_agent = "virtctl";
  bool log_requests = false;
};

class ExecSession {
 public:
  // Connects and upgrades, offering v5 and v4 at once. The WebSocket's
  // errors as they are (kUnavailable, kForbidden, ...), with the URL.
  // Authenticates as `client` does (server, TLS, token).
  static base::Result<std::unique_ptr<ExecSession>> Open(kube::Client& client,
                                                         const ExecRequest& request,
                                                         const ExecOptions& options = {});
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  Protocol protocol() const { return protocol_; }

  // Readable when events are queued.
  int event_fd() const { return wake_[0]; }
  std::vector<ExecEvent> TakeEvents();

  base::Status SendStdin(std::string_view data);
  // v5: tells the remote command its stdin ended. v4: nothing to send.
  base::Status CloseStdin();
  // Closes the connection (idempotent).
  void Close();

 private:
  ExecSession();
  // From the WebSocket's thread: a message, or how the connection ended.
  using Incoming = std::variant<std::string, base::Status>;
  void Push(Incoming incoming);

  std::unique_ptr<kube::WebSocket> ws_;
  Protocol protocol_ = Protocol::kV5;
  int wake_[2] = {-1, -1};
  std::mutex mu_;  // incoming_, closed_
  std::deque<Incoming> incoming_;
  bool closed_ = false;
};

}  // namespace vireo::virtctl
