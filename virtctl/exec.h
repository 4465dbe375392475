// A pods/exec session over WebSocket (cpprestsdk): the remote-command
// channel protocol of channel.h, v5.channel.k8s.io first, v4.channel.k8s.io
// when the server does not take v5. Incoming messages become events on a
// queue with a file descriptor to poll, so one thread can wait for the
// keyboard and the pod together. A WebSocket ping every keepalive interval
// keeps idle links open through proxies and load balancers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/kube/client.h"
#include "lib/kube/status.h"
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
  std::chrono::seconds keepalive{30};  // 0: no pings
  std::string user_agent = "virtctl";
  bool log_requests = false;
};

class ExecSession {
 public:
  // Connects and upgrades. kUnavailable with the transport's words when the
  // upgrade fails under both protocols.
  // Authenticates as `client` does (server, TLS, token).
  static kube::Result<std::unique_ptr<ExecSession>> Open(kube::Client& client,
                                                         const ExecRequest& request,
                                                         const ExecOptions& options = {});
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  Protocol protocol() const { return protocol_; }

  // Readable when events are queued.
  int event_fd() const { return wake_[0]; }
  std::vector<ExecEvent> TakeEvents();

  kube::Status SendStdin(std::string_view data);
  // v5: tells the remote command its stdin ended. v4: nothing to send.
  kube::Status CloseStdin();
  // Closes the connection (idempotent).
  void Close();

 private:
  struct Impl;
  ExecSession();
  void Push(ExecEvent event);
  void KeepAlive(std::chrono::seconds interval);
  bool IsClosed();

  std::unique_ptr<Impl> impl_;
  Protocol protocol_ = Protocol::kV5;
  int wake_[2] = {-1, -1};
  std::mutex send_mu_;  // one message on the wire at a time; never held with mu_
  std::mutex mu_;       // events_, closed_; taken on cpprestsdk's threads
  std::deque<ExecEvent> events_;
  bool closed_ = false;
  std::condition_variable stop_cv_;
  std::thread keepalive_;
};

}  // namespace vireo::virtctl
