// pods/exec over WebSocket; see exec.h.
#include "virtctl/exec.h"

#include <cpprest/containerstream.h>
#include <cpprest/ws_client.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "lib/kube/transport.h"

namespace vireo::virtctl {

namespace ws = web::websockets::client;
using kube::Code;
using kube::Status;

std::string ExecPath(const ExecRequest& request) {
  std::vector<std::pair<std::string, std::string>> query;
  if (!request.container.empty()) query.emplace_back("container", request.container);
  for (const auto& arg : request.command) query.emplace_back("command", arg);
  query.emplace_back("stdin", "true");
  query.emplace_back("stdout", "true");
  query.emplace_back("stderr", request.tty ? "false" : "true");
  query.emplace_back("tty", request.tty ? "true" : "false");
  return "/api/v1/namespaces/" + request.namespace_name + "/pods/" + request.pod + "/exec?" +
         kube::internal::EncodeQuery(query);
}

struct ExecSession::Impl {
  std::unique_ptr<ws::websocket_callback_client> client;
};

ExecSession::ExecSession() : impl_(std::make_unique<Impl>()) {
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

ExecSession::~ExecSession() {
  Close();
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

namespace {

std::string WebSocketUrl(const std::string& server, const std::string& path) {
  std::string url = server + path;
  if (url.rfind("https://", 0) == 0) return "wss://" + url.substr(8);
  if (url.rfind("http://", 0) == 0) return "ws://" + url.substr(7);
  return url;
}

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

}  // namespace

kube::Result<std::unique_ptr<ExecSession>> ExecSession::Open(kube::Client& client,
                                                             const ExecRequest& request,
                                                             const ExecOptions& options) {
  const kube::ClusterConfig& config = client.config();
  std::function<void(SSL_CTX*)> tls_setup = client.TlsSetup();
  std::string url = WebSocketUrl(config.server, ExecPath(request));
  std::string token = client.BearerToken();

  std::unique_ptr<ExecSession> session(new ExecSession());
  if (session->wake_[0] < 0) return Status(Code::kInternal, "cannot make a pipe for the console");
  std::string last_error;
  for (Protocol protocol : {Protocol::kV5, Protocol::kV4}) {
    ws::websocket_client_config ws_config;
    ws_config.add_subprotocol(ProtocolName(protocol));
    ws_config.set_validate_certificates(!config.insecure_skip_tls_verify);
    ws_config.set_ssl_context_callback(
        [tls_setup](boost::asio::ssl::context& context) { tls_setup(context.native_handle()); });
    if (!config.tls_server_name.empty()) ws_config.set_server_name(config.tls_server_name);
    ws_config.headers().add("User-Agent", options.user_agent);
    if (!token.empty()) ws_config.headers().add("Authorization", "Bearer " + token);

    auto client = std::make_unique<ws::websocket_callback_client>(ws_config);
    ExecSession* self = session.get();
    client->set_message_handler([self, protocol](const ws::websocket_incoming_message& message) {
      if (message.message_type() == ws::websocket_message_type::pong ||
          message.message_type() == ws::websocket_message_type::ping) {
        return;
      }
      concurrency::streams::container_buffer<std::vector<uint8_t>> buffer;
      try {
        message.body().read_to_end(buffer).wait();
      } catch (const std::exception& e) {
        self->Push(Broken(std::string("reading a message: ") + e.what()));
        return;
      }
      const std::vector<uint8_t>& bytes = buffer.collection();
      auto frame = DecodeFrame(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), protocol);
      if (!frame.ok()) {
        self->Push(Broken(frame.status().message()));
        return;
      }
      switch (frame->channel) {
        case Channel::kStdout:
          if (!frame->payload.empty())
            self->Push(Output(ExecEvent::kStdout, std::move(frame->payload)));
          break;
        case Channel::kStderr:
          if (!frame->payload.empty())
            self->Push(Output(ExecEvent::kStderr, std::move(frame->payload)));
          break;
        case Channel::kError:
          if (!frame->payload.empty()) {
            ExecEvent event;
            event.kind = ExecEvent::kExit;
            event.exit = ParseExitStatus(frame->payload);
            self->Push(std::move(event));
          }
          break;
        default:  // resize and close are ours to send; ignore echoes
          break;
      }
    });
    client->set_close_handler([self](ws::websocket_close_status status, const std::string& reason,
                                     const std::error_code& error) {
      bool clean = !error && (status == ws::websocket_close_status::normal ||
                              status == ws::websocket_close_status::going_away);
      std::string why = reason;
      if (error) why = error.message();
      ExecEvent event = Broken(why);
      event.clean = clean;
      self->Push(std::move(event));
    });
    auto start = std::chrono::steady_clock::now();
    try {
      client->connect(url).wait();
    } catch (const std::exception& e) {
      last_error = e.what();
      if (options.log_requests) {
        std::fprintf(stderr, "virtctl: upgrade %s (%s) failed after %lld ms: %s\n", url.c_str(),
                     ProtocolName(protocol),
                     static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - start)
                                                .count()),
                     e.what());
      }
      continue;
    }
    if (options.log_requests) {
      std::fprintf(stderr, "virtctl: upgraded %s to %s\n", url.c_str(), ProtocolName(protocol));
    }
    session->protocol_ = protocol;
    session->impl_->client = std::move(client);
    if (options.keepalive.count() > 0) {
      session->keepalive_ = std::thread([self, k = options.keepalive] { self->KeepAlive(k); });
    }
    return session;
  }
  return Status(Code::kUnavailable, "cannot open the exec stream " + url + ": " + last_error);
}

void ExecSession::Push(ExecEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  char byte = 1;
  [[maybe_unused]] ssize_t n = write(wake_[1], &byte, 1);  // a full pipe already wakes
}

std::vector<ExecEvent> ExecSession::TakeEvents() {
  char drain[256];
  while (read(wake_[0], drain, sizeof(drain)) > 0) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ExecEvent> out(std::make_move_iterator(events_.begin()),
                             std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

namespace {

Status SendMessage(ws::websocket_callback_client* client, std::string bytes) {
  if (client == nullptr) return Status(Code::kUnavailable, "the console connection is closed");
  ws::websocket_outgoing_message message;
  size_t size = bytes.size();
  concurrency::streams::container_buffer<std::vector<uint8_t>> buffer(
      std::vector<uint8_t>(bytes.begin(), bytes.end()));
  message.set_binary_message(buffer.create_istream(), size);
  try {
    client->send(message).wait();
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, std::string("sending to the console: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

bool ExecSession::IsClosed() {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

Status ExecSession::SendStdin(std::string_view data) {
  if (IsClosed()) return Status(Code::kUnavailable, "the console connection is closed");
  std::lock_guard<std::mutex> lock(send_mu_);
  return SendMessage(impl_->client.get(), EncodeFrame(Channel::kStdin, data));
}

Status ExecSession::CloseStdin() {
  if (IsClosed() || protocol_ != Protocol::kV5) return Status::Ok();
  std::lock_guard<std::mutex> lock(send_mu_);
  return SendMessage(impl_->client.get(), EncodeClose(Channel::kStdin));
}

void ExecSession::KeepAlive(std::chrono::seconds interval) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_cv_.wait_for(lock, interval, [this] { return closed_; })) return;
    }
    std::lock_guard<std::mutex> lock(send_mu_);
    ws::websocket_outgoing_message ping;
    ping.set_ping_message("virtctl");
    try {
      impl_->client->send(ping).wait();
    } catch (const std::exception&) {
      // The close handler reports a dead link.
    }
  }
}

void ExecSession::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  stop_cv_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  if (impl_->client) {
    try {
      impl_->client->close().wait();
    } catch (const std::exception&) {
    }
  }
}

}  // namespace vireo::virtctl
