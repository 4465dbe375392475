// HttpGet over Boost.Beast; see import_http.h. Every network step is an
// asynchronous operation run to completion on a private io_context, so that
// beast::tcp_stream's expiry (the stall timeout) applies to each of them.
#include "launcher/import_http.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <limits>
#include <vector>

namespace vireo::launcher {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using api::importer::kFailed;
using api::importer::kInvalidImage;
using api::importer::kSourceNotFound;
using api::importer::kSourceUnreachable;
using base::Code;
using base::Result;
using base::Status;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Removes "." and ".." segments (RFC 3986 5.2.4).
std::string RemoveDotSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  const bool trailing = path.ends_with("/.") || path.ends_with("/..") || path.ends_with("/");
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string segment = path.substr(i, j - i);
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!segment.empty() && segment != ".") {
      out.push_back(segment);
    }
    i = j + 1;
  }
  std::string result;
  for (const std::string& segment : out) result += "/" + segment;
  if (result.empty() || (trailing && !result.ends_with("/"))) result += "/";
  return result;
}

std::string StripFragment(std::string_view text) {
  return std::string(text.substr(0, text.find('#')));
}

std::string SecondsText(std::chrono::milliseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return DefaultPort() ? h : h + ":" + port;
}

std::string Url::ToString() const { return scheme + "://" + HostHeader() + target; }

Result<Url> ParseUrl(std::string_view text) {
  const size_t colon = text.find("://");
  if (colon == std::string_view::npos) {
    return Status(Code::kInvalid,
                  "'" + std::string(text) + "' is not a URL (expected http:// or https://)");
  }
  Url url;
  url.scheme = Lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status(Code::kInvalid, "'" + std::string(text) + "': scheme " + url.scheme +
                                      " is not supported (http or https)");
  }
  std::string rest = StripFragment(text.substr(colon + 3));
  const size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (url.target.front() == '?') url.target = "/" + url.target;
  if (authority.find('@') != std::string::npos) {
    return Status(Code::kInvalid,
                  "'" + std::string(text) + "': credentials in the URL are not supported");
  }
  url.port = url.scheme == "https" ? "443" : "80";
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      return Status(Code::kInvalid, "'" + std::string(text) + "': unclosed [ in the host");
    }
    url.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') {
      return Status(Code::kInvalid, "'" + std::string(text) + "': junk after the IPv6 host");
    }
    if (!authority.empty()) url.port = authority.substr(1);
  } else if (size_t c = authority.rfind(':'); c != std::string::npos) {
    url.host = authority.substr(0, c);
    url.port = authority.substr(c + 1);
  } else {
    url.host = authority;
  }
  if (url.host.empty()) return Status(Code::kInvalid, "'" + std::string(text) + "' has no host");
  int port = 0;
  auto [ptr, ec] = std::from_chars(url.port.data(), url.port.data() + url.port.size(), port);
  if (ec != std::errc() || ptr != url.port.data() + url.port.size() || port <= 0 || port > 65535) {
    return Status(Code::kInvalid,
                  "'" + std::string(text) + "': port '" + url.port + "' is not a port number");
  }
  return url;
}

Result<Url> ResolveRedirect(const Url& base, std::string_view location) {
  if (location.empty()) return Status(Code::kInvalid, "redirect without a Location");
  const std::string loc = StripFragment(location);
  if (loc.find("://") != std::string::npos && loc.find("://") < loc.find_first_of("/?")) {
    return ParseUrl(loc);
  }
  if (loc.starts_with("//")) return ParseUrl(base.scheme + ":" + loc);
  Url url = base;
  if (loc.starts_with("/")) {
    const size_t q = loc.find('?');
    url.target =
        RemoveDotSegments(loc.substr(0, q)) + (q == std::string::npos ? "" : loc.substr(q));
    return url;
  }
  if (loc.starts_with("?")) {
    url.target = base.target.substr(0, base.target.find('?')) + loc;
    return url;
  }
  const std::string base_path = base.target.substr(0, base.target.find('?'));
  const std::string dir = base_path.substr(0, base_path.rfind('/') + 1);
  const size_t q = loc.find('?');
  url.target =
      RemoveDotSegments(dir + loc.substr(0, q)) + (q == std::string::npos ? "" : loc.substr(q));
  return url;
}

HttpStatusClass ClassifyHttpStatus(int status) {
  if (status >= 200 && status < 300) return HttpStatusClass::kBody;
  switch (status) {
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
      return HttpStatusClass::kRedirect;
    case 401:
    case 403:
    case 404:
    case 410:
      return HttpStatusClass::kNotFound;
    case 408:
    case 429:
      return HttpStatusClass::kUnreachable;
    default:
      break;
  }
  if (status >= 500 && status < 600) return HttpStatusClass::kUnreachable;
  return HttpStatusClass::kOther;
}

namespace {

// Runs one asynchronous operation to its end; returns its error.
template <class Start>
beast::error_code Await(net::io_context& ioc, Start&& start) {
  beast::error_code result = net::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// One request/response exchange on a connected stream: either a redirect
// (`*next` set), or the body streamed into the sink.
template <class Stream>
ImportStatus Exchange(net::io_context& ioc, Stream& stream, const Url& url,
                      const HttpOptions& options, HttpSink& sink, std::optional<Url>* next) {
  auto& lowest = beast::get_lowest_layer(stream);
  const std::string where = url.ToString();
  http::request<http::empty_body> request{http::verb::get, url.target, 11};
  request.set(http::field::host, url.HostHeader());
  request.set(http::field::user_agent, "vireo-importer");
  request.set(http::field::accept, "*/*");
  // The image's own bytes: no transfer compression added on the way.
  request.set(http::field::accept_encoding, "identity");
  lowest.expires_after(options.stall_timeout);
  beast::error_code ec =
      Await(ioc, [&](auto handler) { http::async_write(stream, request, std::move(handler)); });
  if (ec) {
    return ImportError(kSourceUnreachable,
                       "cannot send the request to " + where + ": " + ec.message());
  }

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  lowest.expires_after(options.stall_timeout);
  ec = Await(ioc, [&](auto handler) {
    http::async_read_header(stream, buffer, parser, std::move(handler));
  });
  if (ec) {
    return ImportError(
        kSourceUnreachable,
        ec == beast::error::timeout
            ? "no response from " + where + " within " + SecondsText(options.stall_timeout)
            : "no valid HTTP response from " + where + ": " + ec.message());
  }
  const int status = static_cast<int>(parser.get().result_int());
  const std::string status_text =
      "HTTP " + std::to_string(status) + " " + std::string(parser.get().reason());
  switch (ClassifyHttpStatus(status)) {
    case HttpStatusClass::kBody:
      break;
    case HttpStatusClass::kRedirect: {
      auto location = parser.get().find(http::field::location);
      if (location == parser.get().end()) {
        return ImportError(kFailed, where + " answered " + status_text + " without a Location");
      }
      Result<Url> to = ResolveRedirect(url, std::string(location->value()));
      if (!to.ok()) {
        return ImportError(kFailed, where + " redirects to '" + std::string(location->value()) +
                                        "': " + to.status().message());
      }
      *next = *to;
      return ImportStatus::Ok();
    }
    case HttpStatusClass::kNotFound:
      return ImportError(kSourceNotFound, where + " answered " + status_text +
                                              "; check the URL and that the image is public");
    case HttpStatusClass::kUnreachable:
      return ImportError(kSourceUnreachable, where + " answered " + status_text);
    case HttpStatusClass::kOther:
      return ImportError(kFailed, where + " answered " + status_text);
  }

  std::optional<uint64_t> length;
  if (auto cl = parser.content_length(); cl.has_value()) length = *cl;
  if (ImportStatus s = sink.OnResponse(url, length); !s.ok()) return s;

  std::vector<char> chunk(1 << 20);
  uint64_t received = 0;
  // The stall timer is re-armed at most once a second: re-arming it for
  // every read costs more than the copy (measured: 4x slower on loopback).
  auto armed = std::chrono::steady_clock::now();
  auto rearm = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (now - armed >= std::chrono::seconds(1)) {
      lowest.expires_after(options.stall_timeout);
      armed = now;
    }
  };
  auto failure = [&](const beast::error_code& error) {
    const std::string got = "got " + std::to_string(received) +
                            (length ? " of " + std::to_string(*length) : "") + " bytes";
    if (error == beast::error::timeout) {
      return ImportError(kSourceUnreachable,
                         "the transfer from " + where + " stalled: no data for " +
                             SecondsText(options.stall_timeout) + " (" + got + ")");
    }
    if (error == http::error::partial_message || error == http::error::end_of_stream ||
        error == net::error::eof || error == ssl::error::stream_truncated) {
      return ImportError(kInvalidImage,
                         "truncated: " + got + " from " + where + " before the connection closed");
    }
    return ImportError(kSourceUnreachable,
                       "the connection to " + where + " broke (" + got + "): " + error.message());
  };
  lowest.expires_after(options.stall_timeout);

  if (!parser.chunked()) {
    // A plain body (a length, or up to the end of the connection): read the
    // socket straight into the chunk, past the parser's small reads.
    auto pending = buffer.data();
    size_t have = std::min<uint64_t>(net::buffer_size(pending), length.value_or(UINT64_MAX));
    if (have > 0) {
      std::vector<char> first(have);
      net::buffer_copy(net::buffer(first), pending);
      received += have;
      if (ImportStatus s = sink.OnData(first.data(), have); !s.ok()) return s;
    }
    while (!length.has_value() || received < *length) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(chunk.size(), length.value_or(UINT64_MAX) - received));
      size_t n = 0;
      rearm();
      ec = Await(ioc, [&](auto handler) {
        stream.async_read_some(
            net::buffer(chunk.data(), want),
            [&n, handler = std::move(handler)](beast::error_code e, size_t got) mutable {
              n = got;
              handler(e);
            });
      });
      if (n > 0) {
        received += n;
        if (ImportStatus s = sink.OnData(chunk.data(), n); !s.ok()) return s;
      }
      if (!ec) continue;
      if (!length.has_value() && (ec == net::error::eof || ec == ssl::error::stream_truncated)) {
        break;  // no length: the end of the connection is the end of the body
      }
      return failure(ec);
    }
    return ImportStatus::Ok();
  }

  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    rearm();
    ec = Await(ioc, [&](auto handler) {
      http::async_read_some(stream, buffer, parser, std::move(handler));
    });
    if (ec == http::error::need_buffer) ec = {};
    const size_t n = chunk.size() - parser.get().body().size;
    if (n > 0) {
      received += n;
      if (ImportStatus s = sink.OnData(chunk.data(), n); !s.ok()) return s;
    }
    if (ec) return failure(ec);
  }
  return ImportStatus::Ok();
}

// A readable reason for a failed TLS handshake: the certificate check's
// verdict when there is one.
std::string TlsFailure(SSL* ssl, const beast::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

// One attempt at `url`: resolve, connect, (TLS,) exchange.
ImportStatus Fetch(const Url& url, const HttpOptions& options, HttpSink& sink,
                   std::optional<Url>* next) {
  net::io_context ioc;
  const std::string where = url.ToString();

  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  net::steady_timer timer(ioc, options.stall_timeout);
  bool timed_out = false;
  timer.async_wait([&](beast::error_code ec) {
    if (!ec) {
      timed_out = true;
      resolver.cancel();
    }
  });
  beast::error_code ec = net::error::would_block;
  resolver.async_resolve(url.host, url.port,
                         [&](beast::error_code e, tcp::resolver::results_type results) {
                           ec = e;
                           endpoints = std::move(results);
                           timer.cancel();
                         });
  ioc.run();
  if (ec) {
    return ImportError(
        kSourceUnreachable,
        "cannot resolve " + url.host + " (" + where + "): " +
            (timed_out ? "no answer within " + SecondsText(options.stall_timeout) : ec.message()));
  }

  beast::tcp_stream tcp_stream(ioc);
  tcp_stream.expires_after(options.stall_timeout);
  ec = Await(ioc, [&](auto handler) {
    tcp_stream.async_connect(
        endpoints, [handler = std::move(handler)](beast::error_code e,
                                                  const tcp::endpoint&) mutable { handler(e); });
  });
  if (ec) {
    return ImportError(
        kSourceUnreachable,
        "cannot connect to " + url.HostHeader() + " (" + where + "): " +
            (ec == beast::error::timeout ? "no answer within " + SecondsText(options.stall_timeout)
                                         : ec.message()));
  }
  if (url.scheme == "http") return Exchange(ioc, tcp_stream, url, options, sink, next);

  ssl::context context(ssl::context::tls_client);
  context.set_default_verify_paths();  // the system's CAs (SSL_CERT_FILE/SSL_CERT_DIR honoured)
  context.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp_stream), context);
  SSL* handle = tls.native_handle();
  beast::error_code ip_error;
  net::ip::make_address(url.host, ip_error);
  if (ip_error) {
    SSL_set_tlsext_host_name(handle, url.host.c_str());  // SNI: names only
    SSL_set1_host(handle, url.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), url.host.c_str());
  }
  beast::get_lowest_layer(tls).expires_after(options.stall_timeout);
  ec = Await(ioc, [&](auto handler) {
    tls.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec) {
    return ImportError(
        kSourceUnreachable,
        "TLS with " + url.HostHeader() + " (" + where + ") failed: " +
            (ec == beast::error::timeout ? "no answer within " + SecondsText(options.stall_timeout)
                                         : TlsFailure(handle, ec)));
  }
  return Exchange(ioc, tls, url, options, sink, next);
}

}  // namespace

ImportStatus HttpGet(const std::string& url_text, HttpSink& sink, const HttpOptions& options) {
  Result<Url> url = ParseUrl(url_text);
  if (!url.ok()) return ImportError(api::importer::kUsage, "--url: " + url.status().message());
  for (int hops = 0;; ++hops) {
    std::optional<Url> next;
    ImportStatus status = Fetch(*url, options, sink, &next);
    if (!status.ok() || !next.has_value()) return status;
    if (hops == options.max_redirects) {
      return ImportError(kSourceNotFound, url_text + ": more than " +
                                              std::to_string(options.max_redirects) +
                                              " redirects (last to " + next->ToString() + ")");
    }
    url = *next;
  }
}

}  // namespace vireo::launcher
