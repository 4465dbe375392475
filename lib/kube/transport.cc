// cpprestsdk set up for one cluster: TLS through the SSL context callback,
// bearer tokens that follow a rotating token file, and a boundary where every
// exception of the HTTP stack becomes a Status.
#include "lib/kube/transport.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <system_error>
#include <thread>

#include "lib/base/file_util.h"

namespace vireo::kube::internal {

using base::Code;
using base::ReadFile;
using base::Result;
using base::Status;
using base::TrimSpace;

namespace {

using web::http::client::http_client;
using web::http::client::http_client_config;

// Projected service-account tokens rotate; kubelet refreshes the file well
// before expiry, so a minute of staleness is harmless.
constexpr auto kTokenRefresh = std::chrono::minutes(1);

// A token goes into a header line: anything but visible ASCII would corrupt
// the request (a token file holding the wrong file, say).
bool IsValidToken(std::string_view token) {
  return !token.empty() &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// The apiserver asks for a retry (429, or a 5xx with Retry-After) when it
// did not process a request, e.g. while its storage initializes after a
// restart. kubectl waits and retries then; so do we, a few times.
constexpr int kMaxRetries = 5;
constexpr int kMaxRetryAfterSeconds = 10;

std::optional<std::chrono::seconds> RetryAfter(const web::http::http_response& response) {
  int code = response.status_code();
  if (code != 429 && code < 500) return std::nullopt;
  auto header = response.headers().find("Retry-After");
  if (header == response.headers().end()) return std::nullopt;
  // Seconds; an HTTP date (never sent by the apiserver) counts as one.
  int seconds = std::atoi(header->second.c_str());
  return std::chrono::seconds(std::clamp(seconds, 1, kMaxRetryAfterSeconds));
}

}  // namespace

Result<std::shared_ptr<Transport>> Transport::Create(const ClusterConfig& config,
                                                     const ClientOptions& options) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Status(Code::kInvalid, "cluster server \"" + config.server +
                                      "\" is not an http(s) URL; check the kubeconfig");
  }
  Result<std::shared_ptr<const TlsMaterial>> tls = TlsMaterial::Parse(config);
  if (!tls.ok()) return tls.status();
  std::shared_ptr<Transport> transport(new Transport(config, options, *tls));
  try {
    transport->client_ = std::make_unique<http_client>(
        web::uri(config.server),
        transport->HttpConfig(std::chrono::seconds(std::max(1, options.request_timeout_seconds))));
  } catch (const std::exception& e) {
    return Status(Code::kInvalid, "cluster server \"" + config.server + "\": " + e.what());
  }
  if (transport->token_.empty() && !config.token_file.empty()) {
    Result<std::string> token = ReadFile(config.token_file);
    if (!token.ok()) {
      return Status(Code::kUnauthorized, "cannot read the token file " + config.token_file + " (" +
                                             token.status().message() + ")");
    }
    transport->token_ = TrimSpace(*token);
    if (!IsValidToken(transport->token_)) {
      return Status(Code::kUnauthorized, "the token file " + config.token_file +
                                             " does not hold a bearer token (empty, or "
                                             "characters other than visible ASCII)");
    }
  } else if (!transport->token_.empty() && !IsValidToken(transport->token_)) {
    return Status(Code::kUnauthorized, "the bearer token of context \"" + config.context_name +
                                           "\" holds characters other than visible ASCII");
  }
  return transport;
}

Transport::Transport(const ClusterConfig& config, const ClientOptions& options,
                     std::shared_ptr<const TlsMaterial> tls)
    : config_(config),
      options_(options),
      tls_(std::move(tls)),
      token_(config.bearer_token),
      token_read_at_(std::chrono::steady_clock::now()) {}

http_client_config Transport::HttpConfig(std::chrono::seconds timeout) const {
  http_client_config http;
  http.set_timeout(timeout);
  http.set_validate_certificates(!config_.insecure_skip_tls_verify);
  std::shared_ptr<const TlsMaterial> tls = tls_;
  http.set_ssl_context_callback(
      [tls](boost::asio::ssl::context& context) { tls->ApplyTo(context.native_handle()); });
  return http;
}

std::string Transport::Token() {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (!config_.token_file.empty() &&
      std::chrono::steady_clock::now() - token_read_at_ >= kTokenRefresh) {
    token_read_at_ = std::chrono::steady_clock::now();
    // A failed or empty read keeps the last good token: the file is being
    // replaced, and the old token is still valid for a while.
    Result<std::string> fresh = ReadFile(config_.token_file);
    if (fresh.ok() && IsValidToken(TrimSpace(*fresh))) token_ = TrimSpace(*fresh);
  }
  return token_;
}

web::http::http_request Transport::NewRequest(std::string_view method,
                                              const std::string& path_and_query) {
  web::http::http_request request{web::http::method(method)};
  request.set_request_uri(web::uri(path_and_query));
  request.headers().add("Accept", "application/json");
  request.headers().add("User-Agent", options_.user_agent);
  // cpprestsdk takes the TLS name (SNI and certificate check) from the Host
  // header when there is one.
  if (!config_.tls_server_name.empty()) request.headers().add("Host", config_.tls_server_name);
  std::string token = Token();
  if (!token.empty()) request.headers().add("Authorization", "Bearer " + token);
  return request;
}

Status Transport::TransportError(std::string_view method, const std::string& url,
                                 std::exception_ptr error) {
  std::string what = std::string(method) + " " + url + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const web::http::http_exception& e) {
    int code = e.error_code().value();
    if (code == static_cast<int>(std::errc::timed_out)) {
      return Status(Code::kTimeout, what + "no reply from the apiserver in time (timed out)");
    }
    if (code == static_cast<int>(std::errc::operation_canceled)) {
      return Status(Code::kCancelled, what + "cancelled");
    }
    std::string message = e.what();
    std::string hint;
    if (message.find("SSL") != std::string::npos ||
        message.find("handshake") != std::string::npos) {
      hint =
          "; the TLS handshake failed: check the cluster's certificate authority, "
          "tls-server-name and the client certificate";
    } else {
      hint = "; is the apiserver running and the server address right?";
    }
    return Status(Code::kUnavailable, what + "cannot reach the apiserver: " + message + hint);
  } catch (const pplx::task_canceled&) {
    return Status(Code::kCancelled, what + "cancelled");
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, what + "request failed: " + e.what());
  } catch (...) {
    return Status(Code::kUnavailable, what + "request failed with an unknown error");
  }
}

void Transport::LogRequest(std::string_view method, const std::string& url, int http_status,
                           std::chrono::steady_clock::time_point start) const {
  if (!options_.log_requests) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start);
  std::string line = std::string(method) + " " + url + " " +
                     (http_status > 0 ? std::to_string(http_status) : std::string("failed")) +
                     " in " + std::to_string(ms.count()) + " ms\n";
  // One write per line keeps lines of concurrent requests apart.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

Result<HttpReply> Transport::Send(std::string_view method, const std::string& path_and_query,
                                  const std::string* body, std::string_view content_type,
                                  const Deadline& deadline) {
  for (int attempt = 0;; ++attempt) {
    Result<HttpReply> reply =
        deadline ? SendOnceBy(method, path_and_query, body, content_type, *deadline)
                 : SendOnce(method, path_and_query, body, content_type);
    if (!reply.ok() || !reply->retry_after || attempt == kMaxRetries) return reply;
    // The server's answer stands when its wait would outlast the deadline.
    if (deadline && std::chrono::steady_clock::now() + *reply->retry_after >= *deadline) {
      return reply;
    }
    std::this_thread::sleep_for(*reply->retry_after);
  }
}

Result<HttpReply> Transport::SendOnceBy(std::string_view method, const std::string& path_and_query,
                                        const std::string* body, std::string_view content_type,
                                        std::chrono::steady_clock::time_point deadline) {
  std::string url = Url(path_and_query);
  auto start = std::chrono::steady_clock::now();
  auto timeout = [&] {
    LogRequest(method, url, 0, start);
    return Status(Code::kTimeout, std::string(method) + " " + url +
                                      ": no complete reply from the apiserver before the "
                                      "call's deadline");
  };
  if (start >= deadline) return timeout();
  // The reply is awaited here with the deadline and finished in the
  // background, which holds what it needs: a cancelled request may complete
  // after this call returned.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::optional<HttpReply> reply;
    std::exception_ptr error;
  };
  auto pending = std::make_shared<Pending>();
  pplx::cancellation_token_source cancel;
  try {
    web::http::http_request request = NewRequest(method, path_and_query);
    if (body != nullptr) request.set_body(*body, std::string(content_type));
    client_->request(request, cancel.get_token())
        .then([](web::http::http_response response) {
          return response.extract_utf8string(true).then([response](std::string text) {
            HttpReply reply;
            reply.status = response.status_code();
            reply.retry_after = RetryAfter(response);
            reply.body = std::move(text);
            return reply;
          });
        })
        .then([pending](pplx::task<HttpReply> finished) {
          std::lock_guard<std::mutex> lock(pending->mu);
          try {
            pending->reply = finished.get();
          } catch (...) {
            pending->error = std::current_exception();
          }
          pending->done = true;
          pending->cv.notify_all();
        });
  } catch (...) {
    LogRequest(method, url, 0, start);
    return TransportError(method, url, std::current_exception());
  }
  std::unique_lock<std::mutex> lock(pending->mu);
  if (!pending->cv.wait_until(lock, deadline, [&] { return pending->done; })) {
    lock.unlock();
    cancel.cancel();  // closes the connection: nothing more is sent or awaited
    return timeout();
  }
  if (pending->error) {
    LogRequest(method, url, 0, start);
    return TransportError(method, url, pending->error);
  }
  LogRequest(method, url, pending->reply->status, start);
  return std::move(*pending->reply);
}

Result<HttpReply> Transport::SendOnce(std::string_view method, const std::string& path_and_query,
                                      const std::string* body, std::string_view content_type) {
  std::string url = Url(path_and_query);
  auto start = std::chrono::steady_clock::now();
  try {
    web::http::http_request request = NewRequest(method, path_and_query);
    if (body != nullptr) request.set_body(*body, std::string(content_type));
    web::http::http_response response = client_->request(request).get();
    HttpReply reply;
    reply.status = response.status_code();
    reply.retry_after = RetryAfter(response);
    reply.body = response.extract_utf8string(true).get();
    LogRequest(method, url, reply.status, start);
    return reply;
  } catch (...) {
    LogRequest(method, url, 0, start);
    return TransportError(method, url, std::current_exception());
  }
}

Result<Transport::Stream> Transport::Open(const std::string& path_and_query,
                                          const pplx::cancellation_token& cancel,
                                          std::chrono::seconds idle_timeout) {
  for (int attempt = 0;; ++attempt) {
    Result<Stream> stream = OpenOnce(path_and_query, cancel, idle_timeout);
    if (!stream.ok() || attempt == kMaxRetries || cancel.is_canceled()) return stream;
    std::optional<std::chrono::seconds> wait = RetryAfter(stream->response);
    if (!wait) return stream;
    std::this_thread::sleep_for(*wait);
  }
}

Result<Transport::Stream> Transport::OpenOnce(const std::string& path_and_query,
                                              const pplx::cancellation_token& cancel,
                                              std::chrono::seconds idle_timeout) {
  std::string url = Url(path_and_query);
  auto start = std::chrono::steady_clock::now();
  Stream stream;
  try {
    // A client of its own: its timeout is the stream's idle timeout, not the
    // request timeout of the shared one.
    stream.client =
        std::make_shared<http_client>(web::uri(config_.server), HttpConfig(idle_timeout));
    pplx::task<web::http::http_response> headers =
        stream.client->request(NewRequest("GET", path_and_query), cancel);
    // The headers of a watch come at once; do not wait longer than for any
    // other request if the server says nothing.
    struct Signal {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
    };
    auto signal = std::make_shared<Signal>();
    headers.then([signal](pplx::task<web::http::http_response>) {
      std::lock_guard<std::mutex> lock(signal->mu);
      signal->done = true;
      signal->cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(signal->mu);
      auto deadline = std::chrono::seconds(std::max(1, options_.request_timeout_seconds));
      if (!signal->cv.wait_for(lock, deadline, [&] { return signal->done; })) {
        LogRequest("WATCH", url, 0, start);
        return Status(Code::kTimeout, "GET " + url + ": no reply headers from the apiserver in " +
                                          std::to_string(deadline.count()) + " s");
      }
    }
    stream.response = headers.get();
    LogRequest("WATCH", url, stream.response.status_code(), start);
    return stream;
  } catch (...) {
    LogRequest("WATCH", url, 0, start);
    return TransportError("GET", url, std::current_exception());
  }
}

}  // namespace vireo::kube::internal
