// The domain's life under the launcher; see supervisor.h.
#include "launcher/supervisor.h"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "launcher/readiness.h"
#include "lib/api/launcher_pod.h"
#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using Clock = std::chrono::steady_clock;
using base::Code;
using base::Result;
using base::Status;
using enum api::launcher_pod::ExitCode;

// With no event for this long, the loop asks libvirt whether the domain is
// still active, in case an event was lost.
constexpr int kLivenessCheckMs = 5000;

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR2);
  return set;
}

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

}  // namespace

Result<int> TakeTerminationSignals() {
  sigset_t set = TerminationSignals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return Status(Code::kInternal, std::string("block signals: ") + std::strerror(errno));
  }
  int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return Status(Code::kInternal, std::string("signalfd: ") + std::strerror(errno));
  return fd;
}

int PendingSignal(int signal_fd) {
  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) return 0;
  return static_cast<int>(info.ssi_signo);
}

Result<std::unique_ptr<DomainSupervisor>> DomainSupervisor::Connect(Config config) {
  std::unique_ptr<DomainSupervisor> self(new DomainSupervisor(std::move(config)));
  self->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd_ < 0) {
    return Status(Code::kInternal, std::string("eventfd: ") + std::strerror(errno));
  }
  DomainSupervisor* raw = self.get();
  auto session = LibvirtSession::Open(self->config_.uri,
                                      [raw](const LifecycleEvent& event) { raw->Post(event); });
  if (!session.ok()) return session.status();
  self->session_ = std::move(*session);
  self->session_->DestroyLeftovers();
  return self;
}

DomainSupervisor::~DomainSupervisor() {
  Destroy("the launcher is exiting");
  // Should libvirt have failed to, the same process (same start time) is
  // killed here: QEMU must not survive the launcher.
  if (qemu_start_time_ != 0 && ProcessStartTime(qemu_pid_) == qemu_start_time_) {
    kill(qemu_pid_, SIGKILL);
  }
  if (domain_ != nullptr) virDomainFree(domain_);
  session_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void DomainSupervisor::Post(LifecycleEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = write(wake_fd_, &one, sizeof(one));
}

bool DomainSupervisor::DomainActive() {
  return domain_ != nullptr && virDomainIsActive(domain_) == 1;
}

bool DomainSupervisor::Destroy(const char* why) {
  if (!DomainActive()) return true;
  base::LogInfo("destroying the domain", {{"domain", domain_name_}, {"why", why}});
  if (virDomainDestroy(domain_) != 0 && DomainActive()) {
    base::LogError("cannot destroy the domain",
                   {{"domain", domain_name_}, {"error", LibvirtError("destroy")}});
    return false;
  }
  return true;
}

virConnectPtr DomainSupervisor::conn() const { return session_ ? session_->conn() : nullptr; }

Outcome DomainSupervisor::Run(const std::string& domain_name, const std::string& xml,
                              ConsoleRelay& relay) {
  domain_name_ = domain_name;
  if (int sig = PendingSignal(config_.signal_fd); sig != 0) {
    return {kExitTerminatedBeforeStart,
            std::string(strsignal(sig)) + " arrived before the domain started"};
  }
  auto started = Clock::now();
  domain_ = virDomainCreateXML(session_->conn(), xml.c_str(), 0);
  if (domain_ == nullptr) {
    std::string error = LibvirtError("start the domain");
    session_->DestroyLeftovers();
    return {kExitStartFailed, error};
  }
  auto pid = ReadLibvirtQemuPid(config_.qemu_pid_dir, domain_name_);
  if (!pid.ok()) {
    Destroy("its QEMU pid is unknown");
    return {kExitStartFailed, pid.status().message()};
  }
  qemu_pid_ = *pid;
  qemu_start_time_ = ProcessStartTime(qemu_pid_);
  if (config_.guardian != nullptr) config_.guardian->Watch(qemu_pid_);
  if (Status s = RecordQemuPid(config_.state.QemuPidFile(), qemu_pid_); !s.ok()) {
    base::LogWarn("cannot record QEMU's pid", {{"error", s.message()}});
  }
  auto since = [](Clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
  };
  base::LogInfo("QEMU started", {{"domain", domain_name_},
                                 {"pid", std::to_string(qemu_pid_)},
                                 {"createMs", since(started)},
                                 {"sinceLaunchMs", since(config_.launched)}});
  if (Status s = relay.Start(config_.state.SerialSocket()); !s.ok()) {
    // The guest still runs and its output still reaches the log file.
    base::LogError("the serial console is not relayed", {{"error", s.message()}});
  }
  Outcome outcome = Supervise();
  ClearReady(config_.state.ReadyFile());
  Destroy("the launcher is exiting");
  if (config_.guardian != nullptr) config_.guardian->Release();
  unlink(config_.state.QemuPidFile().c_str());
  return outcome;
}

Outcome DomainSupervisor::Supervise() {
  bool shutting_down = false;
  bool destroyed_by_us = false;
  int shutdown_detail = -1;  // of the last SHUTDOWN event: guest or host
  std::optional<int> qemu_status;
  // The grace period's end while an ACPI shutdown is pending; max(): none.
  Clock::time_point deadline = Clock::time_point::max();
  const int64_t grace = config_.grace_period_seconds;
  const std::string log_hint = " (guest console: " + config_.state.SerialLog() + ")";

  auto destroy_now = [&](const char* why) {
    destroyed_by_us = true;
    deadline = Clock::time_point::max();
    Destroy(why);
  };
  auto stopped = [&](int detail) -> Outcome {
    std::string qemu = qemu_status ? "; QEMU " + DescribeWaitStatus(*qemu_status) : "";
    switch (detail) {
      case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
        if (shutdown_detail == VIR_DOMAIN_EVENT_SHUTDOWN_HOST && !shutting_down) {
          return {kExitQemuEnded, "QEMU was stopped by a signal from outside the launcher" + qemu};
        }
        return {kExitGuestPoweredOff, shutting_down
                                          ? "the guest powered off after the ACPI power button"
                                          : "the guest powered itself off"};
      case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
        if (destroyed_by_us) {
          return {kExitGraceExpired,
                  grace == 0 ? "grace period is 0: the guest was destroyed without ACPI shutdown"
                             : "the guest did not power off within the grace period of " +
                                   std::to_string(grace) + " s and was destroyed"};
        }
        return {kExitQemuEnded, "the domain was destroyed outside the launcher" + qemu};
      case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
        return {kExitQemuEnded, "the guest crashed (panic) and was powered off" + log_hint};
      default:
        return {kExitQemuEnded, "QEMU ended unexpectedly (" +
                                    DescribeLifecycle(VIR_DOMAIN_EVENT_STOPPED, detail) + ")" +
                                    qemu + log_hint};
    }
  };

  for (;;) {
    int timeout_ms = kLivenessCheckMs;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms =
          static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout_ms, left.count())));
    }
    const int guardian_fd = config_.guardian != nullptr ? config_.guardian->fd() : -1;
    pollfd fds[3] = {
        {config_.signal_fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {guardian_fd, POLLIN, 0}};
    int n = poll(fds, 3, timeout_ms);
    if (n < 0 && errno != EINTR) {
      destroy_now("poll failed");
      return {kExitInternal, std::string("poll: ") + std::strerror(errno)};
    }

    const int sig = n > 0 && (fds[0].revents & POLLIN) ? PendingSignal(config_.signal_fd) : 0;
    if (sig == SIGUSR2) {
      // The guardian is gone: nobody would reap QEMU or kill it after us.
      destroy_now("the guardian process died");
      return {kExitInternal, "the launcher's guardian process died; the domain was destroyed"};
    }
    if (n > 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (auto status = config_.guardian->ReadQemuExit()) {
        qemu_status = *status;
        base::LogInfo("QEMU exited", {{"status", DescribeWaitStatus(*status)}});
      } else if (fds[2].revents & (POLLHUP | POLLERR)) {
        destroy_now("the guardian process closed its end");
        return {kExitInternal, "the launcher's guardian process died; the domain was destroyed"};
      }
    }
    if (sig != 0) {
      if (shutting_down) {
        base::LogInfo("already shutting down; waiting for the guest or the grace period");
      } else if (grace == 0) {
        shutting_down = true;
        destroy_now("terminated with a grace period of 0");
      } else {
        shutting_down = true;
        base::LogInfo("terminating: pressing the guest's ACPI power button",
                      {{"domain", domain_name_},
                       {"gracePeriodSeconds", grace < 0 ? "unbounded" : std::to_string(grace)}});
        if (virDomainShutdownFlags(domain_, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) != 0) {
          base::LogWarn("ACPI shutdown request failed; destroying",
                        {{"error", LibvirtError("shutdown")}});
          destroy_now("the ACPI shutdown request failed");
        } else if (grace > 0) {
          deadline = Clock::now() + std::chrono::seconds(grace);
        }  // else unbounded: whoever sent SIGTERM decides when to kill us
      }
    }

    if (n > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t ignored = read(wake_fd_, &count, sizeof(count));
      std::deque<LifecycleEvent> batch;
      {
        std::lock_guard<std::mutex> lock(mu_);
        batch.swap(events_);
      }
      for (const LifecycleEvent& h : batch) {
        if (h.domain != domain_name_) continue;
        const int event = h.event;
        base::LogInfo("domain lifecycle event",
                      {{"domain", domain_name_}, {"event", DescribeLifecycle(event, h.detail)}});
        if (event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_RESUMED) {
          // What libvirt allocated to parse capabilities and start QEMU is
          // garbage now; hand it back so the steady-state RSS stays small.
          malloc_trim(0);
          if (Status s = MarkReady(config_.state.ReadyFile(), getpid(), qemu_pid_); !s.ok()) {
            base::LogError("cannot mark the domain ready", {{"error", s.message()}});
          }
        } else if (event == VIR_DOMAIN_EVENT_SUSPENDED) {
          ClearReady(config_.state.ReadyFile());
        } else if (event == VIR_DOMAIN_EVENT_SHUTDOWN) {
          shutdown_detail = h.detail;
        } else if (event == VIR_DOMAIN_EVENT_STOPPED) {
          ClearReady(config_.state.ReadyFile());
          return stopped(h.detail);
        }
      }
    }

    if (deadline != Clock::time_point::max() && Clock::now() >= deadline) {
      base::LogWarn("the guest did not power off within the grace period",
                    {{"domain", domain_name_}, {"gracePeriodSeconds", std::to_string(grace)}});
      destroy_now("the grace period expired");
    }
    if (n == 0 && !DomainActive()) {
      // No STOPPED event came (lost, or libvirt failed): judge by what we saw.
      if (destroyed_by_us) return stopped(VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
      return {kExitQemuEnded,
              "the domain stopped without a lifecycle event" +
                  (qemu_status ? "; QEMU " + DescribeWaitStatus(*qemu_status) : "") + log_hint};
    }
  }
}

}  // namespace vireo::launcher
