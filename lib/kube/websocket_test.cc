// WebSocket against a local TLS WebSocket server whose certificate names a
// host that is not the URL's: trust, names, credentials, subprotocols,
// refusals and the keepalive.
#include "lib/kube/websocket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "lib/kube/test_websocket_server.h"

namespace vireo::kube {

using base::Code;
using base::Result;
using base::Status;

namespace {

using ::testing::HasSubstr;
using testing::MakeTestPki;
using testing::TestPki;
using testing::TestWebSocketServer;
using testing::TestWebSocketServerOptions;

constexpr char kName[] = "console.test";  // the only name in the server's certificate

const TestPki& Pki() {
  static const TestPki pki = MakeTestPki({kName});
  return pki;
}

TestWebSocketServerOptions ServerOptions() {
  TestWebSocketServerOptions options;
  options.cert_pem = Pki().server_cert_pem;
  options.key_pem = Pki().server_key_pem;
  options.subprotocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
  return options;
}

ClusterConfig ConfigFor(const TestWebSocketServer& server, const std::string& tls_server_name) {
  ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(server.port());
  config.ca_pem = Pki().ca_pem;
  config.tls_server_name = tls_server_name;
  config.context_name = "test";
  return config;
}

// What the handlers saw, for a test to wait on.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> messages;
  std::optional<Status> closed;

  WebSocket::Handlers Handlers() {
    WebSocket::Handlers h;
    h.on_message = [this](std::string m) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(std::move(m));
      cv.notify_all();
    };
    h.on_closed = [this](const Status& why) {
      std::lock_guard<std::mutex> lock(mu);
      closed = why;
      cv.notify_all();
    };
    return h;
  }
  bool WaitMessages(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, limit, [&] { return messages.size() >= n; });
  }
  std::optional<Status> WaitClosed(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, limit, [&] { return closed.has_value(); });
    return closed;
  }
};

Result<std::unique_ptr<WebSocket>> Open(const ClusterConfig& config, Seen* seen,
                                        WebSocketOptions options = {}) {
  auto client = Client::Create(config);
  if (!client.ok()) return client.status();
  if (options.subprotocols.empty()) {
    options.subprotocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
  }
  options.connect_timeout = std::chrono::seconds(10);
  return WebSocket::Connect(**client, "/api/v1/namespaces/ns/pods/p/exec?command=x", options,
                            seen->Handlers());
}

TEST(WebSocketTest, TheUrlHostMustBeInTheCertificateWhenNoTlsServerNameIsSet) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  auto ws = Open(ConfigFor(server, ""), &seen);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), Code::kUnavailable);
  EXPECT_THAT(ws.status().message(), HasSubstr("certificate was refused"));
  EXPECT_THAT(ws.status().message(), HasSubstr("the name checked is \"127.0.0.1\""));
  EXPECT_THAT(ws.status().message(), HasSubstr("tls-server-name"));
  EXPECT_EQ(server.accepted(), 0);
}

TEST(WebSocketTest, TlsServerNameIsCheckedAndSentAsSni) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  auto ws = Open(ConfigFor(server, kName), &seen);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ((*ws)->subprotocol(), "v5.channel.k8s.io");
  ASSERT_TRUE((*ws)->Send(std::string("\0hello", 6)).ok());
  ASSERT_TRUE(seen.WaitMessages(1));
  EXPECT_EQ(seen.messages[0], std::string("\0hello", 6));
  auto upgrades = server.upgrades();
  ASSERT_EQ(upgrades.size(), 1u);
  EXPECT_EQ(upgrades[0].sni, kName);
  EXPECT_EQ(upgrades[0].target, "/api/v1/namespaces/ns/pods/p/exec?command=x");
  EXPECT_EQ(upgrades[0].protocols, "v5.channel.k8s.io, v4.channel.k8s.io");
  (*ws)->Close();
  EXPECT_FALSE(seen.closed.has_value()) << "Close() is not reported to on_closed";
  EXPECT_FALSE((*ws)->Send("late").ok());
}

TEST(WebSocketTest, AWrongTlsServerNameFailsNamingIt) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  auto ws = Open(ConfigFor(server, "other.test"), &seen);
  ASSERT_FALSE(ws.ok());
  EXPECT_THAT(ws.status().message(), HasSubstr("the name checked is \"other.test\""));
  EXPECT_THAT(ws.status().message(), HasSubstr("the kubeconfig's tls-server-name"));
  EXPECT_EQ(server.upgrades().size(), 0u);
}

TEST(WebSocketTest, ACertificateFromAnotherAuthorityIsRefused) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  ClusterConfig config = ConfigFor(server, kName);
  config.ca_pem = MakeTestPki({kName}).ca_pem;
  auto ws = Open(config, &seen);
  ASSERT_FALSE(ws.ok());
  EXPECT_THAT(ws.status().message(), HasSubstr("certificate was refused"));
  EXPECT_EQ(server.upgrades().size(), 0u);
}

TEST(WebSocketTest, TheServerPicksV4WhenItHasNoV5) {
  TestWebSocketServerOptions options = ServerOptions();
  options.subprotocols = {"v4.channel.k8s.io"};
  TestWebSocketServer server(options);
  Seen seen;
  auto ws = Open(ConfigFor(server, kName), &seen);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ((*ws)->subprotocol(), "v4.channel.k8s.io");
}

TEST(WebSocketTest, ClientCertificateIsPresented) {
  TestWebSocketServerOptions options = ServerOptions();
  options.client_ca_pem = Pki().ca_pem;
  TestWebSocketServer server(options);
  Seen seen;
  ClusterConfig config = ConfigFor(server, kName);
  auto without = Open(config, &seen);
  EXPECT_FALSE(without.ok()) << "the server requires a client certificate";

  config.client_cert_pem = Pki().client_cert_pem;
  config.client_key_pem = Pki().client_key_pem;
  auto ws = Open(config, &seen);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  auto upgrades = server.upgrades();
  ASSERT_FALSE(upgrades.empty());
  EXPECT_EQ(upgrades.back().client_subject, "vireo-test-user");
}

TEST(WebSocketTest, BearerTokenAndTokenFileAreSent) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  ClusterConfig config = ConfigFor(server, kName);
  config.bearer_token = "inline-token";
  ASSERT_TRUE(Open(config, &seen).ok());

  char path[] = "/tmp/vireo-ws-token-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "file-token\n";
  config.bearer_token.clear();
  config.token_file = path;
  ASSERT_TRUE(Open(config, &seen).ok());
  std::remove(path);

  auto upgrades = server.upgrades();
  ASSERT_EQ(upgrades.size(), 2u);
  EXPECT_EQ(upgrades[0].authorization, "Bearer inline-token");
  EXPECT_EQ(upgrades[1].authorization, "Bearer file-token");
}

TEST(WebSocketTest, ARefusedUpgradeSaysWhatTheServerSaid) {
  TestWebSocketServerOptions options = ServerOptions();
  options.refuse_status = 403;
  TestWebSocketServer server(options);
  Seen seen;
  auto ws = Open(ConfigFor(server, kName), &seen);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), Code::kForbidden);
  EXPECT_THAT(ws.status().message(), HasSubstr("HTTP 403"));
  EXPECT_THAT(ws.status().message(), HasSubstr("refused by the test server"));
}

TEST(WebSocketTest, KeepaliveKeepsAnAnsweringLinkOpen) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  WebSocketOptions options;
  options.keepalive = std::chrono::milliseconds(100);
  auto ws = Open(ConfigFor(server, kName), &seen, options);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  // Ten pings, each answered: nothing is reported.
  EXPECT_FALSE(seen.WaitClosed(std::chrono::milliseconds(1000)).has_value());
  ASSERT_TRUE((*ws)->Send("still here").ok());
  EXPECT_TRUE(seen.WaitMessages(1));
}

TEST(WebSocketTest, AnUnansweredPingIsReportedWithinTwoIntervals) {
  TestWebSocketServer server(ServerOptions());
  Seen seen;
  WebSocketOptions options;
  options.keepalive = std::chrono::milliseconds(300);
  auto ws = Open(ConfigFor(server, kName), &seen, options);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  // The server stops reading: at once, or after answering this message if it
  // was already waiting for one.
  server.SetSilent(true);
  ASSERT_TRUE((*ws)->Send("last").ok());
  auto start = std::chrono::steady_clock::now();
  auto closed = seen.WaitClosed(std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(closed.has_value()) << "a dead link must be reported, not waited on forever";
  EXPECT_EQ(closed->code(), Code::kUnavailable);
  EXPECT_THAT(closed->message(), HasSubstr("keepalive failed"));
  EXPECT_THAT(closed->message(), HasSubstr("300 ms"));
  EXPECT_LE(took, std::chrono::milliseconds(900)) << "two intervals and some slack";
  EXPECT_FALSE((*ws)->Send("after").ok());
}

TEST(WebSocketTest, AServerThatNeverAnswersTimesOut) {
  // Listens, so the connect succeeds, but never accepts: the TLS handshake
  // gets no answer.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  config.ca_pem = Pki().ca_pem;
  auto client = Client::Create(config);
  ASSERT_TRUE(client.ok());
  WebSocketOptions options;
  options.connect_timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto ws = WebSocket::Connect(**client, "/x", options, {});
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), Code::kTimeout) << ws.status().message();
  EXPECT_THAT(ws.status().message(), HasSubstr("no answer within 300 ms"));
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(WebSocketTest, APlainHttpServerIsRefusedAsSuch) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";
  Seen seen;
  auto ws = Open(config, &seen);
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.status().code(), Code::kInvalid);
  EXPECT_THAT(ws.status().message(), HasSubstr("needs an https:// server"));
}

TEST(WebSocketTest, ANormalCloseByTheServerIsReportedAsOk) {
  TestWebSocketServerOptions options = ServerOptions();
  options.close_after_reply = true;
  TestWebSocketServer server(options);
  Seen seen;
  auto ws = Open(ConfigFor(server, kName), &seen);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  ASSERT_TRUE((*ws)->Send("bye").ok());
  auto closed = seen.WaitClosed(std::chrono::seconds(5));
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok()) << closed->message();
  EXPECT_EQ(seen.messages.size(), 1u);
}

}  // namespace
}  // namespace vireo::kube
