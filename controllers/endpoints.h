// The controller's plain-HTTP endpoints (/healthz, /readyz, /metrics), served
// by cpprestsdk's http_listener so the tree keeps one HTTP stack.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "controllers/options.h"
#include "lib/base/status.h"

namespace web::http::experimental::listener {
class http_listener;
}  // namespace web::http::experimental::listener

namespace vireo::controllers {

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

// GET path -> reply. Handlers run on cpprestsdk's thread pool, concurrently.
using HttpRoutes = std::map<std::string, std::function<HttpReply()>>;

// One listening address. Unknown paths get 404, other methods 405.
// Thread-safe: Start and Stop from one owning thread.
class EndpointServer {
 public:
  EndpointServer(BindAddress address, HttpRoutes routes);
  ~EndpointServer();  // Stop
  EndpointServer(const EndpointServer&) = delete;
  EndpointServer& operator=(const EndpointServer&) = delete;

  // Binds and starts serving; kUnavailable naming the address when the bind
  // fails (port in use, unknown host).
  base::Status Start();
  void Stop();

 private:
  const BindAddress address_;
  const std::shared_ptr<const HttpRoutes> routes_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

}  // namespace vireo::controllers
