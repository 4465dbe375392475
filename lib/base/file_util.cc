// Whole-file reads and strict base64 (kubeconfig, service-account files,
// cloud-init data).
#include "lib/base/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vireo::base {

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kNotFound, std::strerror(errno));
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      return Status(Code::kInternal, std::strerror(saved));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (!clean.empty() && clean.back() == '=') ++padding;
  if (clean.size() >= 2 && clean[clean.size() - 2] == '=') ++padding;
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (size_t i = 0; i < clean.size(); i += 4) {
    bool last = i + 4 == clean.size();
    unsigned bits = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = clean[i + j];
      int v = value_of(c);
      if (v < 0) {
        // '=' only as the padding of the last group.
        if (c != '=' || !last || j < 4 - padding) return std::nullopt;
        v = 0;
      }
      bits = (bits << 6) | static_cast<unsigned>(v);
    }
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (!last || padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (!last || padding < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

std::string TrimSpace(std::string_view text) {
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(space);
  return std::string(text.substr(begin, end - begin + 1));
}

}  // namespace vireo::base
