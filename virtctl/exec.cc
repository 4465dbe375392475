// pods/exec over WebSocket; see exec.h.
#include "virtctl/exec.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "lib/kube/resource.h"

namespace vireo::virtctl {

using base::Code;
using base::Status;

std::string ExecPath(const ExecRequest& request) {
  std::vector<std::pair<std::string, std::string>> query;
  if (!request.container.empty()) query.emplace_back("container", request.container);
  for (const auto& arg : request.command) query.emplace_back("command", arg);
  query.emplace_back("stdin", "true");
  query.emplace_back("stdout", "true");
  query.emplace_back("stderr", request.tty ? "false" : "true");
  query.emplace_back("tty", request.tty ? "true" : "false");
  return "/api/v1/namespaces/" + request.namespace_name + "/pods/" + request.pod + "/exec?" +
         kube::EncodeQuery(query);
}

ExecSession::ExecSession() {
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

ExecSession::~ExecSession() {
  Close();
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

namespace {

ExecEvent Output(ExecEvent::Kind kind, std::string data) {
  ExecEvent event;
  event.kind = kind;
  event.data = std::move(data);
  return event;
}

ExecEvent Broken(std::string why) {
  ExecEvent event = Output(ExecEvent::kClosed, std::move(why));
  event.clean = false;
  return event;
}

// What one message of the stream means; nothing for empty output and for
// echoes of the channels only we send.
std::optional<ExecEvent> Decode(std::string_view message, Protocol protocol) {
  auto frame = DecodeFrame(message, protocol);
  if (!frame.ok()) return Broken(frame.status().message());
  switch (frame->channel) {
    case Channel::kStdout:
      if (frame->payload.empty()) return std::nullopt;
      return Output(ExecEvent::kStdout, std::move(frame->payload));
    case Channel::kStderr:
      if (frame->payload.empty()) return std::nullopt;
      return Output(ExecEvent::kStderr, std::move(frame->payload));
    case Channel::kError: {
      if (frame->payload.empty()) return std::nullopt;
      ExecEvent event;
      event.kind = ExecEvent::kExit;
      event.exit = ParseExitStatus(frame->payload);
      return event;
    }
    default:  // resize and close are ours to send
      return std::nullopt;
  }
}

}  // namespace

base::Result<std::unique_ptr<ExecSession>> ExecSession::Open(kube::Client& client,
                                                             const ExecRequest& request,
                                                             const ExecOptions& options) {
  std::unique_ptr<ExecSession> session(new ExecSession());
  if (session->wake_[0] < 0) return Status(Code::kInternal, "cannot make a pipe for the console");
  kube::WebSocketOptions ws_options;
  ws_options.subprotocols = {ProtocolName(Protocol::kV5), ProtocolName(Protocol::kV4)};
  ws_options.user_agent = options.user_agent;
  ws_options.keepalive = options.keepalive;
  ExecSession* self = session.get();
  kube::WebSocket::Handlers handlers;
  handlers.on_message = [self](std::string message) { self->Push(std::move(message)); };
  handlers.on_closed = [self](const Status& why) { self->Push(why); };

  const std::string path = ExecPath(request);
  const std::string url = client.config().server + path;
  auto start = std::chrono::steady_clock::now();
  auto ws = kube::WebSocket::Connect(client, path, ws_options, std::move(handlers));
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  if (!ws.ok()) {
    if (options.log_requests) {
      std::fprintf(stderr, "virtctl: upgrade %s failed after %lld ms: %s\n", url.c_str(), ms,
                   ws.status().message().c_str());
    }
    return ws.status();
  }
  const std::string& chosen = (*ws)->subprotocol();
  if (chosen == ProtocolName(Protocol::kV5)) {
    session->protocol_ = Protocol::kV5;
  } else if (chosen == ProtocolName(Protocol::kV4)) {
    session->protocol_ = Protocol::kV4;
  } else {
    return Status(Code::kInternal, "the server opened the exec stream " + url +
                                       " without a channel protocol (v5.channel.k8s.io or "
                                       "v4.channel.k8s.io); it is too old for virtctl");
  }
  if (options.log_requests) {
    std::fprintf(stderr, "virtctl: upgraded %s to %s in %lld ms\n", url.c_str(), chosen.c_str(),
                 ms);
  }
  session->ws_ = std::move(*ws);
  return session;
}

void ExecSession::Push(Incoming incoming) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(std::move(incoming));
  }
  char byte = 1;
  [[maybe_unused]] ssize_t n = write(wake_[1], &byte, 1);  // a full pipe already wakes
}

std::vector<ExecEvent> ExecSession::TakeEvents() {
  char drain[256];
  while (read(wake_[0], drain, sizeof(drain)) > 0) {
  }
  std::deque<Incoming> incoming;
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming.swap(incoming_);
  }
  // Decoded here, not on the WebSocket's thread: the first messages may come
  // before Open has learnt which protocol the server chose.
  std::vector<ExecEvent> out;
  for (Incoming& item : incoming) {
    if (auto* message = std::get_if<std::string>(&item)) {
      if (auto event = Decode(*message, protocol_)) out.push_back(std::move(*event));
    } else {
      const Status& why = std::get<Status>(item);
      ExecEvent event = Broken(why.message());
      event.clean = why.ok();
      out.push_back(std::move(event));
    }
  }
  return out;
}

Status ExecSession::SendStdin(std::string_view data) {
  if (!ws_) return Status(Code::kUnavailable, "the console connection is closed");
  Status s = ws_->Send(EncodeFrame(Channel::kStdin, data));
  return s.ok() ? s : Status(Code::kUnavailable, "sending to the console: " + s.message());
}

Status ExecSession::CloseStdin() {
  if (!ws_ || protocol_ != Protocol::kV5) return Status::Ok();
  return ws_->Send(EncodeClose(Channel::kStdin));
}

void ExecSession::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (ws_) ws_->Close();
}

}  // namespace vireo::virtctl
