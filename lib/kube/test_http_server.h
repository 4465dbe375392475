// A scripted HTTP/1.1 server on a loopback port for the client's unit tests:
// records each request and lets the test answer it, all at once or piece by
// piece, hold the connection open, or break it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vireo::kube::testing {

struct HttpRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// The connection a handler answers on. Not thread-safe.
class HttpConnection {
 public:
  explicit HttpConnection(int fd) : fd_(fd) {}
  // A complete reply with Content-Length.
  void Reply(int status, const std::string& body,
             const std::string& content_type = "application/json");
  // Headers of a chunked reply; then Chunk for each piece, End to finish.
  void StartChunked(int status = 200);
  void Chunk(const std::string& data);
  void End();
  // Resets the connection (RST) once the handler returns, as a crashed
  // server or proxy would.
  void Break();
  bool broken() const { return broken_; }
  // False once the client has gone away.
  bool Write(const std::string& bytes);

 private:
  int fd_;
  bool broken_ = false;
};

class TestHttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpConnection&)>;

  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Every request received so far, in arrival order.
  std::vector<HttpRequest> requests() const;
  HttpRequest last_request() const;

  // For handlers that hold a connection open: blocks until Release is called
  // or the server shuts down.
  void Hold();
  void Release();

 private:
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HttpRequest> requests_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  bool released_ = false;
};

}  // namespace vireo::kube::testing
