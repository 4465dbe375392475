// The HTTP side of Client, shared by its REST calls and its watch streams:
// cpprestsdk clients with the cluster's TLS and credentials, request logging,
// and transport failures turned into Status values. Internal to lib/kube.
#pragma once

#include <cpprest/http_client.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/status.h"
#include "lib/kube/client.h"
#include "lib/kube/config.h"
#include "lib/kube/tls.h"

namespace vireo::kube::internal {

struct HttpReply {
  int status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;  // the server asked for a retry
};

// Thread-safe.
class Transport {
 public:
  static base::Result<std::shared_ptr<Transport>> Create(const ClusterConfig& config,
                                                         const ClientOptions& options);

  const ClusterConfig& config() const { return config_; }

  // Sends one request and reads the whole reply, whatever its HTTP status.
  // Only transport failures are errors: kUnavailable (refused, TLS, reset),
  // kTimeout (no reply within request_timeout_seconds). A reply asking for a
  // retry (429 or 5xx with Retry-After) is retried after the wait it names
  // (at most 10 s, 5 times), as kubectl does. A deadline bounds the whole
  // call: no wait that would end past it, and a reply not complete by then
  // gives kTimeout and a cancelled (closed) connection.
  base::Result<HttpReply> Send(std::string_view method, const std::string& path_and_query,
                               const std::string* body = nullptr,
                               std::string_view content_type = "application/json",
                               const Deadline& deadline = std::nullopt);

  // A GET whose body is read as it arrives; returns once the headers are in
  // (retried like Send). idle_timeout bounds the silence between two pieces
  // of the body.
  struct Stream {
    std::shared_ptr<web::http::client::http_client> client;  // keeps the connection's owner
    web::http::http_response response;
  };
  base::Result<Stream> Open(const std::string& path_and_query,
                            const pplx::cancellation_token& cancel,
                            std::chrono::seconds idle_timeout);

  // Classifies an exception thrown by cpprestsdk for a request to `url`.
  static base::Status TransportError(std::string_view method, const std::string& url,
                                     std::exception_ptr error);

  // One line on stderr per request when ClientOptions.log_requests is set.
  void LogRequest(std::string_view method, const std::string& url, int http_status,
                  std::chrono::steady_clock::time_point start) const;

  // The bearer token, re-read from token_file at most once a minute.
  std::string Token();
  const std::shared_ptr<const TlsMaterial>& tls() const { return tls_; }

  std::string Url(const std::string& path_and_query) const {
    return config_.server + path_and_query;
  }

 private:
  base::Result<HttpReply> SendOnce(std::string_view method, const std::string& path_and_query,
                                   const std::string* body, std::string_view content_type);
  base::Result<HttpReply> SendOnceBy(std::string_view method, const std::string& path_and_query,
                                     const std::string* body, std::string_view content_type,
                                     std::chrono::steady_clock::time_point deadline);
  base::Result<Stream> OpenOnce(const std::string& path_and_query,
                                const pplx::cancellation_token& cancel,
                                std::chrono::seconds idle_timeout);
  Transport(const ClusterConfig& config, const ClientOptions& options,
            std::shared_ptr<const TlsMaterial> tls);
  web::http::client::http_client_config HttpConfig(std::chrono::seconds timeout) const;
  web::http::http_request NewRequest(std::string_view method, const std::string& path_and_query);

  const ClusterConfig config_;
  const ClientOptions options_;
  const std::shared_ptr<const TlsMaterial> tls_;
  std::unique_ptr<web::http::client::http_client> client_;

  std::mutex token_mu_;
  std::string token_;                                    // GUARDED_BY(token_mu_)
  std::chrono::steady_clock::time_point token_read_at_;  // GUARDED_BY(token_mu_)
};

}  // namespace vireo::kube::internal
