// The health and metrics endpoints over cpprestsdk's http_listener.
#include "controllers/endpoints.h"

#include <cpprest/http_listener.h>

namespace vireo::controllers {

using web::http::http_request;
using web::http::experimental::listener::http_listener;

EndpointServer::EndpointServer(BindAddress address, HttpRoutes routes)
    : address_(std::move(address)),
      routes_(std::make_shared<const HttpRoutes>(std::move(routes))) {}

EndpointServer::~EndpointServer() { Stop(); }

base::Status EndpointServer::Start() {
  std::string host = address_.host.empty() ? "0.0.0.0" : address_.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string url = "http://" + host + ":" + std::to_string(address_.port) + "/";
  try {
    auto listener = std::make_unique<http_listener>(web::uri(url));
    // The handler holds the routes by value, so a request that is still
    // running while Stop returns cannot reach freed memory.
    auto routes = routes_;
    listener->support([routes](http_request request) {
      try {
        if (request.method() != web::http::methods::GET &&
            request.method() != web::http::methods::HEAD) {
          request.reply(web::http::status_codes::MethodNotAllowed, "only GET\n");
          return;
        }
        auto route = routes->find(request.relative_uri().path());
        if (route == routes->end()) {
          request.reply(web::http::status_codes::NotFound, "not found\n");
          return;
        }
        HttpReply reply = route->second();
        request.reply(static_cast<web::http::status_code>(reply.status), reply.body,
                      reply.content_type);
      } catch (const std::exception&) {
        // The client went away before the reply: nothing to tell anyone.
      }
    });
    listener->open().wait();
    listener_ = std::move(listener);
  } catch (const std::exception& e) {
    return base::Status(base::Code::kUnavailable,
                        "cannot listen on " + address_.ToString() + ": " + e.what());
  }
  return base::Status::Ok();
}

void EndpointServer::Stop() {
  if (listener_ == nullptr) return;
  try {
    listener_->close().wait();
  } catch (const std::exception&) {
    // Closing fails only when it was never open; either way it is closed.
  }
  listener_.reset();
}

}  // namespace vireo::controllers
