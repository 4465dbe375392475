// The importer's HTTP(S) GET (Boost.Beast, OpenSSL with the system's trust
// store): redirects followed, a stall timeout, the body streamed to a sink,
// and every failure classified into an importer exit code. The URL and
// status helpers are pure, for T0.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "launcher/import_status.h"
#include "lib/base/status.h"

namespace vireo::launcher {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::string port;    // always set: the scheme's default when the URL has none
  std::string target;  // path and query, "/" at least; no fragment

  bool DefaultPort() const { return port == (scheme == "https" ? "443" : "80"); }
  std::string HostHeader() const;  // host[:port], brackets for IPv6
  std::string ToString() const;
};

// http:// and https:// URLs only; user info is refused (credentials belong
// in a Secret, which the importer does not read yet).
base::Result<Url> ParseUrl(std::string_view text);

// Where a Location header leads from `base`: an absolute URL, a
// scheme-relative "//host/path", an absolute path, or a path relative to
// base's directory ("a/b", "../c"), as RFC 3986 resolves them.
base::Result<Url> ResolveRedirect(const Url& base, std::string_view location);

// What the importer makes of an HTTP status.
enum class HttpStatusClass {
  kBody,         // 2xx: the image follows
  kRedirect,     // 301, 302, 303, 307, 308
  kNotFound,     // 401, 403, 404, 410: kSourceNotFound
  kUnreachable,  // 5xx, 408, 429: kSourceUnreachable (may pass on retry)
  kOther,        // anything else: kFailed
};
HttpStatusClass ClassifyHttpStatus(int status);

// Receives the response body of the final (non-redirect) 2xx response.
class HttpSink {
 public:
  virtual ~HttpSink() = default;
  // Once, before any data. A non-ok result aborts the transfer with it.
  virtual ImportStatus OnResponse(const Url& url, std::optional<uint64_t> content_length) = 0;
  // Each piece of the body, in order.
  virtual ImportStatus OnData(const char* data, size_t size) = 0;
};

struct HttpOptions {
  // No byte (and no connect, handshake, header) for this long: unreachable.
  std::chrono::milliseconds stall_timeout = std::chrono::seconds(30);
  int max_redirects = 10;
};

// GETs `url` into `sink`. Ok once the whole body reached it. Failures:
// DNS, connect, TLS, stalls, 5xx → kSourceUnreachable; 401/403/404/410 and
// too many redirects → kSourceNotFound; a body shorter than its
// Content-Length → kInvalidImage ("truncated: got N of M bytes"); the sink's
// own failures as it returned them. Messages name the URL.
ImportStatus HttpGet(const std::string& url, HttpSink& sink, const HttpOptions& options = {});

}  // namespace vireo::launcher
