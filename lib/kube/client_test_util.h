// Helpers of the Client tests (client_test.cc, client_list_test.cc): a
// client of a scripted local server, and replies.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lib/base/json.h"
#include "lib/kube/client.h"
#include "lib/kube/test_http_server.h"

namespace vireo::kube::testing {

// A resource of a named group (a custom resource): its paths start /apis/.
inline const Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", "VirtualMachine",
                                       true};

inline base::Json JsonOf(const std::string& text) { return base::ParseJson(text).value(); }

// A client of `server` with a bearer token.
inline std::unique_ptr<Client> ClientFor(const TestHttpServer& server, ClientOptions options = {}) {
  ClusterConfig config;
  config.server = server.url();
  config.bearer_token = "tok-123";
  auto client = Client::Create(config, options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return std::move(client).value();
}

// Answers every request with the same reply.
inline TestHttpServer::Handler Always(int status, std::string body) {
  return [status, body](const HttpRequest&, HttpConnection& c) { c.Reply(status, body); };
}

}  // namespace vireo::kube::testing
