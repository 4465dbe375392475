// The guardian process and the stale-QEMU check; see orphan_guard.h.
#include "launcher/orphan_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

Status Errno(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

sigset_t GuardianSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
  return set;
}

bool SendInt(int fd, int32_t value) {
  return fd >= 0 && send(fd, &value, sizeof(value), MSG_NOSIGNAL) == sizeof(value);
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  base::LogError("the launcher process died",
                 {{"signal", std::to_string(WTERMSIG(status))}, {"exitCode", "1"}});
  return 1;  // kExitInternal
}

// The guardian's whole life; see orphan_guard.h. Runs in the parent, which
// has no other thread.
[[noreturn]] void GuardianMain(pid_t launcher, int fd, int signal_fd,
                               const std::function<void()>& before_exit) {
  int pidfd = -1;
  pid_t qemu = 0;
  bool released = false;
  std::optional<int> launcher_status;
  while (!launcher_status) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    if (poll(fds, fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) break;
    signalfd_siginfo info{};
    while (read(signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      if (info.ssi_signo != SIGCHLD) kill(launcher, static_cast<int>(info.ssi_signo));
    }
    // Reap everything: the launcher, QEMU, and whatever else was reparented.
    int status = 0;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
      if (pid == launcher) {
        launcher_status = status;
      } else if (pid == qemu) {
        SendInt(fd, status);
        qemu = 0;
      }
    }
    if (fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      int32_t message = 0;
      ssize_t n = recv(fd, &message, sizeof(message), MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(sizeof(message))) {
        if (message == 0) {
          released = true;
        } else {
          released = false;
          qemu = message;
          if (pidfd >= 0) close(pidfd);
          // A pidfd names exactly this process: a recycled pid is never hit.
          pidfd = PidfdOpen(qemu);
        }
      } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(fd);
        fd = -1;
      }
    }
  }
  if (!released && qemu > 0) {
    base::LogError("the launcher died with QEMU running; killing QEMU",
                   {{"pid", std::to_string(qemu)}});
    if (pidfd >= 0) {
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    } else {
      kill(qemu, SIGKILL);
    }
    // QEMU was reparented here: reap it (bounded, it was SIGKILLed).
    for (int i = 0; i < 1000 && waitpid(qemu, nullptr, WNOHANG) == 0; ++i) usleep(10'000);
  }
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  if (before_exit) before_exit();
  _exit(ExitCodeOf(launcher_status.value_or(W_EXITCODE(1, 0))));
}

}  // namespace

Result<Guardian> Guardian::Fork(std::function<void()> before_exit) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return Errno("create the guardian's socket pair");
  }
  // Blocked before the fork, so that nothing sent to the guardian between
  // fork and its signalfd is lost.
  sigset_t set = GuardianSignals();
  sigset_t old;
  sigprocmask(SIG_BLOCK, &set, &old);
  const pid_t guardian = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return Errno("fork");
  }
  if (pid > 0) {
    close(fds[1]);
    // Orphans (QEMU, libvirt's probes) are reparented here, not to init.
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd < 0) {
      kill(pid, SIGKILL);
      _exit(1);
    }
    GuardianMain(pid, fds[0], signal_fd, before_exit);
  }
  close(fds[0]);
  // SIGCHLD back to normal; the termination signals stay blocked, for the
  // supervisor's signalfd: one forwarded this early must not kill us.
  sigset_t mask = old;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&mask, sig);
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  // If the guardian dies, SIGUSR2 tells the launcher to destroy the domain.
  prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
  if (getppid() != guardian) raise(SIGUSR2);
  return Guardian(fds[1]);
}

Guardian::Guardian(Guardian&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

Guardian& Guardian::operator=(Guardian&& other) noexcept {
  if (this != &other) {
    Release();
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Guardian::~Guardian() {
  Release();
  if (fd_ >= 0) close(fd_);
}

void Guardian::Watch(pid_t qemu) {
  if (!SendInt(fd_, qemu)) {
    base::LogWarn("cannot hand QEMU's pid to the guardian", {{"error", std::strerror(errno)}});
  }
}

void Guardian::Release() { SendInt(fd_, 0); }

std::optional<int> Guardian::ReadQemuExit() {
  int32_t status = 0;
  if (fd_ >= 0 && recv(fd_, &status, sizeof(status), MSG_DONTWAIT) == sizeof(status)) {
    return status;
  }
  return std::nullopt;
}

unsigned long long ProcessStartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  // The command name (field 2) may hold spaces; fields are counted after it.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

bool IsZombie(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

Status RecordQemuPid(const std::string& pid_file, pid_t qemu) {
  std::ofstream out(pid_file, std::ios::trunc);
  out << qemu << " " << ProcessStartTime(qemu) << "\n";
  out.close();
  if (!out) return Errno("write " + pid_file);
  return Status::Ok();
}

Result<bool> KillRecordedQemu(const std::string& pid_file) {
  std::ifstream in(pid_file);
  if (!in) return false;
  pid_t pid = 0;
  unsigned long long start_time = 0;
  in >> pid >> start_time;
  in.close();
  bool killed = false;
  if (pid > 0 && start_time != 0 && ProcessStartTime(pid) == start_time) {
    base::LogWarn("killing the QEMU an earlier launcher left running",
                  {{"pid", std::to_string(pid)}});
    if (kill(pid, SIGKILL) != 0 && errno != ESRCH) return Errno("kill stale QEMU");
    // Not our child: wait until it is gone, or a zombie (dead, waiting for
    // whoever inherited it to reap it).
    auto alive = [&] { return ProcessStartTime(pid) == start_time && !IsZombie(pid); };
    for (int i = 0; i < 500 && alive(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (alive()) {
      return Status(Code::kInternal, "stale QEMU " + std::to_string(pid) + " did not die");
    }
    killed = true;
  }
  unlink(pid_file.c_str());
  return killed;
}

Result<pid_t> ReadLibvirtQemuPid(const std::string& pid_dir, const std::string& domain) {
  std::string path = pid_dir + "/" + domain + ".pid";
  std::ifstream in(path);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return Status(Code::kNotFound, "no QEMU pid in " + path);
  }
  return pid;
}

}  // namespace vireo::launcher
