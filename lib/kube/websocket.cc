// WebSocket on Boost.Beast: the connection is made on the caller's thread,
// then one thread of its own runs every read, write, ping and timer, so the
// Beast stream is only ever touched from one thread.
#include "lib/kube/websocket.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
// GCC's -Wmaybe-uninitialized misfires in Beast's HTTP parser (a
// boost::optional in basic_parser.hpp) when built with the sanitizers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "lib/base/json.h"

namespace vireo::kube {

using base::Code;
using base::GetString;
using base::ParseJson;
using base::Result;
using base::Status;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct ServerUrl {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string base_path;  // a path prefix of the server URL, without trailing '/'
  std::string HostHeader() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + port;
  }
};

Result<ServerUrl> ParseServer(const std::string& server) {
  ServerUrl url;
  std::string rest;
  if (server.rfind("https://", 0) == 0) {
    rest = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    url.tls = false;
    rest = server.substr(7);
  } else {
    return Status(Code::kInvalid,
                  "cluster server \"" + server + "\" is not an http(s) URL; check the kubeconfig");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) url.base_path = rest.substr(slash);
  while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      return Status(Code::kInvalid, "cluster server \"" + server + "\": unclosed '['");
    }
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) {
    return Status(Code::kInvalid, "cluster server \"" + server + "\" names no host");
  }
  url.port = port.empty() ? (url.tls ? "443" : "80") : port;
  return url;
}

bool IsIpAddress(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

// Runs the io_context on this thread until the operation `start` begins has
// completed (the connect deadline's timer stays pending meanwhile).
template <class Start>
beast::error_code Await(net::io_context& ioc, Start start) {
  beast::error_code result = net::error::would_block;
  bool done = false;
  start([&result, &done](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  while (!done && ioc.run_one() > 0) {
  }
  return result;
}

// What a refused upgrade means: the HTTP status and the server's own words
// (a metav1.Status body from the apiserver, else the first line of the body).
Status RefusedUpgrade(const std::string& url, const websocket::response_type& response) {
  int status = static_cast<int>(response.result_int());
  std::string message;
  if (auto body = ParseJson(response.body()); body.ok()) message = GetString(*body, "message");
  if (message.empty()) message = response.body().substr(0, response.body().find('\n'));
  if (message.size() > 500) message = message.substr(0, 500) + "...";
  std::string text = "the server refused the WebSocket upgrade of " + url + ": HTTP " +
                     std::to_string(status) + " " + std::string(response.reason()) +
                     (message.empty() ? "" : " (" + message + ")");
  switch (status) {
    case 400:
      return Status(Code::kBadRequest, text);
    case 401:
      return Status(Code::kUnauthorized, text);
    case 403:
      return Status(Code::kForbidden, text);
    case 404:
      return Status(Code::kNotFound, text);
    default:
      return Status(Code::kUnavailable, text);
  }
}

}  // namespace

class WebSocket::Impl {
 public:
  virtual ~Impl() = default;
  virtual Status Send(std::string_view bytes) = 0;
  virtual void Close() = 0;
};

namespace {

// TLS only: a plain ws:// variant would double the cost of compiling Beast's
// templates (minutes under the sanitizers) for servers no cluster runs.
class Connection final : public WebSocket::Impl {
  // Asio's own TLS stream on a plain socket, and no permessage-deflate: each
  // of Beast's layers (beast::tcp_stream's timers, deflate) costs much
  // compile time and memory, under the sanitizers most. The deadline of the
  // connect is a timer of ours.
  using Next = ssl::stream<tcp::socket>;

 public:
  Connection(const WebSocketOptions& options, WebSocket::Handlers handlers)
      : options_(options),
        handlers_(std::move(handlers)),
        ssl_context_(ssl::context::tls_client),
        resolver_(ioc_),
        deadline_timer_(ioc_),
        keepalive_timer_(ioc_),
        close_timer_(ioc_) {}

  ~Connection() override { Close(); }

  // Everything up to a completed upgrade, on the caller's thread.
  Result<std::string> Open(Client& client, const ServerUrl& url,
                           const std::string& path_and_query) {
    const ClusterConfig& config = client.config();
    const std::string target = url.base_path + path_and_query;
    const std::string where = config.server + path_and_query;
    const auto deadline = Clock::now() + options_.connect_timeout;
    // The name the server's certificate must carry, and the SNI sent.
    const bool named = !config.tls_server_name.empty();
    const std::string tls_name = named ? config.tls_server_name : url.host;

    if (config.insecure_skip_tls_verify) {
      ssl_context_.set_verify_mode(ssl::verify_none);  // only when the kubeconfig says so
    } else {
      ssl_context_.set_default_verify_paths();  // replaced by the kubeconfig's CA when it has one
      ssl_context_.set_verify_mode(ssl::verify_peer);
    }
    client.TlsSetup()(ssl_context_.native_handle());  // CA and client certificate
    ws_.emplace(ioc_, ssl_context_);
    SSL* handle = ws_->next_layer().native_handle();
    if (IsIpAddress(tls_name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), tls_name.c_str());
    } else {
      SSL_set_tlsext_host_name(handle, tls_name.c_str());  // SNI carries names only
      SSL_set1_host(handle, tls_name.c_str());
    }
    tcp::socket& socket = ws_->next_layer().next_layer();

    // One deadline for resolve, connect, TLS and upgrade: at it, whatever is
    // under way is cancelled.
    deadline_timer_.expires_at(deadline);
    deadline_timer_.async_wait([this, &socket](beast::error_code ec) {
      if (ec) return;
      timed_out_ = true;
      resolver_.cancel();
      beast::error_code ignored;
      socket.close(ignored);
    });
    tcp::resolver::results_type endpoints;
    beast::error_code ec = Await(ioc_, [&](auto handler) {
      resolver_.async_resolve(url.host, url.port,
                              [&, handler](beast::error_code e, tcp::resolver::results_type r) {
                                endpoints = std::move(r);
                                handler(e);
                              });
    });
    if (ec) {
      if (timed_out_) {
        return Status(Code::kTimeout, "cannot resolve " + url.host + " (" + where +
                                          "): no answer within " +
                                          DurationText(options_.connect_timeout));
      }
      return Status(Code::kUnavailable,
                    "cannot resolve " + url.host + " (" + where + "): " + ec.message());
    }

    ec = Await(ioc_, [&](auto handler) {
      net::async_connect(socket, endpoints,
                         [handler](beast::error_code e, const tcp::endpoint&) { handler(e); });
    });
    if (ec) return TransportFailure("cannot connect to " + url.HostHeader(), where, ec);

    ec = Await(ioc_, [&](auto handler) {
      ws_->next_layer().async_handshake(ssl::stream_base::client, handler);
    });
    if (ec) {
      long verify = SSL_get_verify_result(handle);
      std::string why = ec.message();
      if (verify != X509_V_OK) {
        why = std::string("the server's certificate was refused: ") +
              X509_verify_cert_error_string(verify) + " (the name checked is \"" + tls_name +
              "\", " +
              (named ? "the kubeconfig's tls-server-name"
                     : "the server URL's host; a kubeconfig names another with tls-server-name") +
              ")";
      }
      if (timed_out_) return TransportFailure("TLS with " + url.HostHeader(), where, ec);
      return Status(Code::kUnavailable,
                    "TLS with " + url.HostHeader() + " (" + where + ") failed: " + why);
    }

    std::string offered;
    for (const std::string& p : options_.subprotocols) {
      offered += (offered.empty() ? "" : ", ") + p;
    }
    ws_->set_option(websocket::stream_base::decorator(
        [offered, token = client.BearerToken(),
         agent = options_.user_agent](websocket::request_type& request) {
          request.set(http::field::user_agent, agent);
          if (!offered.empty()) request.set(http::field::sec_websocket_protocol, offered);
          if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
        }));
    websocket::response_type response;
    ec = Await(ioc_, [&](auto handler) {
      ws_->async_handshake(response, url.HostHeader(), target, handler);
    });
    if (ec == websocket::error::upgrade_declined ||
        (ec && response.result_int() != 0 &&
         response.result() != http::status::switching_protocols)) {
      return RefusedUpgrade(where, response);
    }
    if (ec) return TransportFailure("the WebSocket upgrade of " + where, where, ec);

    std::string chosen(response[http::field::sec_websocket_protocol]);
    if (!chosen.empty() && std::find(options_.subprotocols.begin(), options_.subprotocols.end(),
                                     chosen) == options_.subprotocols.end()) {
      return Status(Code::kInternal, "the server chose the WebSocket subprotocol \"" + chosen +
                                         "\" for " + where + ", which was not offered");
    }

    // From here on, the keepalive decides when a silent link is dead.
    deadline_timer_.cancel();
    ws_->binary(true);
    // One frame per message: Beast would otherwise split a message into
    // continuation frames of 4 KiB, and the kubelet's stream reader
    // (golang.org/x/net/websocket) takes every frame for a message of its
    // own, so the pieces after the first lose their channel byte.
    ws_->auto_fragment(false);
    ws_->control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) last_heard_ = Clock::now();
    });
    last_heard_ = Clock::now();
    ioc_.restart();
    work_.emplace(net::make_work_guard(ioc_));
    ReadNext();
    if (options_.keepalive.count() > 0) ArmKeepalive();
    thread_ = std::thread([this] { ioc_.run(); });
    return chosen;
  }

  Status Send(std::string_view bytes) override {
    auto done = std::make_shared<std::promise<Status>>();
    std::future<Status> result = done->get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || !thread_.joinable()) {
        return Status(Code::kUnavailable, "the WebSocket connection is closed");
      }
      net::post(ioc_, [this, data = std::string(bytes), done]() mutable {
        if (finished_) {
          done->set_value(Status(Code::kUnavailable,
                                 "the WebSocket connection is closed (" + ended_.message() + ")"));
          return;
        }
        outbox_.push_back(Outgoing{false, std::move(data), std::move(done)});
        if (!writing_) WriteNext();
      });
    }
    return result.get();
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      if (!thread_.joinable()) return;
      net::post(ioc_, [this] {
        user_closed_ = true;
        if (finished_) return;
        // A server that never answers the close frame gets two seconds.
        close_timer_.expires_after(std::chrono::seconds(2));
        close_timer_.async_wait([this](beast::error_code ec) {
          if (!ec) Finish(Status::Ok());
        });
        ws_->async_close(websocket::close_code::normal,
                         [this](beast::error_code) { Finish(Status::Ok()); });
      });
      work_.reset();
    }
    thread_.join();
  }

 private:
  struct Outgoing {
    bool ping = false;
    std::string data;
    std::shared_ptr<std::promise<Status>> done;  // null for pings
  };

  Status TransportFailure(const std::string& what, const std::string& where,
                          const beast::error_code& ec) {
    if (timed_out_) {
      return Status(Code::kTimeout, what + " (" + where + "): no answer within " +
                                        DurationText(options_.connect_timeout));
    }
    return Status(Code::kUnavailable, what + " (" + where + ") failed: " + ec.message());
  }

  void ReadNext() {
    ws_->async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (finished_) return;
      if (ec) {
        if (ec == websocket::error::closed) {
          const websocket::close_reason& reason = ws_->reason();
          if (reason.code == websocket::close_code::normal ||
              reason.code == websocket::close_code::going_away) {
            Finish(Status::Ok());
          } else {
            Finish(Status(Code::kUnavailable,
                          "the server closed the WebSocket (code " +
                              std::to_string(static_cast<int>(reason.code)) +
                              (reason.reason.empty() ? ""
                                                     : ": " + std::string(reason.reason.data(),
                                                                          reason.reason.size())) +
                              ")"));
          }
        } else {
          Finish(Status(Code::kUnavailable, "the WebSocket connection broke: " + ec.message()));
        }
        return;
      }
      last_heard_ = Clock::now();
      std::string message = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      if (handlers_.on_message) handlers_.on_message(std::move(message));
      ReadNext();
    });
  }

  // A ping every interval; a ping still unanswered (nothing heard since it
  // went) at the next tick means the link is dead.
  void ArmKeepalive() {
    keepalive_timer_.expires_after(options_.keepalive);
    keepalive_timer_.async_wait([this](beast::error_code ec) {
      if (ec || finished_) return;
      if (ping_sent_ && last_heard_ < *ping_sent_) {
        Finish(Status(Code::kUnavailable,
                      "keepalive failed: no answer to a WebSocket ping within " +
                          DurationText(options_.keepalive) +
                          "; the link is dead (a proxy or the network between may have dropped "
                          "it)"));
        return;
      }
      ping_sent_ = Clock::now();
      outbox_.push_back(Outgoing{true, {}, nullptr});
      if (!writing_) WriteNext();
      ArmKeepalive();
    });
  }

  void WriteNext() {
    if (outbox_.empty() || finished_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    Outgoing& next = outbox_.front();
    auto done = [this](beast::error_code ec, size_t = 0) {
      Outgoing sent = std::move(outbox_.front());
      outbox_.pop_front();
      Status status =
          ec ? Status(Code::kUnavailable, "sending on the WebSocket failed: " + ec.message())
             : Status::Ok();
      if (sent.done) sent.done->set_value(finished_ ? Closed() : status);
      if (ec && !finished_) Finish(status);
      WriteNext();
    };
    if (next.ping) {
      ws_->async_ping({}, [done](beast::error_code ec) mutable { done(ec); });
    } else {
      ws_->async_write(net::buffer(next.data), done);
    }
  }

  Status Closed() const {
    return Status(Code::kUnavailable,
                  "the WebSocket connection is closed" +
                      (ended_.ok() ? std::string() : " (" + ended_.message() + ")"));
  }

  // Ends the connection once, for `why`; reports it unless Close() asked.
  void Finish(const Status& why) {
    if (finished_) return;
    finished_ = true;
    ended_ = why;
    keepalive_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ignored;
    tcp::socket& socket = ws_->next_layer().next_layer();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    // Pending sends learn it now; the one being written learns it when its
    // write completes.
    for (size_t i = writing_ ? 1 : 0; i < outbox_.size(); ++i) {
      if (outbox_[i].done) outbox_[i].done->set_value(Closed());
    }
    if (outbox_.size() > (writing_ ? 1u : 0u)) {
      outbox_.erase(outbox_.begin() + (writing_ ? 1 : 0), outbox_.end());
    }
    if (!user_closed_ && handlers_.on_closed) handlers_.on_closed(why);
  }

  const WebSocketOptions options_;
  const WebSocket::Handlers handlers_;
  net::io_context ioc_;  // before everything that uses it
  ssl::context ssl_context_;
  std::optional<websocket::stream<Next, false>> ws_;
  tcp::resolver resolver_;
  net::steady_timer deadline_timer_;
  bool timed_out_ = false;  // the connect's deadline passed
  beast::flat_buffer buffer_;
  net::steady_timer keepalive_timer_;
  net::steady_timer close_timer_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::thread thread_;

  std::mutex mu_;
  bool closed_ = false;  // GUARDED_BY(mu_): Close() was called

  // Only on the connection's thread:
  bool finished_ = false;
  bool user_closed_ = false;
  Status ended_;
  bool writing_ = false;
  std::deque<Outgoing> outbox_;  // the front is being written while writing_
  Clock::time_point last_heard_;
  std::optional<Clock::time_point> ping_sent_;
};

}  // namespace

WebSocket::WebSocket(std::unique_ptr<Impl> impl, std::string subprotocol)
    : impl_(std::move(impl)), subprotocol_(std::move(subprotocol)) {}

WebSocket::~WebSocket() { Close(); }

Result<std::unique_ptr<WebSocket>> WebSocket::Connect(Client& client,
                                                      const std::string& path_and_query,
                                                      const WebSocketOptions& options,
                                                      Handlers handlers) {
  Result<ServerUrl> url = ParseServer(client.config().server);
  if (!url.ok()) return url.status();
  if (!url->tls) {
    return Status(Code::kInvalid, "cluster server \"" + client.config().server +
                                      "\": a WebSocket (pods/exec) needs an https:// server");
  }
  auto connection = std::make_unique<Connection>(options, std::move(handlers));
  Result<std::string> chosen = connection->Open(client, *url, path_and_query);
  if (!chosen.ok()) return chosen.status();
  return std::unique_ptr<WebSocket>(new WebSocket(std::move(connection), *chosen));
}

Status WebSocket::Send(std::string_view bytes) { return impl_->Send(bytes); }

void WebSocket::Close() {
  if (impl_) impl_->Close();
}

}  // namespace vireo::kube
