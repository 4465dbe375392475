// Plain sockets on purpose: the client under test must not be checked
// against the HTTP stack it is built on.
#include "lib/kube/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace vireo::kube::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 422:
      return "Unprocessable Entity";
    default:
      return "Status";
  }
}

HttpRequest ParseHead(const std::string& head) {
  HttpRequest request;
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  request.method = first.substr(0, sp1);
  request.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      size_t value = line.find_first_not_of(' ', colon + 1);
      request.headers[Lower(line.substr(0, colon))] =
          value == std::string::npos ? "" : line.substr(value);
    }
    pos = end + 2;
  }
  return request;
}

}  // namespace

bool HttpConnection::Write(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void HttpConnection::Reply(int status, const std::string& body, const std::string& content_type) {
  Write("HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\nContent-Type: " +
        content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

void HttpConnection::StartChunked(int status) {
  Write("HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
}

void HttpConnection::Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  Write(size + data + "\r\n");
}

void HttpConnection::End() { Write("0\r\n\r\n"); }

void HttpConnection::Break() {
  struct linger hard = {1, 0};  // close sends RST, not FIN
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  broken_ = true;
}

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("test HTTP server: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  Release();
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

void TestHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  std::string in;
  auto receive = [fd, &in] {
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    return n > 0;
  };
  HttpConnection connection(fd);
  for (bool open = true; open;) {
    size_t header_end;
    while (open && (header_end = in.find("\r\n\r\n")) == std::string::npos) open = receive();
    if (!open) break;
    HttpRequest request = ParseHead(in.substr(0, header_end));
    in.erase(0, header_end + 4);
    std::string length_text = request.Header("content-length");
    size_t length = length_text.empty() ? 0 : std::stoul(length_text);
    while (open && in.size() < length) open = receive();
    if (!open) break;
    request.body = in.substr(0, length);
    in.erase(0, length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
    }
    handler_(request, connection);
    if (connection.broken()) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!connection.broken()) ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  std::erase(open_fds_, fd);
}

std::vector<HttpRequest> TestHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

HttpRequest TestHttpServer::last_request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.empty() ? HttpRequest() : requests_.back();
}

void TestHttpServer::Hold() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return released_ || stopping_; });
}

void TestHttpServer::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
  }
  cv_.notify_all();
}

}  // namespace vireo::kube::testing
