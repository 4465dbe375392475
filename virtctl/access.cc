// virtctl vnc, port-forward, ssh and scp; see access.h.
#include "virtctl/access.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

#include "lib/api/launcher_pod.h"
#include "virtctl/commands.h"
#include "virtctl/lookup.h"

extern char** environ;

namespace vireo::virtctl {

using base::Code;
using base::Status;
namespace contract = api::launcher_pod;

namespace {

// port-forward: connections served at once; more are refused, said on stderr.
constexpr int kMaxConnections = 64;

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string TargetName(const Options& options, const std::string& ns) {
  std::string kind = options.target.kind.empty() ? "vm" : options.target.kind;
  return kind + "/" + options.name + " in namespace " + ns;
}

// A listening TCP socket on address:port (port 0: any); the port it got.
base::Result<std::pair<int, int>> Listen(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = address + ":" + std::to_string(port);
  if (int rc = getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0) {
    return Status(Code::kBadRequest,
                  "cannot listen on " + where + ": " + gai_strerror(rc) + " (see --address)");
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 16) != 0) {
    int err = errno;
    freeaddrinfo(found);
    if (fd >= 0) close(fd);
    return Status(Code::kUnavailable, "cannot listen on " + where + ": " + std::strerror(err));
  }
  freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t size = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
  int got = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::make_pair(fd, got);
}

// The running launcher pod of the target, or the exit code and message.
struct Found {
  std::string pod;
  base::Json vmi;
  int exit_code = kExitOk;
  std::string message;
};

Found FindRunning(kube::Client& client, const Options& options, const std::string& ns) {
  Found found;
  auto launcher = LookUpLauncher(client, ns, options.name);
  if (!launcher.ok()) {
    found.exit_code = ExitCodeFor(launcher.status());
    found.message = launcher.status().message();
    return found;
  }
  if (launcher->pod.empty()) {
    found.exit_code = kExitNotRunning;
    found.message = TargetName(options, ns) + " is not running (" + launcher->state + ")";
    return found;
  }
  found.pod = launcher->pod;
  found.vmi = launcher->vmi;
  return found;
}

// Opens `vireo-launcher ARGS` in the target's launcher pod; `what` names the
// stream in messages.
base::Result<std::unique_ptr<ExecSession>> OpenLauncherStream(
    kube::Client& client, const Options& options, const std::string& ns, const std::string& pod,
    std::vector<std::string> args, const std::string& what) {
  ExecOptions exec_options;
  exec_options.keepalive = options.keepalive;
  exec_options.log_requests = options.verbosity >= 1;
  auto session = ExecSession::Open(client, LauncherExec(ns, pod, std::move(args)), exec_options);
  if (!session.ok()) return DiagnoseExec(client, ns, pod, session.status(), what);
  return session;
}

std::vector<std::string> ForwardArgs(int port) {
  return {contract::kForward, std::string("--") + contract::kFlagPort, std::to_string(port)};
}

// ssh expands %-tokens in ProxyCommand and UserKnownHostsFile: a literal %
// is %%.
std::string SshPercent(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

// scp reads "a:b" as host a; a local path with a ':' before any '/' gets
// "./" so it stays local.
std::string LocalScpPath(const std::string& path) {
  const size_t colon = path.find(':');
  return colon != std::string::npos && path.substr(0, colon).find('/') == std::string::npos
             ? "./" + path
             : path;
}

// What a program virtctl starts must not inherit: the apiserver's
// connections (the libraries open them without close-on-exec).
void CloseOnExec() {
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = 3; fd < 1024; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// The remote command's last words, one line.
std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

PumpResult Pump(ExecSession& session, int in_fd, int out_fd) {
  PumpResult result;
  std::string remote_stderr;
  bool input_open = true;
  char buffer[64 * 1024];
  for (;;) {
    pollfd fds[2] = {{session.event_fd(), POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      result = {false, std::string("poll: ") + std::strerror(errno)};
      break;
    }
    bool done = false;
    if (fds[0].revents & POLLIN) {
      for (auto& event : session.TakeEvents()) {
        switch (event.kind) {
          case ExecEvent::kStdout:
            if (!done && !WriteAll(out_fd, event.data)) done = true;  // the local side left
            break;
          case ExecEvent::kStderr:
            remote_stderr += event.data;
            break;
          case ExecEvent::kExit:
            if (!event.exit.success) {
              result = {false, remote_stderr.empty() ? event.exit.message : Trim(remote_stderr)};
            }
            done = true;
            break;
          case ExecEvent::kClosed:
            if (!event.clean && result.ok) result = {false, "the stream broke: " + event.data};
            done = true;
            break;
        }
      }
    }
    if (done) break;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(in_fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // v4 cannot tell the remote command its input ended: the session ends
        // with the input (a closed viewer or client must not leave it open).
        if (session.protocol() == Protocol::kV4) break;
        input_open = false;
        session.CloseStdin();
        continue;
      }
      if (Status s = session.SendStdin(std::string_view(buffer, static_cast<size_t>(n))); !s.ok()) {
        result = {false, s.message()};
        break;
      }
    }
  }
  session.Close();
  return result;
}

// ------------------------------------------------------------- port-forward

int RunPortForward(kube::Client& client, const Options& options, const std::string& ns) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "virtctl port-forward: %s\n", message.c_str());
    return code;
  };
  // A client gone (or stdout closed under --stdio) is a failed write, not
  // the end of virtctl.
  std::signal(SIGPIPE, SIG_IGN);
  Found found = FindRunning(client, options, ns);
  if (found.exit_code != kExitOk) return fail(found.message, found.exit_code);

  if (options.stdio) {
    const int port = options.ports.front().remote;
    auto session =
        OpenLauncherStream(client, options, ns, found.pod, ForwardArgs(port),
                           "port " + std::to_string(port) + " of pod " + ns + "/" + found.pod);
    if (!session.ok()) {
      return fail(session.status().message(),
                  session.status().code() == Code::kForbidden ? kExitForbidden : kExitConsole);
    }
    PumpResult result = Pump(**session, STDIN_FILENO, STDOUT_FILENO);
    if (!result.ok) return fail(TargetName(options, ns) + ": " + result.error, kExitConsole);
    return kExitOk;
  }

  struct Listener {
    int fd;
    int remote;
  };
  std::vector<Listener> listeners;
  for (const PortSpec& spec : options.ports) {
    auto listening = Listen(options.address, spec.local);
    if (!listening.ok()) {
      for (const Listener& l : listeners) close(l.fd);
      return fail(listening.status().message(), kExitFailure);
    }
    listeners.push_back({listening->first, spec.remote});
    std::printf("Forwarding from %s:%d -> %d\n", options.address.c_str(), listening->second,
                spec.remote);
  }
  std::fflush(stdout);

  // One thread per connection, at most kMaxConnections at once. The client
  // is safe to share (lib/kube/client.h). This loop never returns: an
  // interrupt ends the process, and so do the errors below (_exit, as the
  // connection threads still use what lives here).
  std::atomic<int> open_connections{0};
  auto fatal = [&fail](const std::string& message) {
    fail(message, kExitFailure);
    std::fflush(stderr);
    _exit(kExitFailure);
  };
  for (;;) {
    std::vector<pollfd> fds;
    for (const Listener& l : listeners) fds.push_back({l.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fatal(std::string("poll: ") + std::strerror(errno));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int conn = accept4(listeners[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          std::fprintf(stderr, "virtctl port-forward: cannot accept a connection: %s\n",
                       std::strerror(errno));
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        continue;
      }
      const int remote = listeners[i].remote;
      if (open_connections.load() >= kMaxConnections) {
        std::fprintf(stderr,
                     "virtctl port-forward: %d connections are open already; refusing one more "
                     "to port %d\n",
                     kMaxConnections, remote);
        close(conn);
        continue;
      }
      ++open_connections;
      auto serve = [&client, &options, &open_connections, ns, conn, remote] {
        std::string error;
        // The pod of now: the VM may have restarted since virtctl started.
        Found found = FindRunning(client, options, ns);
        if (found.exit_code != kExitOk) {
          error = found.message;
        } else {
          auto session = OpenLauncherStream(
              client, options, ns, found.pod, ForwardArgs(remote),
              "port " + std::to_string(remote) + " of pod " + ns + "/" + found.pod);
          if (!session.ok()) {
            error = session.status().message();
          } else if (PumpResult result = Pump(**session, conn, conn); !result.ok) {
            error = result.error;
          }
        }
        if (!error.empty()) {
          std::fprintf(stderr, "virtctl port-forward: a connection to port %d of %s: %s\n", remote,
                       TargetName(options, ns).c_str(), error.c_str());
        }
        shutdown(conn, SHUT_RDWR);
        close(conn);
        --open_connections;
      };
      try {
        std::thread(serve).detach();
      } catch (const std::system_error& e) {
        std::fprintf(stderr, "virtctl port-forward: cannot serve a connection: %s\n", e.what());
        close(conn);
        --open_connections;
      }
    }
  }
}

// ---------------------------------------------------------------------- vnc

namespace {

// Where a viewer on this machine reaches a proxy listening on `address`.
std::string ViewerHost(const std::string& address) {
  if (address.empty() || address == "0.0.0.0") return "127.0.0.1";
  if (address == "::") return "[::1]";
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// The first viewer found in PATH and its arguments for host:port.
std::optional<std::vector<std::string>> FindViewer(const std::string& host, int port) {
  const char* path = std::getenv("PATH");
  auto in_path = [&](const std::string& name) {
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    size_t start = 0;
    for (;;) {
      size_t colon = dirs.find(':', start);
      std::string dir = dirs.substr(start, colon - start);
      if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
      if (colon == std::string::npos) return false;
      start = colon + 1;
    }
  };
  if (in_path("remote-viewer")) {
    return std::vector<std::string>{"remote-viewer", "vnc://" + host + ":" + std::to_string(port)};
  }
  // TigerVNC and others: host::port names a port (host:N is display N).
  if (in_path("vncviewer")) {
    return std::vector<std::string>{"vncviewer", host + "::" + std::to_string(port)};
  }
  return std::nullopt;
}

}  // namespace

int RunVnc(kube::Client& client, const Options& options, const std::string& ns) {
  auto fail = [](const std::string& message, int code) {
    std::fprintf(stderr, "virtctl vnc: %s\n", message.c_str());
    return code;
  };
  std::signal(SIGPIPE, SIG_IGN);  // a viewer gone is a failed write, not the end of virtctl
  Found found = FindRunning(client, options, ns);
  if (found.exit_code != kExitOk) return fail(found.message, found.exit_code);
  if (base::GetBool(found.vmi, "spec.domain.devices.autoattachGraphicsDevice") == false) {
    return fail(TargetName(options, ns) +
                    " has no VNC display: its spec.domain.devices.autoattachGraphicsDevice is "
                    "false",
                kExitNotRunning);
  }
  auto listening = Listen(options.address, options.port.value_or(0));
  if (!listening.ok()) return fail(listening.status().message(), kExitFailure);
  const auto [listener, port] = *listening;

  pid_t viewer = -1;
  if (options.proxy_only) {
    std::printf("{\"port\":%d}\n", port);
    std::fflush(stdout);
  } else {
    const std::string host = ViewerHost(options.address);
    auto argv = FindViewer(host, port);
    if (!argv) {
      close(listener);
      return fail(
          "no VNC viewer found in PATH (remote-viewer or vncviewer); install one, or use "
          "--proxy-only and point any viewer at the port it prints",
          kExitFailure);
    }
    std::vector<char*> raw;
    for (std::string& arg : *argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    CloseOnExec();
    if (int rc = posix_spawnp(&viewer, raw[0], nullptr, nullptr, raw.data(), environ); rc != 0) {
      close(listener);
      return fail(std::string("cannot start ") + raw[0] + ": " + std::strerror(rc), kExitFailure);
    }
    std::fprintf(stderr, "virtctl vnc: %s is showing %s's display through %s:%d\n", raw[0],
                 options.name.c_str(), host.c_str(), port);
  }

  // One viewer connection, as KubeVirt's virtctl serves; a viewer that ends
  // before it connects ends virtctl too.
  int conn = -1;
  while (conn < 0) {
    pollfd fd = {listener, POLLIN, 0};
    int ready = poll(&fd, 1, viewer > 0 ? 500 : -1);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0 && viewer > 0 && waitpid(viewer, nullptr, WNOHANG) == viewer) {
      close(listener);
      return fail("the viewer ended before it connected", kExitFailure);
    }
  }
  close(listener);
  if (conn < 0) return fail(std::string("accept: ") + std::strerror(errno), kExitFailure);
  auto session = OpenLauncherStream(
      client, options, ns, found.pod,
      {contract::kVnc, std::string("--") + contract::kFlagStateDir, contract::kStateDir},
      "the VNC display of pod " + ns + "/" + found.pod);
  if (!session.ok()) {
    close(conn);
    if (viewer > 0) kill(viewer, SIGTERM);  // it would show a dead connection
    return fail(session.status().message(),
                session.status().code() == Code::kForbidden ? kExitForbidden : kExitConsole);
  }
  PumpResult result = Pump(**session, conn, conn);
  shutdown(conn, SHUT_RDWR);
  close(conn);
  // The viewer's window stays the user's to close: virtctl does not wait.
  if (!result.ok) return fail(TargetName(options, ns) + ": " + result.error, kExitConsole);
  return kExitOk;
}

// ---------------------------------------------------------------- ssh, scp

std::vector<std::string> OpenSshArgv(const Options& options, const std::string& ns,
                                     const std::string& self) {
  const bool ssh = options.command == Command::kSsh;
  const int port = options.port.value_or(22);
  Target target = options.target;
  target.namespace_name = ns;
  // The ProxyCommand: this virtctl, with the same kubeconfig and context.
  std::string proxy = ShellQuote(self) + " port-forward --stdio=true " +
                      ShellQuote(target.kind + "/" + target.name + "/" + ns) + " " +
                      std::to_string(port);
  if (!options.kubeconfig.empty()) proxy += " --kubeconfig " + ShellQuote(options.kubeconfig);
  if (!options.context.empty()) proxy += " --context " + ShellQuote(options.context);
  std::vector<std::string> argv = {ssh ? "ssh" : "scp", "-o", "ProxyCommand=" + SshPercent(proxy)};
  if (!options.known_hosts.empty()) {
    // ssh splits the value on spaces unless it is quoted.
    argv.insert(argv.end(),
                {"-o", "UserKnownHostsFile=\"" + SshPercent(options.known_hosts) + "\""});
  }
  if (!options.identity_file.empty()) argv.insert(argv.end(), {"-i", options.identity_file});
  if (!ssh && options.recursive) argv.push_back("-r");
  if (!ssh && options.preserve) argv.push_back("-p");
  argv.insert(argv.end(), options.ssh_options.begin(), options.ssh_options.end());
  const std::string user = !target.user.empty() ? target.user : options.username;
  const std::string host = (user.empty() ? "" : user + "@") + SshHost(target);
  if (ssh) {
    argv.push_back("--");  // a user or command starting with '-' is not an option
    argv.push_back(host);
    if (!options.remote_command.empty()) argv.push_back(options.remote_command);
    return argv;
  }
  argv.push_back("--");
  for (const ScpArgument* side : {&options.scp_from, &options.scp_to}) {
    argv.push_back(side->remote ? host + ":" + side->path : LocalScpPath(side->path));
  }
  return argv;
}

int RunSsh(kube::Client& client, const Options& options, const std::string& ns) {
  const char* name = options.command == Command::kSsh ? "ssh" : "scp";
  auto fail = [name](const std::string& message, int code) {
    std::fprintf(stderr, "virtctl %s: %s\n", name, message.c_str());
    return code;
  };
  // Said here in virtctl's words, before ssh would say "connection closed".
  Found found = FindRunning(client, options, ns);
  if (found.exit_code != kExitOk) return fail(found.message, found.exit_code);
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return fail(std::string("cannot find this virtctl: ") + std::strerror(errno), 1);
  std::vector<std::string> argv = OpenSshArgv(options, ns, std::string(self, n));
  if (options.verbosity >= 1) {
    std::string line;
    for (const std::string& arg : argv) line += (line.empty() ? "" : " ") + ShellQuote(arg);
    std::fprintf(stderr, "virtctl %s: running %s\n", name, line.c_str());
  }
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  std::fflush(stdout);
  CloseOnExec();
  execvp(raw[0], raw.data());
  return fail(std::string("cannot run ") + name + ": " + std::strerror(errno) +
                  " (virtctl uses the system's OpenSSH client)",
              kExitFailure);
}

}  // namespace vireo::virtctl
