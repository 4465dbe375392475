// ExecSession against a local TLS WebSocket server speaking the channel
// protocol: output and exit events decoded under the protocol the server
// chose, and a dead link reported as a broken session.
#include "virtctl/exec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>

#include "lib/kube/test_websocket_server.h"

namespace vireo::virtctl {
namespace {

using ::testing::HasSubstr;
namespace kt = kube::testing;

const kt::TestPki& Pki() {
  static const kt::TestPki pki = kt::MakeTestPki({"exec.test"});
  return pki;
}

// stdin comes back as stdout; closing stdin (v5) ends the command.
std::vector<std::string> Answer(const std::string& frame) {
  if (frame.size() > 1 && frame[0] == '\0') return {"\x01" + frame.substr(1)};
  if (frame == std::string("\xff\0", 2)) {
    return {std::string("\x03") + R"({"metadata":{},"status":"Success"})"};
  }
  return {};
}

kt::TestWebSocketServerOptions ServerOptions(std::vector<std::string> protocols) {
  kt::TestWebSocketServerOptions options;
  options.cert_pem = Pki().server_cert_pem;
  options.key_pem = Pki().server_key_pem;
  options.subprotocols = std::move(protocols);
  return options;
}

std::unique_ptr<kube::Client> ClientFor(const kt::TestWebSocketServer& server) {
  kube::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(server.port());
  config.ca_pem = Pki().ca_pem;
  config.tls_server_name = "exec.test";
  auto client = kube::Client::Create(config);
  EXPECT_TRUE(client.ok()) << client.status().message();
  return client.ok() ? std::move(*client) : nullptr;
}

ExecRequest Request() {
  ExecRequest request;
  request.namespace_name = "ns";
  request.pod = "virt-launcher-x";
  request.container = "compute";
  request.command = {"vireo-launcher", "console"};
  return request;
}

// Events until one of `kind` arrives or `limit` passes.
std::vector<ExecEvent> EventsUntil(ExecSession& session, ExecEvent::Kind kind,
                                   std::chrono::milliseconds limit) {
  std::vector<ExecEvent> all;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{session.event_fd(), POLLIN, 0};
    poll(&fd, 1, 50);
    for (auto& e : session.TakeEvents()) {
      all.push_back(e);
      if (e.kind == kind) return all;
    }
  }
  return all;
}

TEST(ExecSessionTest, V5OutputAndTheEndOfTheCommand) {
  kt::TestWebSocketServer server(ServerOptions({"v5.channel.k8s.io", "v4.channel.k8s.io"}),
                                 &Answer);
  auto client = ClientFor(server);
  auto session = ExecSession::Open(*client, Request());
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ((*session)->protocol(), Protocol::kV5);
  ASSERT_TRUE((*session)->SendStdin("hello\n").ok());
  auto events = EventsUntil(**session, ExecEvent::kStdout, std::chrono::seconds(10));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, ExecEvent::kStdout);
  EXPECT_EQ(events.back().data, "hello\n");
  ASSERT_TRUE((*session)->CloseStdin().ok());
  events = EventsUntil(**session, ExecEvent::kExit, std::chrono::seconds(10));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, ExecEvent::kExit);
  EXPECT_TRUE(events.back().exit.success);
  auto upgrades = server.upgrades();
  ASSERT_EQ(upgrades.size(), 1u);
  EXPECT_EQ(upgrades[0].target, ExecPath(Request()));
}

TEST(ExecSessionTest, V4WhenTheServerHasNoV5) {
  kt::TestWebSocketServer server(ServerOptions({"v4.channel.k8s.io"}), &Answer);
  auto client = ClientFor(server);
  auto session = ExecSession::Open(*client, Request());
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ((*session)->protocol(), Protocol::kV4);
  ASSERT_TRUE((*session)->SendStdin("v4\n").ok());
  auto events = EventsUntil(**session, ExecEvent::kStdout, std::chrono::seconds(10));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data, "v4\n");
}

TEST(ExecSessionTest, AServerWithoutAChannelProtocolIsRefused) {
  kt::TestWebSocketServer server(ServerOptions({}), &Answer);
  auto client = ClientFor(server);
  auto session = ExecSession::Open(*client, Request());
  ASSERT_FALSE(session.ok());
  EXPECT_THAT(session.status().message(), HasSubstr("without a channel protocol"));
}

TEST(ExecSessionTest, AnUnansweredKeepaliveBreaksTheSession) {
  kt::TestWebSocketServer server(ServerOptions({"v5.channel.k8s.io"}), &Answer);
  auto client = ClientFor(server);
  ExecOptions options;
  options.keepalive = std::chrono::milliseconds(200);
  auto session = ExecSession::Open(*client, Request(), options);
  ASSERT_TRUE(session.ok()) << session.status().message();
  server.SetSilent(true);
  ASSERT_TRUE((*session)->SendStdin("x").ok());
  auto events = EventsUntil(**session, ExecEvent::kClosed, std::chrono::seconds(5));
  ASSERT_FALSE(events.empty());
  const ExecEvent& last = events.back();
  ASSERT_EQ(last.kind, ExecEvent::kClosed);
  EXPECT_FALSE(last.clean);
  EXPECT_THAT(last.data, HasSubstr("keepalive failed"));
  EXPECT_FALSE((*session)->SendStdin("y").ok());
}

}  // namespace
}  // namespace vireo::virtctl
