// TestWebSocketServer: one thread accepting, one thread per connection
// (synchronous Beast on the server side: each stream has one thread).
#include "lib/kube/test_websocket_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

// GCC's -Wmaybe-uninitialized misfires in Beast's HTTP parser (a
// boost::optional in basic_parser.hpp) when built with the sanitizers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace vireo::kube::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

KeyPtr NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  Check(key != nullptr, "EC key generation");
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed (the CA).
X509Ptr MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                 const std::string& san, const char* usage) {
  static int serial = 1;
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (issuer == nullptr) {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), signer, NID_ext_key_usage, usage);
    if (!san.empty()) AddExtension(cert.get(), signer, NID_subject_alt_name, san);
  }
  Check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
        "X509_sign");
  return cert;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

[[noreturn]] void Die(const char* what) {
  std::cerr << "TestWebSocketServer: " << what << ": " << std::strerror(errno) << std::endl;
  std::abort();
}

}  // namespace

TestPki MakeTestPki(const std::vector<std::string>& server_names) {
  KeyPtr ca_key = NewKey();
  X509Ptr ca = MakeCert(ca_key.get(), "vireo-websocket-test-ca", nullptr, nullptr, "", "");
  std::string san;
  for (const std::string& name : server_names) {
    beast::error_code ec;
    net::ip::make_address(name, ec);
    san += (san.empty() ? "" : ",") + std::string(ec ? "DNS:" : "IP:") + name;
  }
  KeyPtr server_key = NewKey();
  X509Ptr server = MakeCert(server_key.get(), server_names.empty() ? "server" : server_names[0],
                            ca.get(), ca_key.get(), san, "serverAuth");
  KeyPtr client_key = NewKey();
  X509Ptr client =
      MakeCert(client_key.get(), "vireo-test-user", ca.get(), ca_key.get(), "", "clientAuth");
  TestPki pki;
  pki.ca_pem = CertPem(ca.get());
  pki.server_cert_pem = CertPem(server.get());
  pki.server_key_pem = KeyPem(server_key.get());
  pki.client_cert_pem = CertPem(client.get());
  pki.client_key_pem = KeyPem(client_key.get());
  return pki;
}

TestWebSocketServer::TestWebSocketServer(TestWebSocketServerOptions options, Reply reply)
    : options_(std::move(options)), reply_(std::move(reply)) {
  if (!reply_) reply_ = [](const std::string& m) { return std::vector<std::string>{m}; };
  if (pipe(wake_) != 0) Die("pipe");
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("bind");
  if (listen(listen_fd_, 16) != 0) Die("listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestWebSocketServer::~TestWebSocketServer() {
  stopping_ = true;
  silent_ = false;
  if (write(wake_[1], "x", 1) < 0) { /* the pipe is ours */
  }
  acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

std::vector<UpgradeRequest> TestWebSocketServer::upgrades() const {
  std::lock_guard<std::mutex> lock(mu_);
  return upgrades_;
}

void TestWebSocketServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (fds[1].revents != 0) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestWebSocketServer::Serve(int fd) {
  net::io_context ioc;
  ssl::context context(ssl::context::tls_server);
  beast::error_code ec;
  context.use_certificate_chain(net::buffer(options_.cert_pem), ec);
  context.use_private_key(net::buffer(options_.key_pem), ssl::context::pem, ec);
  if (!options_.client_ca_pem.empty()) {
    context.add_certificate_authority(net::buffer(options_.client_ca_pem), ec);
    context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  // Asio's TLS stream and no permessage-deflate, as the client: far less to
  // compile than Beast's own layers.
  websocket::stream<ssl::stream<tcp::socket>, false> ws(tcp::socket(ioc, tcp::v4(), fd), context);
  auto finish = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(open_fds_, fd);
    beast::get_lowest_layer(ws).close(ec);  // closes fd while no one can shut it down
  };
  ws.next_layer().handshake(ssl::stream_base::server, ec);
  if (ec) return finish();

  UpgradeRequest upgrade;
  SSL* handle = ws.next_layer().native_handle();
  if (const char* sni = SSL_get_servername(handle, TLSEXT_NAMETYPE_host_name)) upgrade.sni = sni;
  if (X509* peer = SSL_get1_peer_certificate(handle)) {
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    upgrade.client_subject = cn;
    X509_free(peer);
  }
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::read(ws.next_layer(), buffer, request, ec);
  if (ec) return finish();
  upgrade.target = std::string(request.target());
  upgrade.authorization = std::string(request[http::field::authorization]);
  upgrade.protocols = std::string(request[http::field::sec_websocket_protocol]);
  {
    std::lock_guard<std::mutex> lock(mu_);
    upgrades_.push_back(upgrade);
  }
  if (options_.refuse_status != 0) {
    http::response<http::string_body> refusal{static_cast<http::status>(options_.refuse_status),
                                              request.version()};
    refusal.set(http::field::content_type, "application/json");
    refusal.body() = R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                     R"("message":"refused by the test server"})";
    refusal.prepare_payload();
    http::write(ws.next_layer(), refusal, ec);
    return finish();
  }
  std::string chosen;
  for (const std::string& mine : options_.subprotocols) {
    size_t at = 0;
    while (chosen.empty() && at < upgrade.protocols.size()) {
      size_t comma = upgrade.protocols.find(',', at);
      if (comma == std::string::npos) comma = upgrade.protocols.size();
      std::string offered = upgrade.protocols.substr(at, comma - at);
      while (!offered.empty() && offered.front() == ' ') offered.erase(0, 1);
      while (!offered.empty() && offered.back() == ' ') offered.pop_back();
      if (offered == mine) chosen = mine;
      at = comma + 1;
    }
    if (!chosen.empty()) break;
  }
  ws.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& response) {
    if (!chosen.empty()) response.set(http::field::sec_websocket_protocol, chosen);
  }));
  ws.accept(request, ec);
  if (ec) return finish();
  ++accepted_;
  ws.binary(true);
  beast::flat_buffer message;
  while (!stopping_) {
    if (silent_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    ws.read(message, ec);
    if (ec) break;
    std::string text = beast::buffers_to_string(message.data());
    message.consume(message.size());
    for (const std::string& out : reply_(text)) {
      ws.write(net::buffer(out), ec);
      if (ec) break;
    }
    if (ec) break;
    if (options_.close_after_reply) {
      ws.close(websocket::close_code::normal, ec);
      break;
    }
  }
  finish();
}

}  // namespace vireo::kube::testing
