// Running passt for the guest's network; see passt.h.
#include "launcher/passt.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "launcher/convert/context.h"
#include "lib/base/file_util.h"

extern char** environ;

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

// Descriptors passt keeps for itself and the guest's connections.
constexpr uint64_t kReservedDescriptors = 1024;

std::string ProtocolOf(const api::Port& port) {
  return port.protocol.empty() ? "TCP" : port.protocol;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : ",") + part;
  return out;
}

std::string Range(uint32_t first, uint32_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

// The lowest `count` ports outside `ephemeral`, as a passt port list.
std::string LowestPorts(uint64_t count, PortRange ephemeral) {
  std::vector<std::string> ranges;
  uint32_t next = 1;
  while (count > 0 && next <= 65535) {
    if (next >= ephemeral.first && next <= ephemeral.last) {
      next = ephemeral.last + 1;
      continue;
    }
    const uint32_t end = next < ephemeral.first ? ephemeral.first - 1 : 65535;
    const uint32_t last = static_cast<uint32_t>(std::min<uint64_t>(end, next + count - 1));
    ranges.push_back(Range(next, last));
    count -= last - next + 1;
    next = last + 1;
  }
  return ranges.empty() ? "none" : Join(ranges);
}

// The last lines of passt's output, for an error message.
std::string LogTail(const std::string& log_file) {
  auto text = base::ReadFile(log_file);
  if (!text.ok()) return "(no output)";
  std::vector<std::string> lines;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    // passt tries the system logger first; a pod has none.
    if (!line.empty() && line.find("to syslog") == std::string::npos) lines.push_back(line);
  }
  const size_t from = lines.size() > 4 ? lines.size() - 4 : 0;
  std::string tail;
  for (size_t i = from; i < lines.size(); ++i) tail += (tail.empty() ? "" : " | ") + lines[i];
  return tail.empty() ? "(no output)" : tail;
}

// What passt may open: the hard descriptor limit, which the launcher raises
// its own soft limit to so passt inherits it.
uint64_t RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
}

// passt drops root for "nobody" by itself; its socket and pid file are
// created after that, so their directory must be that user's.
Status PrepareDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, "create " + dir + ": " + ec.message());
  if (geteuid() == 0) {
    const passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr) {
      return Status(Code::kInternal,
                    "passt drops root for the user nobody, which does not exist in this image");
    }
    if (chown(dir.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
      return Status(Code::kInternal, "chown " + dir + ": " + std::strerror(errno));
    }
  }
  for (const char* stale : {"/passt.sock", "/passt.pid"}) std::filesystem::remove(dir + stale, ec);
  return Status::Ok();
}

bool PidFileWritten(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

}  // namespace

PortForwards PasstPortForwards(const std::vector<api::Port>& ports, uint64_t descriptors,
                               PortRange ephemeral) {
  PortForwards forwards;
  if (!ports.empty()) {
    std::vector<std::string> tcp, udp;
    for (const api::Port& port : ports) {
      (ProtocolOf(port) == "UDP" ? udp : tcp).push_back(std::to_string(port.port));
    }
    // An explicit "none": passt would otherwise forward UDP for every
    // forwarded TCP port number.
    forwards.tcp = tcp.empty() ? "none" : Join(tcp);
    forwards.udp = udp.empty() ? "none" : Join(udp);
    return forwards;
  }
  const uint64_t ephemeral_count =
      ephemeral.last >= ephemeral.first ? ephemeral.last - ephemeral.first + 1 : 0;
  const uint64_t per_protocol = 65535 - std::min<uint64_t>(ephemeral_count, 65535);
  const uint64_t budget =
      descriptors > kReservedDescriptors ? descriptors - kReservedDescriptors : 0;
  if (budget >= 2 * per_protocol) {
    forwards.tcp = forwards.udp = "all";
    return forwards;
  }
  forwards.tcp = forwards.udp = LowestPorts(budget / 2, ephemeral);
  forwards.limited = "the pod may open " + std::to_string(descriptors) +
                     " file descriptors (RLIMIT_NOFILE); forwarding every TCP and UDP port "
                     "takes one each, " +
                     std::to_string(2 * per_protocol + kReservedDescriptors) +
                     " in all, so only ports " + forwards.tcp +
                     " are forwarded (list the interface's ports, or raise the container "
                     "runtime's limit)";
  return forwards;
}

std::vector<std::string> PasstArgv(const PasstConfig& config) {
  return {config.binary, "--foreground",          "--socket",    config.socket_path,
          "--pid",       config.pid_file,         "--address",   kMasqueradeGuestAddress,
          "--netmask",   kMasqueradePrefixLength, "--gateway",   kMasqueradeGateway,
          "--tcp-ports", config.forwards.tcp,     "--udp-ports", config.forwards.udp};
}

Result<PortRange> EphemeralPorts(const std::string& proc_file) {
  std::ifstream in(proc_file);
  PortRange range;
  if (!(in >> range.first >> range.last) || range.first > range.last || range.last > 65535) {
    return Status(Code::kInternal, "read the ephemeral port range from " + proc_file);
  }
  return range;
}

Status CheckPortsFree(const std::vector<api::Port>& ports) {
  for (const api::Port& port : ports) {
    const bool udp = ProtocolOf(port) == "UDP";
    const int fd = ::socket(AF_INET6, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    const bool v6 = fd >= 0;
    const int sock =
        v6 ? fd : ::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (sock < 0) return Status(Code::kInternal, std::string("socket: ") + std::strerror(errno));
    int rc;
    if (v6) {
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(static_cast<uint16_t>(port.port));
      addr.sin6_addr = in6addr_any;
      rc = ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port.port));
      rc = ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    }
    const int err = errno;
    ::close(sock);
    if (rc != 0) {
      return Status(Code::kUnavailable,
                    "port " + std::to_string(port.port) + "/" + ProtocolOf(port) +
                        " of the interface is taken in the pod (" + std::strerror(err) +
                        "): another container of the pod listens on it");
    }
  }
  return Status::Ok();
}

Result<PasstProcess> PasstProcess::Start(const std::string& dir, const std::string& log_file,
                                         const std::vector<api::Port>& ports, std::string binary,
                                         int timeout_ms) {
  if (Status s = CheckPortsFree(ports); !s.ok()) return s;
  auto ephemeral = EphemeralPorts();
  if (!ephemeral.ok()) return ephemeral.status();
  if (Status s = PrepareDirectory(dir); !s.ok()) return s;

  PasstConfig config;
  config.binary = std::move(binary);
  config.socket_path = dir + "/passt.sock";
  config.pid_file = dir + "/passt.pid";
  config.forwards = PasstPortForwards(ports, RaiseDescriptorLimit(), *ephemeral);
  const std::vector<std::string> args = PasstArgv(config);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  // posix_spawnp: the image has passt on PATH; tests may name another one.
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Status(Code::kUnavailable, "start " + config.binary + " (the guest's network): " +
                                          std::strerror(rc) + " (the launcher image has passt)");
  }
  PasstProcess process;
  process.pid_ = pid;
  process.socket_path_ = config.socket_path;
  process.forwards_ = config.forwards;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!PidFileWritten(config.pid_file)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      std::string how = WIFEXITED(status)
                            ? "exited with " + std::to_string(WEXITSTATUS(status))
                            : "was killed by signal " + std::to_string(WTERMSIG(status));
      return Status(Code::kUnavailable, "passt (the guest's network) " + how +
                                            " before it served: " + LogTail(log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Code::kUnavailable, "passt (the guest's network) did not start within " +
                                            std::to_string(timeout_ms) +
                                            " ms: " + LogTail(log_file));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return process;
}

PasstProcess::PasstProcess(PasstProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      socket_path_(std::move(other.socket_path_)),
      forwards_(std::move(other.forwards_)) {}

PasstProcess& PasstProcess::operator=(PasstProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = std::exchange(other.pid_, -1);
    socket_path_ = std::move(other.socket_path_);
    forwards_ = std::move(other.forwards_);
  }
  return *this;
}

PasstProcess::~PasstProcess() { Stop(); }

void PasstProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  // passt ends at once on SIGTERM; SIGKILL after a second all the same.
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace vireo::launcher
